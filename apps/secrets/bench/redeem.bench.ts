// `nx run secrets:bench` (part 1): RedeemRelease over gRPC (mTLS) against the repository's
// conditional UPDATE on the same kind of rows in a separate SQLite file, same run, same
// concurrency (the raw-operation line, kept); then against its floor at 16 and 100 in flight
// (issue 14 item 7, redeemVsFloor below and floor.ts). See run.ts for why these baselines.
import { randomBytes, randomUUID } from 'node:crypto';
import { auditEventV1, commonV1, secretsV1, type SecretsServiceClient } from '@gatehouse/contracts';
import type { HostedService } from '@gatehouse/service-host';
import { call } from '@gatehouse/service-kit';
import type { SqliteStore } from '@gatehouse/storage';
import { benchLine, harnessTarget } from '@gatehouse/testing';
import type { ReleaseRecord } from '../src/domain/model.js';
import { secretsStores } from '../src/store/schema.js';
import { SqliteReleaseRepository } from '../src/store/sqlite-release-repository.js';
import type { SecretsHarness } from '../src/test-support/harness.js';
import { envNumber, goalLine, latencyText, percentile, pool, probed, timedEach, unsynced, type BenchLoadDriver, type LoopRun } from './bench-support.js';
import { catchSecrets, portBreakdown } from './breakdown.js';
import { countFsyncs, latenciesOf, phaseBreakdown, rateOf, REDEEM_ROWS, requireClean, type SecretsFloors } from './floor.js';

/** READY releases redeemed in the timed section (and as many rows in the baseline). */
const RELEASES = Math.trunc(envNumber('BENCH_RELEASES', 1000));
/** Concurrent redeemers (service) and redemptions in flight (baseline). */
const IN_FLIGHT = Math.trunc(envNumber('BENCH_REDEEM_IN_FLIGHT', 100));
/** Releases of another app redeemed untimed first, so the service's redemption path is warm. */
const WARMUP = 20;
/** Redemptions one at a time for the breakdown (in-process, and as many over gRPC). */
const BREAKDOWN = Math.trunc(envNumber('BENCH_BREAKDOWN', 50));
/** Untimed setup (CreateRelease calls, baseline rows) runs this many at once. */
const PREPARE_CONCURRENCY = 16;
const GOAL = 0.5;
/** RedeemRelease calls per phase of the floor comparison (floor, real, real, floor at 16 and at 100 in flight): 4 x this many more READY releases. */
const FLOOR_CALLS = Math.trunc(envNumber('BENCH_FLOOR_CALLS', 800));
const FLOOR_IN_FLIGHT = [16, 100] as const;
const LIVE = commonV1.Environment.ENVIRONMENT_LIVE;
const APP = 'bench-redeem';
const WARMUP_APP = 'bench-redeem-warmup';
const FLOOR_APP = 'bench-redeem-vs-floor';
/** The app's secrets: ~3 typical values. */
export const REDEEM_SECRETS: ReadonlyArray<readonly [string, number]> = [
  ['DB_PASSWORD', 32],
  ['API_KEY', 48],
  ['TLS_PRIVATE_KEY', 256],
];
const SECRETS = REDEEM_SECRETS;

export interface RedeemContext {
  h: SecretsHarness;
  driver: BenchLoadDriver;
  /** The service's own store (SQLite), for the checks and the probe. */
  store: SqliteStore;
  /** The baselines' separate database file. */
  baseline: SqliteStore;
  cli: SecretsServiceClient;
  manager: () => string;
  log: (line: string) => void;
  /** The floors (floor.ts) the comparison of issue 14 item 7 runs against. */
  floors: SecretsFloors;
}

/**
 * The redemption events audit received: each redemption confirms its intent (ATTEMPTED) before
 * its unit, and its outcome (SUCCESS, naming the intent) commits with the compare-and-set.
 */
function redeemEvents(events: readonly auditEventV1.AuditEvent[]): { confirmed: number; outcomes: number; refusals: number } {
  const redeem = events.filter((e) => e.action === auditEventV1.Action.ACTION_SECRETS_RELEASE_REDEEM);
  return {
    confirmed: redeem.filter((e) => e.outcome === auditEventV1.Outcome.OUTCOME_ATTEMPTED).length,
    outcomes: redeem.filter((e) => e.outcome === auditEventV1.Outcome.OUTCOME_SUCCESS && e.intentEventId !== '').length,
    refusals: events.filter((e) => e.action === auditEventV1.Action.ACTION_SECRETS_RELEASE_REDEEM_REFUSED).length,
  };
}

