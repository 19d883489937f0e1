import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, auditV1 } from '@gatehouse/contracts';
import { verifyConsistency, verifyInclusion, leafHash } from '@gatehouse/merkle';
import { call, stream } from '@gatehouse/service-kit';
import { findMongo } from '@gatehouse/testing';
import { append, event, startAudit, type AuditHarness } from './test-support/harness.js';

const { Service, Action, Outcome } = auditEventV1;
const bearer = (h: AuditHarness, roles: Parameters<AuditHarness['sessions']['token']>[0]['roles']) => h.sessions.token({ roles });

for (const backend of ['sqlite', 'mongodb'] as const) describe(`AuditService over mTLS (${backend})`, () => {
  let h: AuditHarness;
  let skipped: string | undefined;
  before(async () => {
    const env: Record<string, string> = {
      GATEHOUSE_AUDIT_CHECKPOINT_EVERY: '50',
      GATEHOUSE_AUDIT_ALERT_RULES: JSON.stringify({ 'otp.failures_per_account': { threshold: 3, windowMs: 60_000 } }),
    };
    if (backend === 'mongodb') {
      const mongo = await findMongo();
      if ('skipped' in mongo) {
        skipped = mongo.skipped;
        return;
      }
      Object.assign(env, { GATEHOUSE_STORE: 'mongodb', MONGO_URL: mongo.url });
    }
    h = await startAudit(env);
  });
  after(async () => {
    await h?.stop();
  });
  const test = (name: string, fn: () => Promise<void>) =>
    it(name, async (t) => {
      if (skipped) {
        t.skip(`no MongoDB: ${skipped}`);
        return;
      }
      await fn();
    });

  test('Append is idempotent by event id: a retry returns the same sequences and adds nothing', async () => {
    const c = await h.client('identity');
    const batch = [event(), event(), event()];
    const first = await append(c, batch);
    const again = await append(c, batch);
    assert.deepEqual(
      again.results.map((r) => [r.eventId, r.sequence, r.duplicate]),
      first.results.map((r) => [r.eventId, r.sequence, true]),
    );
    const cp = await call(c, c.getCheckpoint, { fresh: true });
    assert.equal(cp.checkpoint?.treeSize, first.results[2]!.sequence + 1, 'nothing was added by the retry');
    const changed = { ...batch[0]!, outcome: Outcome.OUTCOME_FAILURE };
    await assert.rejects(append(c, [changed]), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.ALREADY_EXISTS);
      assert.match(err.details, /already in the log .* with different content/);
      return true;
    });
  });

  test('20 concurrent appenders get a gap-free sequence, each batch in order', async () => {
    const c = await h.client('identity');
    const start = (await call(c, c.getCheckpoint, { fresh: true })).checkpoint!.treeSize;
    const results = await Promise.all(Array.from({ length: 20 }, () => append(c, [event(), event(), event(), event(), event()])));
    const seqs = results.flatMap((r) => r.results.map((x) => x.sequence)).sort((a, b) => a - b);
    assert.deepEqual(seqs, Array.from({ length: 100 }, (_, i) => start + i));
    for (const r of results) {
      const s = r.results.map((x) => x.sequence);
      assert.deepEqual(s, [s[0]!, s[0]! + 1, s[0]! + 2, s[0]! + 3, s[0]! + 4], 'a batch is appended contiguously, in order');
    }
  });

  test('hostile input is refused whole with INVALID_ARGUMENT naming the event and field, and the log is unchanged', async () => {
    const c = await h.client('identity');
    const size = async () => (await call(c, c.getCheckpoint, { fresh: true })).checkpoint!.treeSize;
    const before = await size();
    const cases: Array<[string, auditEventV1.AuditEvent[], RegExp]> = [
      ['unknown enum', [event(), event({ action: 9999 as auditEventV1.Action })], /events\[1\] \(evt-[^)]+\)\.action: unknown value "UNRECOGNIZED"/],
      ['action of another service', [event({ action: Action.ACTION_SECRETS_RELEASE_CREATE })], /events\[0\].*\.action: ACTION_SECRETS_RELEASE_CREATE does not belong to SERVICE_IDENTITY/],
      ['malformed IP', [event({ sourceIp: '010.1.1.1' })], /events\[0\].*\.source_ip: .* is not a canonical IPv4 or IPv6/],
      ['operator-like string id', [event({ eventId: '{"$ne":null}' })], /events\[0\]\.event_id: must be 8 to 128 characters/],
      ['JWT in details', [event({ details: { note: 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhY2MtMSJ9.c2lnbmF0dXJl' } })], /details\["note"\]: refused: looks like a JWT/],
      ['OTP code key', [event({ details: { code: '123456' } })], /details\["code"\]: refused: secrets/],
      ['raw token', [event({ details: { ref: 'Zx9Qp2Lm7Vb4Nc8Rt1Yw6Hs3Kd5Fg0JaUe2Io9Pz' } })], /refused: looks like a raw secret or token/],
      ['future time', [event({ occurredAt: new Date(Date.now() + 3_600_000) })], /occurred_at: is more than 5 minutes in the future/],
      ['too many details', [event({ details: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'])) })], /at most 32 entries/],
      ['empty batch', [], /events: at least one event is required/],
    ];
    for (const [name, events, message] of cases) {
      await assert.rejects(append(c, events), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${name}: ${err.details}`);
        assert.match(err.details, message, name);
        return true;
      });
    }
    const big = Array.from({ length: 500 }, () => event({ details: { blob: 'x'.repeat(510), more: 'y'.repeat(510), and: 'z'.repeat(510), yet: 'w'.repeat(510) } }));
    await assert.rejects(append(c, big), (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /at most 1048576/.test(err.details));
    assert.equal(await size(), before, 'no refused batch changed the log');
  });

  test('an event must carry its caller\'s own Service (certificate identity)', async () => {
    const backend = await h.client('dev-backend');
    await assert.rejects(append(backend, [event()]), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.match(err.details, /backend:dev-backend may not append events of SERVICE_IDENTITY/);
      return true;
    });
    const ok = await append(backend, [event({ service: Service.SERVICE_PRODUCT_BACKEND, action: Action.ACTION_PRODUCT_BACKEND_OTHER, details: { event: 'export_csv' } })]);
    assert.equal(ok.results.length, 1);
  });

  test('hashed_details are stored only in HMAC form, and HashValue (officer only) finds them', async () => {
    const c = await h.client('identity');
    const r = await append(c, [event({ hashedDetails: { phone_number: '+33612345678' } })]);
    const seq = r.results[0]!.sequence;
    const cli = await h.client('cli');
    const page = await call(cli, cli.query, auditV1.QueryRequest.fromPartial({ fromSequence: seq, toSequence: seq + 1 }), { bearer: bearer(h, ['manager']) });
    const stored = page.entries[0]!.event!.hashedDetails['phone_number']!;
    assert.match(stored, /^hmac-sha256:[0-9a-f]{64}$/);
    assert.ok(!Buffer.from(page.entries[0]!.leafInput).toString('latin1').includes('+33612345678'), 'the clear value is not in the leaf');
    await assert.rejects(call(cli, cli.hashValue, { value: '+33612345678' }, { bearer: bearer(h, ['manager']) }), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED);
    const hv = await call(cli, cli.hashValue, { value: '+33612345678' }, { bearer: bearer(h, ['security_officer']) });
    assert.equal(hv.hashedValue, stored);
  });

  test('Query filters by typed values ($ne is just a string), pages by cursor in sequence order, and needs a reader', async () => {
    const c = await h.client('identity');
    const actor = `acc-q-${Date.now()}`;
    const mine = await append(c, Array.from({ length: 7 }, () => event({ actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_EMPLOYEE, id: actor, displayName: '' } })));
    const cli = await h.client('cli');
    const token = bearer(h, ['security_officer']);
    const req = (pageToken = '') => auditV1.QueryRequest.fromPartial({ filter: { actorId: actor }, pageSize: 3, pageToken });
    const p1 = await call(cli, cli.query, req(), { bearer: token });
    const p2 = await call(cli, cli.query, req(p1.nextPageToken), { bearer: token });
    const p3 = await call(cli, cli.query, req(p2.nextPageToken), { bearer: token });
    assert.deepEqual([...p1.entries, ...p2.entries, ...p3.entries].map((e) => e.sequence), mine.results.map((r) => r.sequence));
    assert.equal(p3.nextPageToken, '');
    const injected = await call(cli, cli.query, auditV1.QueryRequest.fromPartial({ filter: { actorId: '{"$ne":null}' } }), { bearer: token });
    assert.equal(injected.entries.length, 0);
    await assert.rejects(call(cli, cli.query, req(), { bearer: bearer(h, ['developer']) }), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED);
    await assert.rejects(call(cli, cli.query, req()), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED && /a session is required/i.test(e.details));
    const shipper = await h.client('shipper');
    assert.equal((await call(shipper, shipper.query, req())).entries.length, 3, 'a configured reader backend needs no session');
    await assert.rejects(call(cli, cli.query, req('bm90LWEtdG9rZW4'), { bearer: token }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /page_token/.test(e.details));
  });

  test('inclusion and consistency proofs verify against a signed checkpoint, and fail for a wrong leaf', async () => {
    const c = await h.client('identity');
    const first = await call(c, c.getCheckpoint, { fresh: true });
    await append(c, [event(), event(), event()]);
    const cp = (await call(c, c.getCheckpoint, { fresh: true })).checkpoint!;
    const size = cp.treeSize;
    for (const seq of [0, Math.floor(size / 2), size - 1]) {
      const p = await call(c, c.getInclusionProof, { sequence: seq, treeSize: size });
      assert.ok(verifyInclusion(p.leafHash, seq, size, p.auditPath, cp.rootHash), `inclusion of ${seq}`);
      assert.equal(verifyInclusion(leafHash(Buffer.from('forged')), seq, size, p.auditPath, cp.rootHash), false, 'a wrong leaf fails');
    }
    const m = first.checkpoint!.treeSize;
    const cons = await call(c, c.getConsistencyProof, { firstTreeSize: m, secondTreeSize: size });
    assert.ok(verifyConsistency(m, size, cons.proof, first.checkpoint!.rootHash, cp.rootHash));
    assert.equal(verifyConsistency(m, size, cons.proof, leafHash(Buffer.from('x')), cp.rootHash), false);
    await assert.rejects(call(c, c.getInclusionProof, { sequence: size, treeSize: size }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
  });

  test('an alert rule fires within 1 s of the completing event, once per window; only the officer acknowledges, with a note', async () => {
    const c = await h.client('identity');
    const cli = await h.client('cli');
    const manager = bearer(h, ['manager']);
    const account = `acc-alert-${backend}-${Date.now()}`;
    const failure = () =>
      event({ outcome: Outcome.OUTCOME_FAILURE, subject: { kind: auditEventV1.SubjectKind.SUBJECT_KIND_ACCOUNT, id: account, displayName: '' } });
    const { watchCursor } = await call(cli, cli.listAlerts, auditV1.ListAlertsRequest.fromPartial({}), { bearer: manager });
    const changes: Array<{ at: number; m: auditV1.WatchAlertsResponse }> = [];
    const watch = stream(cli, cli.watchAlerts, { afterCursor: watchCursor }, { bearer: manager });
    watch.on('data', (m: auditV1.WatchAlertsResponse) => changes.push({ at: Date.now(), m }));
    watch.on('error', () => undefined);
    await append(c, [failure(), failure()]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(changes.filter((x) => x.m.alert?.groupKey.includes(account)).length, 0, 'not before the threshold');
    const t0 = Date.now();
    await append(c, [failure()]);
    while (!changes.some((x) => x.m.alert?.groupKey.includes(account)) && Date.now() - t0 < 3_000) await new Promise((r) => setTimeout(r, 10));
    const raised = changes.find((x) => x.m.alert?.groupKey.includes(account));
    assert.ok(raised, 'the alert arrived on WatchAlerts');
    assert.ok(raised.at - t0 < 1_000, `raised within 1 s (took ${raised.at - t0} ms)`);
    assert.equal(raised.m.change, auditV1.AlertChange.ALERT_CHANGE_RAISED);
    assert.equal(raised.m.alert?.ruleId, 'otp.failures_per_account');
    await append(c, [failure(), failure(), failure()]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(changes.filter((x) => x.m.alert?.groupKey.includes(account)).length, 1, 'only once per window');
    const alertId = raised.m.alert!.alertId;
    await assert.rejects(call(cli, cli.acknowledgeAlert, { alertId, note: 'checked' }, { bearer: manager }), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED);
    const officer = bearer(h, ['security_officer']);
    await assert.rejects(call(cli, cli.acknowledgeAlert, { alertId, note: '  ' }, { bearer: officer }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /note/.test(e.details));
    const acked = await call(cli, cli.acknowledgeAlert, { alertId, note: 'user mistyped after a phone change; confirmed by call' }, { bearer: officer });
    assert.equal(acked.alert?.state, auditV1.AlertState.ALERT_STATE_ACKNOWLEDGED);
    assert.equal(acked.alert?.acknowledgedBy?.accountId, 'acc-security_officer');
    await assert.rejects(call(cli, cli.acknowledgeAlert, { alertId, note: 'again' }, { bearer: officer }), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
    watch.cancel();
    const own = await call(cli, cli.query, auditV1.QueryRequest.fromPartial({ filter: { actions: [Action.ACTION_AUDIT_ALERT_RAISE, Action.ACTION_AUDIT_ALERT_ACKNOWLEDGE], subjectId: alertId } }), { bearer: officer });
    assert.deepEqual(own.entries.map((e) => e.event?.action), [Action.ACTION_AUDIT_ALERT_RAISE, Action.ACTION_AUDIT_ALERT_ACKNOWLEDGE], 'the audit service logs its own alert actions');
  });

  test('Watch streams stored then live entries, resumes across a server restart with no gap or duplicate', async () => {
    const c = await h.client('identity');
    const start = (await call(c, c.getCheckpoint, { fresh: true })).checkpoint!.treeSize;
    await append(c, [event(), event(), event()]);
    const seen: number[] = [];
    const readUntil = async (from: number, count: number) => {
      const cli = await h.client('cli');
      const s = stream(cli, cli.watch, { fromSequence: from }, { bearer: bearer(h, ['manager']) });
      for await (const m of s as AsyncIterable<auditV1.WatchResponse>) {
        if (m.entry) seen.push(m.entry.sequence);
        if (seen.length >= count) break;
      }
      s.cancel();
    };
    const live = readUntil(start, 5);
    await new Promise((r) => setTimeout(r, 100));
    await append(c, [event(), event()]);
    await live;
    await h.restart();
    const c2 = await h.client('identity');
    await append(c2, [event(), event()]);
    await readUntil(seen[seen.length - 1]! + 1, 7);
    assert.deepEqual(seen, Array.from({ length: 7 }, (_, i) => start + i));
  });
});
