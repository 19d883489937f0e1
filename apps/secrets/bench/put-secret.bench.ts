// `nx run secrets:bench` (part 2): PutSecret (envelope encryption) over gRPC (mTLS) against the
// repository's raw insert of rows of the same shape in a separate SQLite file, same run, same
// concurrency (the raw-operation line, kept); then against its floor at 16 and 100 in flight
// (issue 14 item 7, putVsFloor below and floor.ts). See run.ts for why these baselines.
import { randomBytes, randomUUID } from 'node:crypto';
import { auditEventV1, commonV1 } from '@gatehouse/contracts';
import type { SecretsServiceClient } from '@gatehouse/contracts';
import type { SqliteStore } from '@gatehouse/storage';
import { benchLine, harnessTarget } from '@gatehouse/testing';
import type { SecretHead, SecretVersion } from '../src/domain/model.js';
import { SqliteSecretRepository } from '../src/store/sqlite-secret-repository.js';
import type { SecretsHarness } from '../src/test-support/harness.js';
import { envNumber, goalLine, latencyText, percentile, probed, timedEach, type BenchLoadDriver, type DriverResult, type LoopRun } from './bench-support.js';
import { catchSecrets, portBreakdown } from './breakdown.js';
import { countFsyncs, latenciesOf, phaseBreakdown, PUT_ROWS, rateOf, requireClean, type SecretsFloors } from './floor.js';

/** PutSecret calls in the timed section (and as many baseline rows). */
const PUTS = Math.trunc(envNumber('BENCH_PUTS', 2000));
/** PutSecret calls (and baseline inserts) in flight at once. */
const IN_FLIGHT = Math.trunc(envNumber('BENCH_PUT_IN_FLIGHT', 16));
/** Bytes of each value. */
const VALUE_BYTES = Math.trunc(envNumber('BENCH_PUT_VALUE_BYTES', 256));
/** Puts one at a time for the breakdown (in-process, and as many over gRPC). */
const BREAKDOWN = Math.trunc(envNumber('BENCH_BREAKDOWN', 50));
/** Untimed puts of other names first, so the service's put path is warm. */
const WARMUP = 32;
const GOAL = 0.5;
/** PutSecret calls per phase of the floor comparison (floor, real, real, floor at 16 and at 100 in flight). */
const FLOOR_CALLS = Math.trunc(envNumber('BENCH_FLOOR_CALLS', 800));
const FLOOR_IN_FLIGHT = [16, 100] as const;
const FLOOR_APP = 'bench-put-vs-floor';
const APP = 'bench-put';
const WARMUP_APP = 'bench-put-warmup';
const ACTOR = { accountId: 'acc-bench-manager', email: 'bench-manager@example.com' };

export interface PutContext {
  h: SecretsHarness;
  driver: BenchLoadDriver;
  /** The service's own store (SQLite), for the checks and the probe. */
  store: SqliteStore;
  /** The baselines' separate database file. */
  baseline: SqliteStore;
  cli: SecretsServiceClient;
  log: (line: string) => void;
  /** The floors (floor.ts) the comparison of issue 14 item 7 runs against. */
  floors: SecretsFloors;
}

const b64 = (n: number) => randomBytes(n).toString('base64');

/**
 * The rows a PutSecret of a fresh name writes: version 1 with an envelope of the real sizes (value
 * ciphertext, 12-byte IV, 16-byte tag, `dk1.<iv>.<wrapped 32-byte key>.<tag>`), made up in advance
 * (random bytes, no encryption), and its head.
 */
function rowsOf(name: string, now: Date): { v: SecretVersion; head: SecretHead } {
  const v: SecretVersion = {
    environment: 'live',
    app: APP,
    name,
    version: 1,
    ciphertext: b64(VALUE_BYTES),
    iv: b64(12),
    tag: b64(16),
    wrappedDataKey: `dk1.${b64(12)}.${b64(32)}.${b64(16)}`,
    masterKeyVersion: 1,
    createdAt: now,
    createdBy: ACTOR,
    destroyedAt: null,
  };
  const head: SecretHead = { environment: 'live', app: APP, name, latestVersion: 1, createdAt: now, updatedAt: now, updatedBy: ACTOR, deletedAt: null, deletedBy: null };
  return { v, head };
}