/** The repository's redeem (conditional UPDATE + read back) for each record in a unit of work of its own (store.run, group-committed), IN_FLIGHT at a time; `won`: the rows it redeemed. */
async function baselineRedeem(store: SqliteStore, repo: SqliteReleaseRepository, records: readonly ReleaseRecord[], now: Date): Promise<LoopRun & { won: number }> {
  const by = { identity: 'backend:deployer', ip: '127.0.0.1' };
  let won = 0;
  const r = await timedEach(records.length, IN_FLIGHT, async (i) => {
    if (await store.run((tx) => repo.redeem(tx, (records[i] as ReleaseRecord).tokenHash, now, by))) won++;
  });
  return { ...r, won };
}

export async function redeemBench(c: RedeemContext): Promise<string[]> {
  const { h, driver, store, baseline, cli, log } = c;
  const { address, pkiDir } = harnessTarget(h);

  // --- Setup (untimed): the secrets, the releases (over gRPC, as CreateRelease makes them), and a
  // copy of each timed release row in the baseline file. Seeding commits without fsync.
  const t0 = performance.now();
  const floorTokens: string[] = [];
  const created = await unsynced(store, async () => {
    for (const app of [APP, WARMUP_APP, FLOOR_APP]) {
      for (const [name, bytes] of SECRETS) {
        await call(cli, cli.putSecret, { environment: LIVE, app, name, value: randomBytes(bytes) }, { bearer: c.manager() });
      }
    }
    const out: Array<{ token: string; releaseId: string; app: string }> = new Array(RELEASES + WARMUP);
    await pool(RELEASES + WARMUP, PREPARE_CONCURRENCY, async (i) => {
      const app = i < RELEASES ? APP : WARMUP_APP;
      const r = await call(cli, cli.createRelease, secretsV1.CreateReleaseRequest.fromPartial({ environment: LIVE, app, deploymentRef: `bench-${i}` }), { bearer: c.manager() });
      if (r.release?.state !== secretsV1.ReleaseState.RELEASE_STATE_READY) throw new Error(`release ${i} is not READY`);
      out[i] = { token: r.releaseToken, releaseId: r.release.releaseId, app };
    });
    // The floor comparison's releases: FLOOR_CALLS per real phase.
    const forFloor: string[] = new Array<string>(2 * FLOOR_IN_FLIGHT.length * FLOOR_CALLS);
    await pool(forFloor.length, PREPARE_CONCURRENCY, async (i) => {
      const r = await call(cli, cli.createRelease, secretsV1.CreateReleaseRequest.fromPartial({ environment: LIVE, app: FLOOR_APP, deploymentRef: `vs-floor-${i}` }), { bearer: c.manager() });
      if (r.release?.state !== secretsV1.ReleaseState.RELEASE_STATE_READY) throw new Error(`release ${i} is not READY`);
      forFloor[i] = r.releaseToken;
    });
    floorTokens.push(...forFloor);
    return out;
  });
  const timed = created.slice(0, RELEASES);
  const warm = created.slice(RELEASES);
  const t1 = performance.now();
  const releases = secretsStores((h.replicas[0] as HostedService).store).releases;
  const records = await Promise.all(
    timed.map(async (r) => {
      const rec = await releases.get(r.releaseId);
      if (!rec) throw new Error(`release ${r.releaseId} is missing`);
      return rec;
    }),
  );
  const repo = new SqliteReleaseRepository(baseline);
  await unsynced(baseline, () => pool(records.length, PREPARE_CONCURRENCY, (i) => baseline.run((tx) => repo.create(tx, records[i] as ReleaseRecord))));
  await h.drainAudit();
  log(
    `  setup: ${SECRETS.length} secrets per app; ${RELEASES} + ${WARMUP} warm-up + ${floorTokens.length} (against the floor) READY releases created over gRPC in ${((t1 - t0) / 1000).toFixed(1)} s; ` +
      `the ${RELEASES} rows copied to the baseline file in ${((performance.now() - t1) / 1000).toFixed(1)} s (seeding without fsync, restored before timing)`,
  );

  // --- Warm-up (untimed): the redemption path once per warm-up release, from the load process.
  const w = await driver.run({ kind: 'redeem', address, pkiDir, certName: 'deployer', tokens: warm.map((r) => r.token), inFlight: 10, expectSecrets: SECRETS.length });
  if (w.errorCount > 0) throw new Error(`warm-up RedeemRelease failed (${w.errorCount} calls): ${w.errors.join('; ')}`);
  await h.drainAudit();

  // --- Timed: baseline (first half), service (every release), baseline (second half).
  const now = h.clock.now();
  const half = Math.floor(records.length / 2);
  const b1 = await baselineRedeem(baseline, repo, records.slice(0, half), now);
  const events0 = h.events.length;
  const { result: r, store: p, cpuMs: serverCpu, elu } = await probed(store, () => driver.run({ kind: 'redeem', address, pkiDir, certName: 'deployer', tokens: timed.map((t) => t.token), inFlight: IN_FLIGHT, expectSecrets: SECRETS.length }));
  const b2 = await baselineRedeem(baseline, repo, records.slice(half), now);

  // --- Checks: every call succeeded, each release redeemed exactly once, each redemption audited.
  if (r.errorCount > 0) throw new Error(`RedeemRelease failed (${r.errorCount} of ${timed.length} calls): ${r.errors.join('; ')}`);
  const ids = new Set(r.releaseIds);
  const missing = timed.filter((t) => !ids.has(t.releaseId)).length;
  if (r.calls !== timed.length || ids.size !== timed.length || missing > 0) {
    throw new Error(`${r.calls} bundles for ${ids.size} distinct releases (${missing} of the ${timed.length} created not among them)`);
  }
  const redeemed = await store.exec(undefined, (db) => db.prepare("SELECT COUNT(*) FROM releases WHERE app = ? AND state = 'redeemed'").pluck().get(APP) as number);
  if (redeemed !== RELEASES) throw new Error(`${redeemed} REDEEMED releases of ${APP} in the store, expected ${RELEASES}`);
  await h.drainAudit();
  const timedIds = new Set(timed.map((t) => t.releaseId));
  const events = h.events.slice(events0).filter((e) => timedIds.has(e.subject?.id ?? ''));
  const { confirmed, outcomes, refusals } = redeemEvents(events);
  if (confirmed !== RELEASES || outcomes !== RELEASES || refusals > 0) {
    throw new Error(`audit received ${confirmed} release_redeem intents and ${outcomes} outcomes (expected ${RELEASES} each) and ${refusals} refusals (expected 0)`);
  }
  const baseWon = b1.won + b2.won;
  if (baseWon !== records.length) throw new Error(`the baseline redeemed ${baseWon} of ${records.length} rows`);

  const rate = r.calls / (r.elapsedMs / 1000);
  const base = baseWon / ((b1.ms + b2.ms) / 1000);
  const n = r.calls;
  const per = (x: number) => (x / n).toFixed(3);
  log(`  RedeemRelease over gRPC/mTLS (caller backend:deployer, ${IN_FLIGHT} in flight from one load process, ${RELEASES} releases of ${SECRETS.length} secrets, each redeemed once):`);
  log(
    `    secrets   ${rate.toFixed(0)} redemptions/s; latency ${latencyText(r.latencies)}; ` +
      `service process CPU ${(serverCpu / n).toFixed(2)} ms/redemption (with its in-process audit double), load process CPU ${(r.cpuMs / n).toFixed(2)} ms/redemption`,
  );
  log(
    `    baseline  ${base.toFixed(0)} redemptions/s; latency ${latencyText([...b1.latencies, ...b2.latencies])}: ` +
      `SqliteReleaseRepository.redeem (conditional UPDATE + read back, own commit) of copies of the same rows in a separate SQLite file, ${IN_FLIGHT} in flight`,
  );
  log(`    in order: baseline ${(b1.won / (b1.ms / 1000)).toFixed(0)}, secrets ${rate.toFixed(0)}, baseline ${(b2.won / (b2.ms / 1000)).toFixed(0)} redemptions/s`);
  log(
    `    checked: ${n} bundles of ${SECRETS.length} secrets, ${ids.size} distinct releases (exactly the ${RELEASES} created), ` +
      `${redeemed} REDEEMED in the store, ${confirmed} release_redeem intents confirmed by audit and ${outcomes} REDEEM outcomes shipped, ${refusals} refusals`,
  );
  log(
    `    service store per redemption: ${per(p.calls)} store calls, ${per(p.commits)} commits (each an fsync: synchronous=FULL), ` +
      `${per(p.heldMs)} ms holding the store lock, ${per(p.waitedMs)} ms waiting for it; ` +
      `lock busy ${((100 * p.heldMs) / r.elapsedMs).toFixed(0)}% of the timed section`,
  );
  // better-sqlite3 is synchronous: the commit's fsync blocks the event loop, which every other
  // step of the call (both ends of gRPC/TLS, the audit Append, decryption) needs as well.
  const baseBusy = (b1.busyMs + b2.busyMs) / baseWon;
  log(
    `    where the time goes: the service process's event loop was busy ${(100 * elu.utilization).toFixed(0)}% of the timed section, ${per(elu.active)} ms per redemption: ` +
      `${per(p.heldMs)} ms synchronous SQLite under the store lock (the commit's fsync included), ${per(elu.active - p.heldMs)} ms the rest ` +
      `(gRPC/TLS of the call and of the audit Append, token hash, ${SECRETS.length} version reads + decryptions, the audit double); ` +
      `the baseline's loop: ${baseBusy.toFixed(3)} ms per redemption, so one loop allows at most ~${(1000 / (elu.active / n)).toFixed(0)} vs ~${(1000 / baseBusy).toFixed(0)} per second`,
  );

  // --- Breakdown (diagnostic, untimed): one redemption at a time over gRPC, and in-process on
  // the service's own Secrets object with its ports timed. Releases of the warm-up app.
  const extra: string[] = new Array<string>(2 * BREAKDOWN);
  await pool(2 * BREAKDOWN, PREPARE_CONCURRENCY, async (i) => {
    const x = await call(cli, cli.createRelease, secretsV1.CreateReleaseRequest.fromPartial({ environment: LIVE, app: WARMUP_APP, deploymentRef: `breakdown-${i}` }), { bearer: c.manager() });
    extra[i] = x.releaseToken;
  });
  await h.drainAudit();
  const one = await driver.run({ kind: 'redeem', address, pkiDir, certName: 'deployer', tokens: extra.slice(BREAKDOWN), inFlight: 1, expectSecrets: SECRETS.length });
  if (one.errorCount > 0) throw new Error(`RedeemRelease one at a time failed (${one.errorCount} calls): ${one.errors.join('; ')}`);
  const secrets = await catchSecrets(cli);
  const from = { ip: '127.0.0.1', identity: 'backend:deployer' };
  const bd = await portBreakdown(secrets, BREAKDOWN, async (i) => {
    const b = await secrets.redeem(extra[i] as string, { ...from, requestId: randomUUID() });
    for (const x of b.secrets) x.value.fill(0);
  }, store);
  log(
    `    one redemption at a time (${BREAKDOWN} each): over gRPC p50 ${percentile(one.latencies, 0.5).toFixed(3)} ms; ` +
      `in-process Secrets.redeem ${bd.meanMs.toFixed(3)} ms, of which (ms per redemption, calls):`,
  );
  for (const l of bd.lines) log(`      ${l}`);
  // The raw-operation line, as before (its goal is now the floor's, issue 14 item 7).
  const raw = benchLine({ name: 'secrets-redeem-release-grpc', value: rate, unit: 'redemptions/s', baseline: base, baselineUnit: 'raw conditional UPDATEs/s' });
  return redeemVsFloor(c, floorTokens, raw);
}

