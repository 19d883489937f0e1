import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, auditV1 } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { append, event, startAudit, type AuditHarness } from './test-support/harness.js';

const { Action, Outcome, ActorKind } = auditEventV1;

/**
 * Issue 13 items 6 and 9 at the real audit service: an event's own time (occurred_at), its
 * service's causal counter and the intent an outcome concludes survive Append and come back
 * from Query, also when audit appended them out of causal order.
 */
describe('AuditService keeps when an event happened and in which order its service recorded it', () => {
  let h: AuditHarness;
  before(async () => {
    h = await startAudit({});
  });
  after(async () => {
    await h?.stop();
  });

  test('Query returns occurred_at, causal_counter and intent_event_id as the emitter sent them, whatever the append order', async () => {
    const c = await h.client('identity');
    const actor = `acc-times-${Date.now()}`;
    const who = { kind: ActorKind.ACTOR_KIND_EMPLOYEE, id: actor, displayName: '' };
    const t0 = new Date(Date.now() - 60_000);
    const earlier = event({ actor: who, action: Action.ACTION_IDENTITY_ACCOUNT_REQUEST, occurredAt: t0, causalCounter: 41 });
    const intent = event({ actor: who, action: Action.ACTION_IDENTITY_ACCOUNT_APPROVE, outcome: Outcome.OUTCOME_ATTEMPTED, occurredAt: new Date(t0.getTime() + 1_000), causalCounter: 42 });
    const outcome = event({
      actor: who,
      action: Action.ACTION_IDENTITY_ACCOUNT_APPROVE,
      outcome: Outcome.OUTCOME_SUCCESS,
      occurredAt: new Date(t0.getTime() + 1_005),
      causalCounter: 43,
      intentEventId: intent.eventId,
    });
    // The earlier event was held in an outbox: audit appends it last.
    await append(c, [intent, outcome]);
    await append(c, [earlier]);

    const cli = await h.client('cli');
    const res = await call(cli, cli.query, auditV1.QueryRequest.fromPartial({ filter: { actorId: actor } }), { bearer: h.sessions.token({ roles: ['security_officer'] }) });
    const got = res.entries.map((e) => [e.event?.eventId, e.event?.occurredAt?.getTime(), e.event?.causalCounter, e.event?.intentEventId]);
    assert.deepEqual(got, [
      [intent.eventId, t0.getTime() + 1_000, 42, ''],
      [outcome.eventId, t0.getTime() + 1_005, 43, intent.eventId],
      [earlier.eventId, t0.getTime(), 41, ''],
    ]);
    const bySequence = res.entries.map((e) => e.sequence);
    assert.ok(bySequence[2]! > bySequence[0]!, 'sequence is the append order');
    const causal = [...res.entries].sort((a, b) => (a.event?.causalCounter ?? 0) - (b.event?.causalCounter ?? 0)).map((e) => e.event?.eventId);
    assert.deepEqual(causal, [earlier.eventId, intent.eventId, outcome.eventId], 'the causal counter restores the order the service acted in');
  });

  test('an outcome may not be an intent, and intent_event_id must look like an event id', async () => {
    const c = await h.client('identity');
    const bad = [
      [event({ outcome: Outcome.OUTCOME_ATTEMPTED, intentEventId: 'evt-12345678' }), /intent_event_id: an intent .* links to no other intent/],
      [event({ intentEventId: 'x' }), /intent_event_id: must be 8 to 128 characters/],
    ] as const;
    for (const [e, why] of bad) {
      await assert.rejects(append(c, [e]), (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && why.test(err.details));
    }
  });
});