/** SqliteSecretRepository.putVersion (version insert + head upsert) of each row pair in a unit of work of its own (store.run, group-committed), IN_FLIGHT at a time. */
function baselinePut(store: SqliteStore, repo: SqliteSecretRepository, rows: ReadonlyArray<{ v: SecretVersion; head: SecretHead }>): Promise<LoopRun> {
  return timedEach(rows.length, IN_FLIGHT, async (i) => {
    const r = rows[i] as { v: SecretVersion; head: SecretHead };
    await store.run((tx) => repo.putVersion(tx, r.v, r.head));
  });
}

export async function putSecretBench(c: PutContext): Promise<string[]> {
  const { h, driver, store, baseline, cli, log } = c;
  const { address, pkiDir } = harnessTarget(h);
  const bearer = h.token({ roles: ['manager'], ...ACTOR });
  const put = (app: string, names: string[], inFlight: number, to = address) =>
    driver.run({ kind: 'put', address: to, pkiDir, certName: 'cli', bearer, environment: commonV1.Environment.ENVIRONMENT_LIVE, app, names, valueBytes: VALUE_BYTES, inFlight, expectVersion: 1 });

  // --- Setup (untimed): the baseline's rows, made up in advance; the service's put path warmed up.
  const now = h.clock.now();
  const rows = Array.from({ length: PUTS }, (_, i) => rowsOf(`BASELINE_${i}`, now));
  const repo = new SqliteSecretRepository(baseline);
  const w = await put(WARMUP_APP, Array.from({ length: WARMUP }, (_, i) => `WARMUP_${i}`), IN_FLIGHT);
  if (w.errorCount > 0) throw new Error(`warm-up PutSecret failed (${w.errorCount} calls): ${w.errors.join('; ')}`);
  await h.drainAudit();

  // --- Timed: baseline (first half), service (every put), baseline (second half).
  const half = Math.floor(PUTS / 2);
  const b1 = await baselinePut(baseline, repo, rows.slice(0, half));
  const events0 = h.events.length;
  const { result: r, store: p, cpuMs: serverCpu, elu } = await probed(store, () => put(APP, Array.from({ length: PUTS }, (_, i) => `SECRET_${i}`), IN_FLIGHT));
  const b2 = await baselinePut(baseline, repo, rows.slice(half));

  // --- Checks: every put succeeded as version 1, is stored, and was audited.
  if (r.errorCount > 0) throw new Error(`PutSecret failed (${r.errorCount} of ${PUTS} calls): ${r.errors.join('; ')}`);
  const count = (s: SqliteStore) => s.exec(undefined, (db) => db.prepare('SELECT COUNT(*) FROM secret_versions WHERE app = ? AND version = 1').pluck().get(APP) as number);
  const stored = await count(store);
  const baseStored = await count(baseline);
  if (stored !== PUTS || baseStored !== PUTS) throw new Error(`${stored} versions stored by the service and ${baseStored} by the baseline, expected ${PUTS} each`);
  const drain0 = performance.now();
  await h.drainAudit();
  const drainMs = performance.now() - drain0;
  const audited = h.events.slice(events0).filter((e) => e.action === auditEventV1.Action.ACTION_SECRETS_SECRET_PUT && (e.subject?.id ?? '').startsWith(`live:${APP}:`)).length;
  if (audited !== PUTS) throw new Error(`audit received ${audited} secret_put events, expected ${PUTS}`);

  const rate = r.calls / (r.elapsedMs / 1000);
  const base = PUTS / ((b1.ms + b2.ms) / 1000);
  const n = r.calls;
  const per = (x: number) => (x / n).toFixed(3);
  log(`  PutSecret over gRPC/mTLS (operator cli, manager session, LIVE, ${IN_FLIGHT} in flight from one load process, ${PUTS} fresh names, ${VALUE_BYTES}-byte values):`);
  log(
    `    secrets   ${rate.toFixed(0)} puts/s; latency ${latencyText(r.latencies)}; ` +
      `service process CPU ${(serverCpu / n).toFixed(2)} ms/put (with its in-process audit double), load process CPU ${(r.cpuMs / n).toFixed(2)} ms/put`,
  );
  log(
    `    baseline  ${base.toFixed(0)} puts/s; latency ${latencyText([...b1.latencies, ...b2.latencies])}: ` +
      `SqliteSecretRepository.putVersion (version insert + head upsert, one commit) of made-up envelopes of the same sizes in a separate SQLite file, ${IN_FLIGHT} in flight`,
  );
  log(`    in order: baseline ${(half / (b1.ms / 1000)).toFixed(0)}, secrets ${rate.toFixed(0)}, baseline ${((PUTS - half) / (b2.ms / 1000)).toFixed(0)} puts/s`);
  log(`    checked: ${n} answers at version 1, ${stored} versions stored, ${audited} secret_put audit events received (outbox drained ${drainMs.toFixed(0)} ms after the last answer)`);
  log(
    `    service store per put: ${per(p.calls)} store calls, ${per(p.commits)} commits (each an fsync: synchronous=FULL; the relay's included), ` +
      `${per(p.heldMs)} ms holding the store lock, ${per(p.waitedMs)} ms waiting for it; lock busy ${((100 * p.heldMs) / r.elapsedMs).toFixed(0)}% of the timed section`,
  );
  // better-sqlite3 is synchronous: each commit's fsync blocks the event loop, which every other
  // step of the call needs as well.
  const baseBusy = (b1.busyMs + b2.busyMs) / PUTS;
  log(
    `    where the time goes: the service process's event loop was busy ${(100 * elu.utilization).toFixed(0)}% of the timed section, ${per(elu.active)} ms per put: ` +
      `${per(p.heldMs)} ms synchronous SQLite under the store lock (${per(p.commits)} commits: the version + head transaction, the audit outbox insert ` +
      `in a transaction of its own, the relay marking events shipped), ${per(elu.active - p.heldMs)} ms the rest (gRPC/TLS, session check, encryption, audit Append of the relay, the audit double); ` +
      `the baseline's loop: ${baseBusy.toFixed(3)} ms per put (one commit), so one loop allows at most ~${(1000 / (elu.active / n)).toFixed(0)} vs ~${(1000 / baseBusy).toFixed(0)} per second`,
  );

  // --- Breakdown (diagnostic, untimed): one put at a time over gRPC, and in-process on the
  // service's own Secrets object with its ports timed. Names of the warm-up app.
  await h.drainAudit();
  const one = await put(WARMUP_APP, Array.from({ length: BREAKDOWN }, (_, i) => `ONE_AT_A_TIME_${i}`), 1);
  if (one.errorCount > 0) throw new Error(`PutSecret one at a time failed (${one.errorCount} calls): ${one.errors.join('; ')}`);
  const secrets = await catchSecrets(cli);
  const until = new Date(h.clock.now().getTime() + 3_600_000);
  const who = { ...ACTOR, roles: ['manager'], env: { live: until, staging: until } };
  const bd = await portBreakdown(secrets, BREAKDOWN, (i) =>
    secrets.putSecret(who, { environment: 'live', app: WARMUP_APP, name: `IN_PROCESS_${i}`, value: randomBytes(VALUE_BYTES) }, { ip: '127.0.0.1', identity: 'operator:cli', requestId: randomUUID() }),
    store,
  );
  log(
    `    one put at a time (${BREAKDOWN} each): over gRPC p50 ${percentile(one.latencies, 0.5).toFixed(3)} ms; ` +
      `in-process Secrets.putSecret ${bd.meanMs.toFixed(3)} ms, of which (ms per put, calls; the audit record is the outbox insert, shipped later by the relay):`,
  );
  for (const l of bd.lines) log(`      ${l}`);
  // The raw-operation line, as before (its goal is now the floor's, issue 14 item 7).
  const raw = benchLine({ name: 'secrets-put-secret-grpc', value: rate, unit: 'puts/s', baseline: base, baselineUnit: 'raw putVersion/s' });
  return putVsFloor(c, put, raw);
}