/**
 * RedeemRelease against its floor (issue 14 item 7), at 16 and 100 in flight, from the same load
 * process and closed loop (each worker takes the next token), in the order floor+confirm, floor,
 * real, real, floor, floor+confirm, so a drift cancels. Each real phase redeems FLOOR_CALLS fresh
 * READY releases (`tokens`, made before any timing). Checked afterwards: every release redeemed
 * once, REDEEMED in the store, its intent confirmed and its outcome shipped. Lines: the goal (16),
 * the bench and latency lines per concurrency, `raw` (the raw-operation line) second, and the
 * informative floor + confirm figure; logged: per phase, and the fsyncs per redemption.
 */
async function redeemVsFloor(c: RedeemContext, tokens: readonly string[], raw: string): Promise<string[]> {
  const { h, driver, store, floors, log } = c;
  const { address, pkiDir } = harnessTarget(h);
  const fake = Array.from({ length: FLOOR_CALLS }, () => `ghr_${randomBytes(32).toString('base64url')}`);
  const redeemAt = (to: string, list: readonly string[], inFlight: number) =>
    driver.run({ kind: 'redeem', address: to, pkiDir, certName: 'deployer', tokens: [...list], inFlight, expectSecrets: SECRETS.length });
  // Untimed: the floors' paths warm (connections, TLS, JIT, their stores).
  requireClean('floor warm-up', await redeemAt(floors.address, fake.slice(0, 100), 16), await redeemAt(floors.confirmAddress, fake.slice(0, 100), 16));
  await h.drainAudit();
  const events0 = h.events.length;
  const lines: string[] = [];
  const ids: string[] = [];
  let next = 0;
  for (const inFlight of FLOOR_IN_FLIGHT) {
    const real = async () => {
      const list = tokens.slice(next, (next += FLOOR_CALLS));
      const fs = countFsyncs(store);
      const run = await redeemAt(address, list, inFlight);
      return { run, fsyncs: fs.stop() };
    };
    const floorRun = async () => {
      const fs = countFsyncs(floors.floor.store);
      const run = await redeemAt(floors.address, fake, inFlight);
      return { run, fsyncs: fs.stop() };
    };
    const c1 = await redeemAt(floors.confirmAddress, fake, inFlight);
    const f1 = await floorRun();
    const r1 = await real();
    const r2 = await real();
    const f2 = await floorRun();
    const c2 = await redeemAt(floors.confirmAddress, fake, inFlight);
    requireClean(`RedeemRelease at ${inFlight} in flight`, r1.run, r2.run);
    requireClean(`the floors at ${inFlight} in flight`, c1, f1.run, f2.run, c2);
    ids.push(...r1.run.releaseIds, ...r2.run.releaseIds);
    const r = [r1.run, r2.run];
    const f = [f1.run, f2.run];
    const cf = [c1, c2];
    const rate = rateOf(r);
    const floor = rateOf(f);
    const confirm = rateOf(cf);
    log(
      `  RedeemRelease at ${inFlight} in flight: ${rate.toFixed(0)}/s (${latencyText(latenciesOf(r))}); ` +
        `floor (mTLS RPC + one fsynced commit of ${REDEEM_ROWS} rows) ${floor.toFixed(0)}/s (${latencyText(latenciesOf(f))}); ` +
        `floor + one confirmed audit round trip (mTLS Append to a bare audit committing 1 row, then the commit) ${confirm.toFixed(0)}/s (${latencyText(latenciesOf(cf))})`,
    );
    log(
      `    phases in order: floor+confirm ${rateOf([c1]).toFixed(0)}, floor ${rateOf([f1.run]).toFixed(0)}, RedeemRelease ${rateOf([r1.run]).toFixed(0)}, ` +
        `RedeemRelease ${rateOf([r2.run]).toFixed(0)}, floor ${rateOf([f2.run]).toFixed(0)}, floor+confirm ${rateOf([c2]).toFixed(0)} calls/s`,
    );
    for (const line of phaseBreakdown('redemption', r1, r2, f1, f2)) log(line);
    if (inFlight === 16) lines.push(goalLine('secrets-redeem-release-vs-floor', rate / floor, GOAL));
    lines.push(benchLine({ name: `secrets-redeem-release-vs-floor-${inFlight}`, value: rate, unit: 'redemptions/s', baseline: floor, baselineUnit: 'floor calls/s' }));
    lines.push(`latency secrets-redeem-release-${inFlight}: ${latencyText(latenciesOf(r))}; floor ${latencyText(latenciesOf(f))}`);
    if (inFlight === 16) lines.push(raw);
    lines.push(
      `info secrets-redeem-release-vs-floor-confirm-${inFlight}: ${rate.toFixed(0)} redemptions/s; floor + one confirmed audit round trip ${confirm.toFixed(0)} calls/s; ` +
        `ratio ${(rate / confirm).toFixed(2)} (a redemption waits for audit to confirm its intent before its unit; the strict floor does not)`,
    );
  }

  // --- Checks: each release redeemed once, REDEEMED in the store, its intent confirmed and its outcome shipped.
  const distinct = new Set(ids);
  if (ids.length !== tokens.length || distinct.size !== tokens.length) throw new Error(`${ids.length} bundles for ${distinct.size} distinct releases, expected ${tokens.length}`);
  const redeemed = await store.exec(undefined, (db) => db.prepare("SELECT COUNT(*) FROM releases WHERE app = ? AND state = 'redeemed'").pluck().get(FLOOR_APP) as number);
  await h.drainAudit();
  const { confirmed, outcomes, refusals } = redeemEvents(h.events.slice(events0).filter((e) => distinct.has(e.subject?.id ?? '')));
  if (redeemed !== tokens.length || confirmed !== tokens.length || outcomes !== tokens.length || refusals > 0) {
    throw new Error(`${redeemed} REDEEMED of ${FLOOR_APP}, ${confirmed} intents, ${outcomes} outcomes (expected ${tokens.length} each), ${refusals} refusals`);
  }
  log(`    checked (against the floor): ${ids.length} bundles of ${distinct.size} distinct releases, ${redeemed} REDEEMED in the store, ${confirmed} intents confirmed by audit, ${outcomes} REDEEM outcomes, ${refusals} refusals`);
  return lines;
}
