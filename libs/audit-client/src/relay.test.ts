import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@gatehouse/core';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '@gatehouse/core';
import { AuditServiceClient, AuditServiceService, SERVICE_NAMES, auditEventV1, type auditV1 } from '@gatehouse/contracts';
import { createLogger, dial, unary } from '@gatehouse/service-kit';
import { startFakeService } from '@gatehouse/testing';
import { openSqlite, type SqliteStore } from '@gatehouse/storage';
import { AuditEmitter } from './emitter.js';
import { grpcAuditSender } from './grpc-sender.js';
import { outboxSqliteMigrations, SqliteOutboxRepository } from './index.js';
import { AuditRelay } from './relay.js';

const log = createLogger({ service: 'relay-test', level: 'silent' });
const { Service, Action, Outcome, ActorKind } = auditEventV1;
const event = (n: number) => ({
  service: Service.SERVICE_SECRETS,
  action: Action.ACTION_SECRETS_SECRET_PUT,
  outcome: Outcome.OUTCOME_SUCCESS,
  actor: { kind: ActorKind.ACTOR_KIND_SYSTEM, id: 'secrets', displayName: '' },
  details: { n: String(n) },
});

/**
 * A real gRPC AuditService whose Append is idempotent by event id, as the real one is; it can
 * be told to fail, or to store a batch and then lose the answer (the "double ship" case).
 */
async function fakeAudit() {
  const log_: auditEventV1.AuditEvent[] = [];
  const byId = new Map<string, number>();
  const received: string[] = [];
  const state = { mode: 'ok' as 'ok' | 'down' | 'lose-ack-once', appends: 0, delayMs: 0 };
  const server = await startFakeService({
    name: SERVICE_NAMES.audit,
    definition: AuditServiceService,
    handlers: {
      Append: unary<auditV1.AppendRequest, auditV1.AppendResponse>(async (req) => {
        state.appends += 1;
        if (state.delayMs > 0) await sleep(state.delayMs);
        if (state.mode === 'down') throw new UnavailableError('audit is down');
        const results = req.events.map((e) => {
          received.push(e.eventId);
          const seen = byId.get(e.eventId);
          if (seen !== undefined) return { eventId: e.eventId, sequence: seen, duplicate: true };
          log_.push(e);
          byId.set(e.eventId, log_.length - 1);
          return { eventId: e.eventId, sequence: log_.length - 1, duplicate: false };
        });
        if (state.mode === 'lose-ack-once') {
          state.mode = 'ok';
          throw new UnavailableError('connection lost after the write');
        }
        return { results };
      }),
    },
  });
  return { server, log: log_, received, state };
}