/**
 * PutSecret against its floor (issue 14 item 7), at 16 and 100 in flight, from the same load
 * process and closed loop, in the order floor, real, real, floor. Each real phase puts FLOOR_CALLS
 * fresh names (version 1). Checked afterwards: every version stored, one secret_put event each.
 * Lines: the goal (16), the bench and latency lines per concurrency, `raw` (the raw-operation
 * line) second; logged: per phase, and the fsyncs per put.
 */
async function putVsFloor(c: PutContext, put: (app: string, names: string[], inFlight: number, to?: string) => Promise<DriverResult>, raw: string): Promise<string[]> {
  const { h, store, floors, log } = c;
  const fake = Array.from({ length: FLOOR_CALLS }, (_, i) => `FLOOR_${i}`);
  requireClean('floor warm-up', await put(FLOOR_APP, fake.slice(0, 100), 16, floors.address));
  await h.drainAudit();
  const events0 = h.events.length;
  const lines: string[] = [];
  let next = 0;
  for (const inFlight of FLOOR_IN_FLIGHT) {
    const real = async () => {
      const names = Array.from({ length: FLOOR_CALLS }, () => `VS_FLOOR_${next++}`);
      const fs = countFsyncs(store);
      const run = await put(FLOOR_APP, names, inFlight);
      return { run, fsyncs: fs.stop() };
    };
    const floorRun = async () => {
      const fs = countFsyncs(floors.floor.store);
      const run = await put(FLOOR_APP, fake, inFlight, floors.address);
      return { run, fsyncs: fs.stop() };
    };
    const f1 = await floorRun();
    const r1 = await real();
    const r2 = await real();
    const f2 = await floorRun();
    requireClean(`PutSecret at ${inFlight} in flight`, r1.run, r2.run);
    requireClean(`the floor at ${inFlight} in flight`, f1.run, f2.run);
    const r = [r1.run, r2.run];
    const f = [f1.run, f2.run];
    const rate = rateOf(r);
    const floor = rateOf(f);
    log(
      `  PutSecret at ${inFlight} in flight: ${rate.toFixed(0)}/s (${latencyText(latenciesOf(r))}); ` +
        `floor (mTLS RPC + one fsynced commit of ${PUT_ROWS} rows) ${floor.toFixed(0)}/s (${latencyText(latenciesOf(f))})`,
    );
    log(`    phases in order: floor ${rateOf([f1.run]).toFixed(0)}, PutSecret ${rateOf([r1.run]).toFixed(0)}, PutSecret ${rateOf([r2.run]).toFixed(0)}, floor ${rateOf([f2.run]).toFixed(0)} calls/s`);
    for (const line of phaseBreakdown('put', r1, r2, f1, f2)) log(line);
    if (inFlight === 16) lines.push(goalLine('secrets-put-secret-vs-floor', rate / floor, GOAL));
    lines.push(benchLine({ name: `secrets-put-secret-vs-floor-${inFlight}`, value: rate, unit: 'puts/s', baseline: floor, baselineUnit: 'floor calls/s' }));
    lines.push(`latency secrets-put-secret-${inFlight}: ${latencyText(latenciesOf(r))}; floor ${latencyText(latenciesOf(f))}`);
    if (inFlight === 16) lines.push(raw);
  }

  // --- Checks: every put stored as version 1 and audited once.
  const stored = await store.exec(undefined, (db) => db.prepare('SELECT COUNT(*) FROM secret_versions WHERE app = ? AND version = 1').pluck().get(FLOOR_APP) as number);
  await h.drainAudit();
  const audited = h.events.slice(events0).filter((e) => e.action === auditEventV1.Action.ACTION_SECRETS_SECRET_PUT && (e.subject?.id ?? '').startsWith(`live:${FLOOR_APP}:`)).length;
  if (stored !== next || audited !== next) throw new Error(`${stored} versions of ${FLOOR_APP} stored and ${audited} secret_put events, expected ${next} each`);
  log(`    checked (against the floor): ${next} answers at version 1, ${stored} versions stored, ${audited} secret_put audit events received`);
  return lines;
}
