import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '@gatehouse/core';
import { auditEventV1, auditV1 } from '@gatehouse/contracts';
import { AuditEmitter, AuditRelay, grpcAuditSender, outboxSqliteMigrations, SqliteOutboxRepository } from '@gatehouse/audit-client';
import { call, createLogger } from '@gatehouse/service-kit';
import { openSqlite, type SqliteStore } from '@gatehouse/storage';
import { startAudit, type AuditHarness } from './test-support/harness.js';

const DOWNTIME_MS = Number(process.env['GATEHOUSE_TEST_AUDIT_DOWNTIME_MS'] ?? 30_000);

let h: AuditHarness;
let store: SqliteStore;
before(async () => {
  // A port outside the ephemeral range: while audit is down, no other test's port-0 server can
  // be handed the port it comes back on.
  h = await startAudit({ GATEHOUSE_PORT: String(20_000 + Math.floor(Math.random() * 10_000)) });
});
after(async () => {
  await store?.close();
  await h?.stop();
});

/**
 * A service (here: identity's certificate, its real outbox, relay and emitter) against the real
 * audit service, which goes down for 30 s in the middle.
 */
test('outbox end to end: with audit down 30 s a critical action fails closed, queued events arrive after recovery, audit count = action count', { timeout: DOWNTIME_MS + 60_000 }, async () => {
  const client = await h.client('identity');
  store = openSqlite({ file: path.join(h.dir, 'identity-outbox.db'), migrations: outboxSqliteMigrations });
  const outbox = new SqliteOutboxRepository(store);
  const sender = grpcAuditSender(client, 2_000);
  const relay = new AuditRelay({ outbox, send: sender, log: createLogger({ service: 'identity', level: 'silent' }), pollMs: 200, backoff: { initialMs: 100, maxMs: 2_000 } });
  const emitter = new AuditEmitter({ outbox, relay, source: 'identity', confirmTimeoutMs: 2_000 });
  relay.start();
  const actor = `acc-outbox-${Date.now()}`;
  const ev = (action: auditEventV1.Action) => ({
    service: auditEventV1.Service.SERVICE_IDENTITY,
    action,
    outcome: auditEventV1.Outcome.OUTCOME_SUCCESS,
    actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_EMPLOYEE, id: actor, displayName: '' },
  });
  let performed = 0;
  const normalAction = async () => {
    await store.run(async (tx) => emitter.record(tx, ev(auditEventV1.Action.ACTION_IDENTITY_SESSION_ISSUE)));
    performed += 1;
  };
  const criticalAction = async () => {
    // A confirmed intent first (it stays queued if unconfirmed, and then reads only "attempted"), the outcome after the action.
    const intent = await emitter.emitAndConfirm({ ...ev(auditEventV1.Action.ACTION_IDENTITY_ROLES_SET), outcome: auditEventV1.Outcome.OUTCOME_ATTEMPTED });
    performed += 1; // the action happens only after audit confirmed
    await store.run(async (tx) => emitter.record(tx, { ...ev(auditEventV1.Action.ACTION_IDENTITY_ROLES_SET), intentEventId: intent.eventId }));
    emitter.nudge();
  };

  for (let i = 0; i < 5; i++) await normalAction();
  await criticalAction();

  await h.down();
  const downAt = Date.now();
  for (let i = 0; i < 10; i++) await normalAction();
  await assert.rejects(criticalAction(), (err: unknown) => {
    assert.ok(err instanceof UnavailableError);
    assert.match((err as Error).message, /the identity action was not performed/);
    return true;
  });
  assert.ok((await outbox.countPending()) >= 10, 'normal events wait in the outbox');
  await sleep(Math.max(0, DOWNTIME_MS - (Date.now() - downAt)));
  await h.up();
  const drained = async () => {
    const deadline = Date.now() + 30_000;
    while ((await outbox.countPending()) > 0 && Date.now() < deadline) await sleep(100);
    assert.equal(await outbox.countPending(), 0, 'the outbox drained after recovery');
  };
  await drained();
  await criticalAction();
  for (let i = 0; i < 3; i++) await normalAction();
  await drained();
  await relay.stop();

  const cli = await h.client('cli');
  const res = await call(cli, cli.query, auditV1.QueryRequest.fromPartial({ filter: { actorId: actor }, pageSize: 1000 }), {
    bearer: h.sessions.token({ roles: ['security_officer'] }),
  });
  assert.equal(performed, 5 + 1 + 10 + 1 + 3);
  const outcomes = res.entries.filter((e) => e.event?.outcome !== auditEventV1.Outcome.OUTCOME_ATTEMPTED);
  const intents = res.entries.filter((e) => e.event?.outcome === auditEventV1.Outcome.OUTCOME_ATTEMPTED);
  assert.equal(outcomes.length, performed, 'audit holds exactly one outcome event per action performed');
  assert.equal(intents.length, 3, 'three critical attempts: two confirmed, one that failed closed and landed late as "attempted"');
  const concluded = new Set(outcomes.map((e) => e.event?.intentEventId).filter(Boolean));
  assert.equal(concluded.size, 2, 'only the performed critical actions have an outcome');
  const seqs = res.entries.map((e) => e.sequence);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
});
