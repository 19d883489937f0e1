import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { auditEventV1, auditV1, AuditServiceService } from '@gatehouse/contracts';
import { useFakeService } from './test-support/fake-service.js';

const { Service, Action, Outcome, ActorKind, SubjectKind } = auditEventV1;
const SESSION_TOKEN = 'eyJhbGciOiJFZERTQSJ9.c2Vzc2lvbi1jYW5hcnk.c2lnbmF0dXJlLWNhbmFyeQ';
const T0 = Date.UTC(2026, 11, 7, 5, 0, 0);

const entry = (sequence: number, occurredMs: number, counter: number, action: auditEventV1.Action, outcome: auditEventV1.Outcome, intentEventId = '') =>
  auditV1.LogEntry.fromPartial({
    sequence,
    appendedAt: new Date(T0 + 60_000 + sequence),
    submittedBy: 'service:secrets',
    event: {
      eventId: `evt-${counter}-0000`,
      occurredAt: new Date(occurredMs),
      service: Service.SERVICE_SECRETS,
      action,
      outcome,
      actor: { kind: ActorKind.ACTOR_KIND_SERVICE, id: 'backend:deployer', displayName: '' },
      subject: { kind: SubjectKind.SUBJECT_KIND_RELEASE, id: 'rel_abcdefghijklmnop', displayName: '' },
      causalCounter: counter,
      intentEventId,
    },
  });

/** Issue 13 item 9: `audit query` and `audit tail` print when an event happened, labelled, next to its sequence. */
describe('gatehouse audit query/tail: an event\'s own time and causal counter', () => {
  // Audit appended the REDEEM (confirmed at once) before the CREATE that a backed-off outbox held.
  const entries = [
    entry(3, T0 + 2_000, 12, Action.ACTION_SECRETS_RELEASE_REDEEM, Outcome.OUTCOME_ATTEMPTED),
    entry(4, T0 + 2_010, 13, Action.ACTION_SECRETS_RELEASE_REDEEM, Outcome.OUTCOME_SUCCESS, 'evt-12-0000'),
    entry(5, T0, 11, Action.ACTION_SECRETS_RELEASE_CREATE, Outcome.OUTCOME_SUCCESS),
  ];
  const bench = useFakeService({
    service: 'audit',
    definition: AuditServiceService,
    sessionToken: SESSION_TOKEN,
    canaries: [SESSION_TOKEN],
    defaults: () => ({
      Query: () => auditV1.QueryResponse.fromPartial({ entries, treeSize: 6 }),
    }),
  });

  test('each line shows the sequence, then occurred=<event time>, appended=<append time> and causal=<service>:<counter>; an outcome names its intent', async () => {
    const r = await bench.gatehouse(['audit', 'query', '--subject', 'rel_abcdefghijklmnop']);
    assert.equal(r.code, 0, r.all());
    const lines = r.out.filter((l) => l.startsWith('#'));
    assert.equal(lines.length, 3, r.all());
    assert.match(lines[0]!, /^#3 {2}occurred=2026-12-07T05:00:02\.000Z {2}appended=2026-12-07T05:01:00\.003Z {2}causal=secrets:12 {2}secrets_release_redeem {2}attempted /);
    assert.match(lines[1]!, /^#4 {2}occurred=2026-12-07T05:00:02\.010Z .* causal=secrets:13 {2}secrets_release_redeem {2}success .*intent=evt-12-0000/);
    assert.match(lines[2]!, /^#5 {2}occurred=2026-12-07T05:00:00\.000Z .* causal=secrets:11 {2}secrets_release_create {2}success/);
    bench.assertNoSecrets(r.all());
  });
});