describe('audit relay against a real gRPC AuditService', () => {
  let audit: Awaited<ReturnType<typeof fakeAudit>>;
  let client: AuditServiceClient;
  let dir: string;
  let store: SqliteStore;
  let relay: AuditRelay | undefined;

  before(async () => {
    audit = await fakeAudit();
    client = dial(AuditServiceClient, audit.server.address, { mode: 'insecure-loopback' });
  });
  after(async () => {
    client.close();
    await audit.server.shutdown();
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    audit.state.mode = 'ok';
    audit.state.delayMs = 0;
  });
  const setup = (opts: { pollMs?: number } = {}) => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-'));
    store = openSqlite({ file: path.join(dir, 'svc.db'), migrations: outboxSqliteMigrations });
    const outbox = new SqliteOutboxRepository(store);
    relay = new AuditRelay({ outbox, send: grpcAuditSender(client), log, pollMs: opts.pollMs ?? 50, backoff: { initialMs: 20, maxMs: 200 } });
    const emitter = new AuditEmitter({ outbox, relay, source: 'secrets', confirmTimeoutMs: 1_500 });
    return { outbox, relay, emitter };
  };

  test('events staged in a state-change transaction ship after commit, and not if it rolls back', async () => {
    const { outbox, relay, emitter } = setup();
    const before = audit.log.length;
    const ids = await store.run(async (tx) => emitter.record(tx, event(1), event(2)));
    await assert.rejects(
      store.run(async (tx) => {
        await emitter.record(tx, event(3));
        throw new Error('state change failed');
      }),
      /state change failed/,
    );
    relay.start();
    for (let i = 0; i < 100 && (await outbox.countPending()) > 0; i++) await sleep(20);
    assert.equal(await outbox.countPending(), 0);
    const shipped = audit.log.slice(before);
    assert.deepEqual(shipped.map((e) => e.eventId), ids);
    assert.deepEqual(shipped.map((e) => e.details['n']), ['1', '2'], 'the rolled-back event never ships');
    const row = await outbox.get(ids[0] ?? '');
    assert.equal(row?.sequence, before);
  });

  test('an event audit would refuse is refused at record time, naming the field, and nothing is staged', async () => {
    const { outbox, emitter } = setup();
    const before = await outbox.countPending();
    const bad = { ...event(9), details: { phone: '+4915100000001' } };
    await assert.rejects(
      store.run(async (tx) => emitter.record(tx, event(8), bad)),
      (e: unknown) => e instanceof InvalidArgumentError && /details\["phone"\]: is sensitive/.test(e.message),
    );
    const tokenLike = { ...event(10), details: { note: 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhY2MtMSJ9.c2lnbmF0dXJl' } };
    await assert.rejects(store.run(async (tx) => emitter.record(tx, tokenLike)), /looks like a JWT/);
    assert.equal(await outbox.countPending(), before, 'the whole transaction rolled back: nothing to poison a batch');
  });

  test('a crash between write and ship loses nothing (SIGKILLed writer, then a new relay)', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-crash-'));
    const file = path.join(dir, 'svc.db');
    const script = path.join(import.meta.dirname, 'test-fixtures', 'write-then-die.ts');
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, file, '25'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, 'SIGKILL', `the writer died by SIGKILL (stderr: ${r.stderr})`);
    const written = JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as string[];
    assert.equal(written.length, 25);
    store = openSqlite({ file, migrations: outboxSqliteMigrations });
    const outbox = new SqliteOutboxRepository(store);
    assert.equal(await outbox.countPending(), 25, 'every committed event survived the crash');
    relay = new AuditRelay({ outbox, send: grpcAuditSender(client), log, pollMs: 20 });
    relay.start();
    for (let i = 0; i < 100 && (await outbox.countPending()) > 0; i++) await sleep(20);
    const got = new Set(audit.log.map((e) => e.eventId));
    assert.ok(written.every((id) => got.has(id)), 'all 25 reached audit');
  });

  test('a batch delivered but not acknowledged is shipped again and deduplicated by event id', async () => {
    const { outbox, relay, emitter } = setup();
    const ids = await store.run(async (tx) => emitter.record(tx, event(10), event(11), event(12)));
    audit.state.mode = 'lose-ack-once';
    const logBefore = audit.log.length;
    relay.start();
    for (let i = 0; i < 200 && (await outbox.countPending()) > 0; i++) await sleep(20);
    assert.equal(await outbox.countPending(), 0);
    for (const id of ids) assert.equal(audit.received.filter((x) => x === id).length, 2, `${id} was sent twice`);
    assert.equal(audit.log.length - logBefore, 3, 'but stored once');
    const row = await outbox.get(ids[1] ?? '');
    assert.equal(row?.sequence, logBefore + 1, 'the outbox records the original sequence');
    assert.ok((row?.attempts ?? 0) >= 1, 'the failed attempt was counted');
  });

  test('emitAndConfirm returns the audit sequence once acknowledged', async () => {
    const { relay, emitter } = setup({ pollMs: 5_000 });
    relay.start();
    const seq = await emitAndConfirmTimed(emitter);
    assert.equal(audit.log[seq.sequence]?.details['n'], '99');
    assert.ok(seq.ms < 1_000, `confirmed promptly (${seq.ms} ms), not at the next poll`);
  });

  test('emitAndConfirm fails closed when audit is down; the event stays queued and lands later as it was, followed by the onUnconfirmed outcome', async () => {
    const { outbox, relay, emitter } = setup();
    audit.state.mode = 'down';
    relay.start();
    const before = audit.log.length;
    const intent = { ...event(7), outcome: Outcome.OUTCOME_ATTEMPTED };
    let intentId = '';
    const onUnconfirmed = (id: string) => {
      intentId = id;
      return { ...event(8), outcome: Outcome.OUTCOME_ERROR, intentEventId: id };
    };
    await assert.rejects(emitter.emitAndConfirm(intent, { timeoutMs: 400, onUnconfirmed }), (err: unknown) => {
      assert.ok(err instanceof UnavailableError);
      assert.match((err as Error).message, /the secrets action was not performed/);
      return true;
    });
    assert.equal(await outbox.countPending(), 2, 'the intent and the outcome saying it was not performed wait in the outbox');
    assert.equal(audit.log.length, before);
    audit.state.mode = 'ok';
    relay.nudge();
    for (let i = 0; i < 100 && (await outbox.countPending()) > 0; i++) await sleep(20);
    assert.deepEqual(
      audit.log.slice(before).map((e) => [e.eventId, e.outcome, e.intentEventId]),
      [
        [intentId, Outcome.OUTCOME_ATTEMPTED, ''],
        [audit.log[before + 1]?.eventId, Outcome.OUTCOME_ERROR, intentId],
      ],
      'what lands says only what happened: attempted, then not performed',
    );
  });

  test('a confirmed event ships after everything recorded before it, and each carries the outbox causal counter', async () => {
    const { outbox, relay, emitter } = setup();
    audit.state.mode = 'down';
    relay.start();
    const before = audit.log.length;
    const queued = await store.run(async (tx) => emitter.record(tx, event(20), event(21)));
    emitter.nudge();
    await sleep(100); // at least one failed attempt: the queued events are in back-off
    audit.state.mode = 'ok';
    const confirmed = await emitter.emitAndConfirm({ ...event(22), outcome: Outcome.OUTCOME_ATTEMPTED });
    for (let i = 0; i < 100 && (await outbox.countPending()) > 0; i++) await sleep(20);
    const landed = audit.log.slice(before);
    assert.deepEqual(landed.map((e) => e.eventId), [...queued, confirmed.eventId], 'audit sequence follows the order the service recorded them');
    assert.equal(confirmed.sequence, before + 2);
    const counters = landed.map((e) => e.causalCounter);
    assert.ok(counters.every((c, i) => c > 0 && (i === 0 || c === counters[i - 1]! + 1)), `causal counters ${counters.join(', ')}`);
  });

  test('confirmations waiting at the same moment share one Append (issue 14 item 3); each still fails closed on its own', async () => {
    const { relay, emitter } = setup({ pollMs: 5_000 });
    relay.start();
    audit.state.delayMs = 30; // a real round trip: confirmations pile up while one Append is in flight
    const appends0 = audit.state.appends;
    const confirmed = await Promise.all(Array.from({ length: 50 }, (_, i) => emitter.emitAndConfirm({ ...event(300 + i), outcome: Outcome.OUTCOME_ATTEMPTED })));
    const appends = audit.state.appends - appends0;
    assert.equal(new Set(confirmed.map((c) => c.sequence)).size, 50, 'each action got its own sequence');
    assert.ok(appends <= 5, `50 concurrent confirmations took ${appends} Append calls; expected a handful`);
    console.log(`batched confirmations: 50 concurrent emitAndConfirm → ${appends} Append calls`);

    audit.state.mode = 'down';
    const refused = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => emitter.emitAndConfirm({ ...event(400 + i), outcome: Outcome.OUTCOME_ATTEMPTED })));
    assert.ok(
      refused.every((r) => r.status === 'rejected' && r.reason instanceof UnavailableError),
      'every action whose event audit did not confirm is refused UNAVAILABLE',
    );
  });

  test("a confirmation is audit's acknowledgement: it does not wait for the outbox's own mark, and a mark that fails neither un-confirms nor duplicates the event", async () => {
    const { outbox, relay, emitter } = setup({ pollMs: 50 });
    const markShipped = outbox.markShipped.bind(outbox);
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let marks = 0;
    outbox.markShipped = async (acks, at) => {
      marks += 1;
      if (marks === 1) {
        await held; // the first mark hangs (a slow disk) ...
        throw new Error('disk full'); // ... and then fails
      }
      return markShipped(acks, at);
    };
    relay.start();
    const logBefore = audit.log.length;
    const confirmed = await Promise.race([emitter.emitAndConfirm(event(500)).catch((e: unknown) => e), sleep(1_000).then(() => 'timed out' as const)]);
    release(); // whatever happened, so the relay can stop
    assert.equal(typeof (confirmed as { sequence?: unknown }).sequence, 'number', `the action went on once audit acknowledged, while the mark still hung (got ${String(confirmed)})`);
    assert.equal(audit.log.length, logBefore + 1);
    // The failed mark leaves the row queued: the relay ships it again, audit dedups it by id.
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline && (await outbox.pending(10, new Date(Date.now() + 3_600_000))).length > 0) await sleep(20);
    assert.equal((await outbox.pending(10, new Date(Date.now() + 3_600_000))).length, 0, 'the row is marked shipped on a later round');
    assert.equal(audit.log.length, logBefore + 1, 'audit holds the event once');
    assert.ok(marks >= 2);
  });

  test('retries back off exponentially while audit is down', async () => {
    const { outbox, relay, emitter } = setup();
    audit.state.mode = 'down';
    await store.run(async (tx) => emitter.record(tx, event(5)));
    relay.start();
    await sleep(600);
    const [row] = await outbox.pending(10, new Date(Date.now() + 3_600_000));
    // With 20 ms doubling to a 200 ms cap, 600 ms allows only a handful of attempts, not ~30 polls.
    assert.ok(row && row.attempts >= 2 && row.attempts <= 8, `attempts ${row?.attempts}`);
    assert.match(row?.lastError ?? '', /audit is down/);
    assert.ok(relay.delayAfter(1) <= 20 && relay.delayAfter(10) <= 200 && relay.delayAfter(10) >= 100);
  });
});

async function emitAndConfirmTimed(emitter: AuditEmitter) {
  const t0 = performance.now();
  const { sequence } = await emitter.emitAndConfirm(event(99));
  return { sequence, ms: performance.now() - t0 };
}
