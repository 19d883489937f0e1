// `nx run impersonation:bench` (part 1): StartImpersonation over gRPC (mTLS) with the burst rule
// evaluated on real windows, on 10,000 existing grants across 500 domains, against the raw
// indexed count query of the burst rule's shape on the same data, same run, same concurrency.
// See run.ts for why this baseline. Then against its floor (startVsFloor, floor.ts: the goal line).
// The floor's rows: the start's one unit commits 3 (the burst window's write, the grant, the START
// outcome event in the outbox); the intent is confirmed before it (the "floor + waits" line).
import { randomBytes, randomUUID } from 'node:crypto';
import { auditEventV1, ImpersonationServiceClient, impersonationV1 } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { call, dial } from '@gatehouse/service-kit';
import type { SqliteStore } from '@gatehouse/storage';
import { benchLine, harnessTarget, probeStore, timePorts, type PortStat } from '@gatehouse/testing';
import type { Impersonation } from '../src/domain/impersonation-service.js';
import type { BurstWindow, GrantRecord } from '../src/domain/model.js';
import { SqliteBurstRepository, SqliteGrantRepository } from '../src/store/sqlite-repositories.js';
import type { ImpersonationHarness } from '../src/test-support/harness.js';
import { catchImpersonation, portBreakdown } from './breakdown.js';
import { START_ROWS, startStartFloors } from './floor.js';
import {
  closedLoop,
  envNumber,
  goalLine,
  latencyText,
  percentile,
  pool,
  probed,
  unsynced,
  type BenchLoadDriver,
  type LoopRun,
  type StartCall,
} from './bench-support.js';

/** Existing grants seeded before the timed section. */
const GRANTS = Math.trunc(envNumber('BENCH_GRANTS', 10_000));
/** Customer domains they spread over. */
const DOMAINS = Math.trunc(envNumber('BENCH_DOMAINS', 500));
/** Support employees they belong to (each (employee, domain) pair holds PER_PAIR grants). */
const EMPLOYEES = Math.trunc(envNumber('BENCH_EMPLOYEES', 250));
/** StartImpersonation calls in the timed section: one per seeded (employee, domain) pair, at most GRANTS / PER_PAIR. */
const STARTS = Math.trunc(envNumber('BENCH_STARTS', 2000));
/** StartImpersonation calls (and baseline count queries) in flight at once. */
const IN_FLIGHT = Math.trunc(envNumber('BENCH_START_IN_FLIGHT', 16));
/** Seconds of baseline count queries (half before, half after the service's run). */
const COUNT_SECONDS = envNumber('BENCH_COUNT_SECONDS', 2);
/** Starts one at a time for the breakdown (in-process, and as many over gRPC). */
const BREAKDOWN = Math.trunc(envNumber('BENCH_BREAKDOWN', 50));
/** Untimed starts first (fresh employees, a domain of their own), so the start path is warm. */
const WARMUP = 32;
/** Untimed seeding runs this many at once. */
const PREPARE_CONCURRENCY = 16;
/** Grants per seeded (employee, domain): distinct targets, one below the burst threshold. */
const PER_PAIR = 2;
const GOAL = 0.5;
/** Seconds of the comparison with the floor per concurrency: a quarter per phase (floor, real, real, floor), as much again for floor + waits. */
const FLOOR_SECONDS = envNumber('BENCH_SECONDS', 6);
/** Support employees of the starts against the floor (each start a fresh (employee, domain) pair). */
const FLOOR_BEARERS = 1000;
const MIN = 60_000;
const JUSTIFICATION = 'Customer reports contacts missing after the CSV import (benchmark case)';
const TICKET = 'SUP-BENCH-1';

export interface StartContext {
  h: ImpersonationHarness;
  driver: BenchLoadDriver;
  /** The service's own store (SQLite): seeded through the repositories, probed, counted. */
  store: SqliteStore;
  cli: ImpersonationServiceClient;
  /** The burst rule in force (run.ts pins it): distinct targets N and window W. */
  burst: { distinctTargets: number; windowMs: number };
  log: (line: string) => void;
}

const domainOf = (d: number) => `customer-${d}.example`;
const seededAccount = (e: number) => `acc-seed-${e}`;
const newGrantId = () => `gr_${randomBytes(12).toString('base64url')}`;

/** One seeded (employee, domain) pair: pair p lies in domain p % DOMAINS, as its (p / DOMAINS)-th employee there. */
function pairOf(p: number, pairsPerDomain: number): { d: number; j: number; e: number } {
  const d = p % DOMAINS;
  const j = Math.floor(p / DOMAINS);
  return { d, j, e: (d * pairsPerDomain + j) % EMPLOYEES };
}

export async function startImpersonationBench(c: StartContext): Promise<string[]> {
  const { h, driver, store, cli, burst, log } = c;
  const { address, pkiDir } = harnessTarget(h);
  const pairs = Math.floor(GRANTS / PER_PAIR);
  const pairsPerDomain = pairs / DOMAINS;
  if (GRANTS % (PER_PAIR * DOMAINS) !== 0) throw new Error(`BENCH_GRANTS (${GRANTS}) must be a multiple of ${PER_PAIR} x BENCH_DOMAINS (${DOMAINS})`);
  if (pairsPerDomain > EMPLOYEES) throw new Error(`${pairsPerDomain} employees per domain needed, BENCH_EMPLOYEES is ${EMPLOYEES}`);
  if (STARTS > pairs) throw new Error(`BENCH_STARTS (${STARTS}) exceeds the ${pairs} seeded (employee, domain) pairs`);
  if (PER_PAIR >= burst.distinctTargets) throw new Error(`the seeded pairs would already be at the burst threshold ${burst.distinctTargets}`);
  const now = h.clock.now();
  const staff = (accountId: string) => ({ accountId, email: `${accountId}@corp.example`, displayName: `Support ${accountId}` });
  const bearerOf = (accountId: string) => h.token({ roles: ['support'], ...staff(accountId) });

  // --- Setup (untimed): GRANTS grants and their burst windows, written through the service's own
  // SQLite repositories on its store (seeding without fsync, restored before timing). Each pair's
  // PER_PAIR grants started 1 to 55 minutes ago (inside the window), 30 minutes long: those already
  // past their expiry are stored EXPIRED and reported, as the expiry job leaves them, so the job
  // has nothing to do during the timed section.
  const t0 = performance.now();
  const grants = new SqliteGrantRepository(store);
  const bursts = new SqliteBurstRepository(store);
  let expired = 0;
  await unsynced(store, () =>
    pool(pairs, PREPARE_CONCURRENCY, (p) => store.run(async (tx) => {
      const { d, j, e } = pairOf(p, pairsPerDomain);
      const who = staff(seededAccount(e));
      const entries: BurstWindow['entries'] = [];
      for (let k = 0; k < PER_PAIR; k++) {
        const startedAt = new Date(now.getTime() - MIN - (((p * PER_PAIR + k) * 7919) % (54 * MIN)));
        const expiresAt = new Date(startedAt.getTime() + 30 * MIN);
        const past = expiresAt.getTime() <= now.getTime();
        if (past) expired++;
        const g: GrantRecord = {
          grantId: newGrantId(),
          employee: { ...who, roles: ['support'] },
          role: 'support',
          targetUserId: `user-${d}-${j}-${k}`,
          customerDomain: domainOf(d),
          reason: 'customer_support_case',
          justification: JUSTIFICATION,
          ticketRef: `SUP-${p}-${k}`,
          startedAt,
          expiresAt,
          state: past ? 'expired' : 'active',
          endedAt: past ? expiresAt : null,
          revokedBy: null,
          revokeReason: null,
          sessionId: `ses-seed-${e}`,
          sourceIp: '127.0.0.1',
          tokenId: randomUUID(),
          expiryReported: past,
        };
        await grants.create(tx, g);
        entries.push({ grantId: g.grantId, targetUserId: g.targetUserId, startedAt });
      }
      if (!(await bursts.put(tx, { accountId: who.accountId, customerDomain: domainOf(d), version: 1, entries, blockingAnomalyId: null }))) throw new Error(`window of pair ${p} exists`);
    })),
  );
  const seeded = await store.exec(undefined, (db) => ({
    grants: db.prepare('SELECT COUNT(*) FROM grants').pluck().get() as number,
    windows: db.prepare('SELECT COUNT(*) FROM burst_windows').pluck().get() as number,
    domains: db.prepare('SELECT COUNT(DISTINCT customer_domain) FROM grants').pluck().get() as number,
  }));
  if (seeded.grants !== GRANTS || seeded.windows !== pairs || seeded.domains !== DOMAINS) {
    throw new Error(`seeded ${seeded.grants} grants, ${seeded.windows} windows, ${seeded.domains} domains; expected ${GRANTS}, ${pairs}, ${DOMAINS}`);
  }
  store.db.pragma('optimize');
  const bearers = Array.from({ length: EMPLOYEES }, (_, e) => bearerOf(seededAccount(e)));
  log(
    `  setup: ${GRANTS} grants (${expired} already EXPIRED) of ${EMPLOYEES} support employees across ${DOMAINS} domains, ${PER_PAIR} distinct targets per (employee, domain) ` +
      `in ${pairs} burst windows (rule: ${burst.distinctTargets} distinct targets within ${Math.round(burst.windowMs / MIN)} min), seeded through SqliteGrantRepository/SqliteBurstRepository ` +
      `in ${((performance.now() - t0) / 1000).toFixed(1)} s (without fsync, restored before timing)`,
  );

  // The calls: start i goes to pair i with a new target (the pair's third distinct one: the rule
  // is evaluated on its 2 live entries and does not fire); consecutive starts go to different domains.
  const calls: StartCall[] = Array.from({ length: STARTS }, (_, i) => {
    const { d, j, e } = pairOf(i, pairsPerDomain);
    return { bearer: bearers[e] as string, targetUserId: `bench-${d}-${j}`, customerDomain: domainOf(d) };
  });
  const run = (list: StartCall[], inFlight: number) => driver.run({ kind: 'start', address, pkiDir, certName: 'cli', calls: list, justification: JUSTIFICATION, ticketRef: TICKET, inFlight });

  // --- Warm-up (untimed): fresh employees in a domain of their own, from the load process.
  const w = await run(
    Array.from({ length: WARMUP }, (_, i) => ({ bearer: bearerOf(`acc-warmup-${i}`), targetUserId: `warm-${i}`, customerDomain: 'warmup.example' })),
    IN_FLIGHT,
  );
  if (w.errorCount > 0) throw new Error(`warm-up StartImpersonation failed (${w.errorCount} calls): ${w.errors.join('; ')}`);

  // The baseline: SqliteGrantRepository.countDistinctTargets (COUNT(DISTINCT target_user_id) over
  // the grants_burst index) for the seeded pairs in turn, IN_FLIGHT at a time on the same store.
  const since = new Date(now.getTime() - burst.windowMs);
  const plan = await store.exec(undefined, (db) =>
    (
      db
        .prepare('EXPLAIN QUERY PLAN SELECT COUNT(DISTINCT target_user_id) AS n FROM grants WHERE account_id = ? AND customer_domain = ? AND started_at >= ?')
        .all(seededAccount(0), domainOf(0), since.getTime()) as Array<{ detail: string }>
    )
      .map((r) => r.detail)
      .join('; '),
  );
  if (!plan.includes('grants_burst')) throw new Error(`the count query does not use the grants_burst index: ${plan}`);
  const countLoop = (seconds: number): Promise<LoopRun> =>
    closedLoop(seconds, IN_FLIGHT, async (i) => {
      const { d, e } = pairOf(i % pairs, pairsPerDomain);
      const n = await grants.countDistinctTargets(seededAccount(e), domainOf(d), since);
      if (n < PER_PAIR) throw new Error(`count query for ${seededAccount(e)} in ${domainOf(d)} answered ${n}, expected at least ${PER_PAIR}`);
    });
  await countLoop(0.2);

  // --- Timed: baseline (first half), service (every start), baseline (second half).
  const b1 = await countLoop(COUNT_SECONDS / 2);
  const events0 = h.events.length;
  const { result: r, store: p, cpuMs: serverCpu, elu } = await probed(store, () => run(calls, IN_FLIGHT));
  const b2 = await countLoop(COUNT_SECONDS / 2);

  // --- Checks: every start made a grant, each window took exactly its one new entry, no anomaly
  // opened, no start was refused, audit confirmed each start.
  if (r.errorCount > 0) throw new Error(`StartImpersonation failed (${r.errorCount} of ${STARTS} calls): ${r.errors.join('; ')}`);
  const ids = new Set(r.grantIds);
  if (r.calls !== STARTS || ids.size !== STARTS || ids.has('')) throw new Error(`${r.calls} answers for ${ids.size} distinct grants, expected ${STARTS}`);
  const stored = await store.exec(undefined, (db) => ({
    rows: db.prepare("SELECT grant_id FROM grants WHERE started_at = ? AND customer_domain LIKE 'customer-%' AND state = 'active'").pluck().all(now.getTime()) as string[],
    total: db.prepare('SELECT COUNT(*) FROM grants').pluck().get() as number,
    anomalies: db.prepare('SELECT COUNT(*) FROM anomalies').pluck().get() as number,
    windows: db.prepare('SELECT COUNT(*) FROM burst_windows WHERE version = 2 AND json_array_length(doc, ?) = ?').pluck().get('$.entries', PER_PAIR + 1) as number,
  }));
  const missing = stored.rows.filter((id) => !ids.has(id)).length;
  if (stored.rows.length !== STARTS || missing > 0) throw new Error(`${stored.rows.length} new ACTIVE grants in the store (${missing} not among the answers), expected ${STARTS}`);
  if (stored.total !== GRANTS + WARMUP + STARTS) throw new Error(`${stored.total} grants in the store, expected ${GRANTS + WARMUP + STARTS}`);
  if (stored.anomalies !== 0) throw new Error(`${stored.anomalies} anomalies opened: the burst rule fired`);
  if (stored.windows !== STARTS) throw new Error(`${stored.windows} burst windows hold ${PER_PAIR + 1} entries at version 2, expected ${STARTS}`);
  const events = h.events.slice(events0);
  const A = auditEventV1.Action;
  // The confirmed intents (the outcomes follow through the outbox, shipped after each commit: not counted here).
  const confirmed = events.filter((e) => e.action === A.ACTION_IMPERSONATION_START && e.outcome === auditEventV1.Outcome.OUTCOME_ATTEMPTED && ids.has(e.subject?.id ?? '')).length;
  const refusals = events.filter((e) => e.action === A.ACTION_IMPERSONATION_REFUSED || e.action === A.ACTION_IMPERSONATION_ANOMALY).length;
  if (confirmed !== STARTS || refusals > 0) throw new Error(`audit received ${confirmed} start events (expected ${STARTS}) and ${refusals} refused/anomaly events (expected 0)`);

  const rate = r.calls / (r.elapsedMs / 1000);
  const base = (b1.calls + b2.calls) / ((b1.ms + b2.ms) / 1000);
  const n = r.calls;
  const per = (x: number) => (x / n).toFixed(3);
  log(`  StartImpersonation over gRPC/mTLS (operator cli, support sessions, ${IN_FLIGHT} in flight from one load process, ${STARTS} starts, each the third distinct target of a seeded (employee, domain)):`);
  log(
    `    impersonation  ${rate.toFixed(0)} starts/s; latency ${latencyText(r.latencies)}; ` +
      `service process CPU ${(serverCpu / n).toFixed(2)} ms/start (with its in-process audit double and fake allowlist), load process CPU ${(r.cpuMs / n).toFixed(2)} ms/start`,
  );
  log(
    `    baseline       ${base.toFixed(0)} count queries/s; latency ${latencyText([...b1.latencies, ...b2.latencies])}: ` +
      `SqliteGrantRepository.countDistinctTargets of the seeded pairs on the service's own store, ${IN_FLIGHT} in flight, ${COUNT_SECONDS} s in two halves (plan: ${plan})`,
  );
  log(`    in order: baseline ${(b1.calls / (b1.ms / 1000)).toFixed(0)}, impersonation ${rate.toFixed(0)}, baseline ${(b2.calls / (b2.ms / 1000)).toFixed(0)} per second`);
  log(
    `    checked: ${n} answers with an ACTIVE grant and a token, ${stored.rows.length} new ACTIVE grants stored (${stored.total} in all), ` +
      `${stored.windows} windows now at ${PER_PAIR + 1} entries, ${stored.anomalies} anomalies, ${confirmed} start events confirmed by audit, ${refusals} refused/anomaly events`,
  );
  log(
    `    service store per start: ${per(p.calls)} store calls, ${per(p.commits)} writing calls (units and writes of their own; units share group-commit COMMITs, counted in the floor comparison below), ` +
      `${per(p.heldMs)} ms holding the store lock, ${per(p.waitedMs)} ms waiting for it; lock busy ${((100 * p.heldMs) / r.elapsedMs).toFixed(0)}% of the timed section`,
  );
  // better-sqlite3 is synchronous: each commit's fsync blocks the event loop, which every other
  // step of the call (both ends of gRPC/TLS, the allowlist Check, the audit Append) needs as well.
  const baseBusy = (b1.busyMs + b2.busyMs) / (b1.calls + b2.calls);
  log(
    `    where the time goes: the service process's event loop was busy ${(100 * elu.utilization).toFixed(0)}% of the timed section, ${per(elu.active)} ms per start: ` +
      `${per(p.heldMs)} ms synchronous SQLite under the store lock, ${per(elu.active - p.heldMs)} ms the rest ` +
      `(gRPC/TLS of the call, session check, both ends of the allowlist Check and the audit Append, token signing); ` +
      `the baseline's loop: ${baseBusy.toFixed(3)} ms per count query, so one loop allows at most ~${(1000 / (elu.active / n)).toFixed(0)} vs ~${(1000 / baseBusy).toFixed(0)} per second`,
  );

  // --- Breakdown (diagnostic, untimed): one start at a time over gRPC, and in-process on the
  // service's own Impersonation object with its ports timed. Fresh employees, domains of their own.
  const one = await run(
    Array.from({ length: BREAKDOWN }, (_, i) => ({ bearer: bearerOf(`acc-one-${i}`), targetUserId: `one-${i}`, customerDomain: 'one-at-a-time.example' })),
    1,
  );
  if (one.errorCount > 0) throw new Error(`StartImpersonation one at a time failed (${one.errorCount} calls): ${one.errors.join('; ')}`);
  const imp = await catchImpersonation(cli, bearerOf('acc-breakdown-catch'));
  const caller = { ip: '127.0.0.1', identity: 'operator:cli' };
  const bd = await portBreakdown(imp, BREAKDOWN, (i) =>
    imp.start(
      { ...staff(`acc-breakdown-${i}`), roles: ['support'], sessionId: `ses-breakdown-${i}` },
      { targetUserId: `in-process-${i}`, customerDomain: 'breakdown.example', reason: 'customer_support_case', justification: JUSTIFICATION, ticketRef: TICKET, durationMs: undefined },
      { ...caller, requestId: randomUUID() },
    ),
  );
  log(
    `    one start at a time (${BREAKDOWN} each): over gRPC p50 ${percentile(one.latencies, 0.5).toFixed(3)} ms; ` +
      `in-process Impersonation.start ${bd.meanMs.toFixed(3)} ms, of which (ms per start, calls; allowlist and audit are gRPC calls to the in-process doubles):`,
  );
  for (const l of bd.lines) log(`      ${l}`);
  // The raw-count line stays, unchanged, second (after the goal against the floor), so the history stays comparable.
  const raw = benchLine({ name: 'impersonation-start-grpc', value: rate, unit: 'starts/s', baseline: base, baselineUnit: 'raw indexed count queries/s' });
  const vs = await startVsFloor(c, imp, bearerOf);
  return [vs.goal, raw, ...vs.lines];
}

const rateOf = (r: LoopRun) => (r.calls / r.ms) * 1000;
const merged = (a: LoopRun, b: LoopRun): LoopRun => ({ calls: a.calls + b.calls, ms: a.ms + b.ms, latencies: [...a.latencies, ...b.latencies], busyMs: a.busyMs + b.busyMs });

/**
 * StartImpersonation against its floor (issue 14 item 7; floor.ts): the real call and the strict
 * floor driven by the same closed loop from this process, FLOOR_IN_FLIGHT (16, then 100) calls in
 * flight, in the order floor, real, real, floor (SECONDS / 4 each), the informative "floor + waits"
 * (Check and confirmed Append round trips before the commit) before and after them. Each real start
 * is a fresh (employee, domain) pair: the window is new, the rule is evaluated on no entry. Checked
 * afterwards: every answer an ACTIVE grant with a token, as many grants and windows stored, audit
 * confirmed every intent and refused none. Breakdown of the real phases: durable commits (COMMITs
 * of group-commit batches plus writes committed on their own) and units per start, time in the
 * ports per start (audit confirm, allowlist Check, the unit), the event loop's busy time and CPU.
 */
async function startVsFloor(c: StartContext, imp: Impersonation, bearerOf: (accountId: string) => string): Promise<{ goal: string; lines: string[] }> {
  const { h, store, cli, log } = c;
  const { pkiDir } = harnessTarget(h);
  const bearers = Array.from({ length: FLOOR_BEARERS }, (_, e) => bearerOf(`acc-floor-${e}`));
  let next = 0;
  const request = (i: number) =>
    impersonationV1.StartImpersonationRequest.fromPartial({
      targetUserId: `floor-target-${i}`,
      customerDomain: `floor-${Math.floor(i / FLOOR_BEARERS)}.example`,
      reason: impersonationV1.ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE,
      justification: JUSTIFICATION,
      ticketRef: TICKET,
    });
  const grantIds = new Set<string>();
  const real = async () => {
    const i = next++;
    const res = await call(cli, cli.startImpersonation, request(i), { bearer: bearers[i % FLOOR_BEARERS] as string });
    const g = res.grant;
    if (!g || g.state !== impersonationV1.GrantState.GRANT_STATE_ACTIVE || res.impersonationToken === '') throw new Error(`StartImpersonation ${i} answered ${g ? `grant ${g.grantId} in state ${g.state}` : 'no grant'}`);
    grantIds.add(g.grantId);
  };
  // A real answer, so the floor's canned one has its size (this start is checked and counted too).
  const sample = await call(cli, cli.startImpersonation, request(next++), { bearer: bearers[0] as string });
  if (sample.grant) grantIds.add(sample.grant.grantId);
  const floors = await startStartFloors(pkiDir, sample);
  const material = { ...(await loadTlsMaterial(pkiDir, 'cli')), expectedServerName: 'impersonation' };
  const strictClient = dial(ImpersonationServiceClient, floors.strict, { mode: 'mtls', material });
  const waitsClient = dial(ImpersonationServiceClient, floors.withWaits, { mode: 'mtls', material });
  const viaFloor = (client: ImpersonationServiceClient) => async () => {
    const i = next;
    await call(client, client.startImpersonation, request(i), { bearer: bearers[i % FLOOR_BEARERS] as string });
  };
  const events0 = h.events.length;
  const goal: string[] = [];
  const lines: string[] = [];
  try {
    // Warm-up (untimed): connections, TLS, JIT of both floors and of the real path.
    await closedLoop(0.3, 16, viaFloor(strictClient));
    await closedLoop(0.3, 16, viaFloor(waitsClient));
    await closedLoop(0.3, 16, real);
    for (const inFlight of [16, 100]) {
      const w1 = await closedLoop(FLOOR_SECONDS / 4, inFlight, viaFloor(waitsClient));
      const f1 = await closedLoop(FLOOR_SECONDS / 4, inFlight, viaFloor(strictClient));
      const bd = await measuredPhase(store, imp, () => closedLoop(FLOOR_SECONDS / 4, inFlight, real));
      const bd2 = await measuredPhase(store, imp, () => closedLoop(FLOOR_SECONDS / 4, inFlight, real));
      const f2 = await closedLoop(FLOOR_SECONDS / 4, inFlight, viaFloor(strictClient));
      const w2 = await closedLoop(FLOOR_SECONDS / 4, inFlight, viaFloor(waitsClient));
      const r = merged(bd.run, bd2.run);
      const f = merged(f1, f2);
      const w = merged(w1, w2);
      const ratio = rateOf(r) / rateOf(f);
      log(
        `  StartImpersonation at ${inFlight} in flight (closed loop in this process, fresh (employee, domain) per start): ${rateOf(r).toFixed(0)}/s (${latencyText(r.latencies)}); ` +
          `floor (mTLS RPC + one fsynced commit of ${START_ROWS} rows) ${rateOf(f).toFixed(0)}/s (${latencyText(f.latencies)}); ratio ${ratio.toFixed(3)}`,
      );
      log(
        `    floor + waits (the floor after one allowlist Check round trip and one confirmed audit Append round trip, each to a bare server): ${rateOf(w).toFixed(0)}/s (${latencyText(w.latencies)}); ` +
          `StartImpersonation / floor + waits ${(rateOf(r) / rateOf(w)).toFixed(3)}`,
      );
      log(`    phases in order: floor + waits ${rateOf(w1).toFixed(0)}, floor ${rateOf(f1).toFixed(0)}, StartImpersonation ${rateOf(bd.run).toFixed(0)}, StartImpersonation ${rateOf(bd2.run).toFixed(0)}, floor ${rateOf(f2).toFixed(0)}, floor + waits ${rateOf(w2).toFixed(0)} calls/s`);
      for (const l of breakdownText(bd, bd2, f)) log(`    ${l}`);
      if (inFlight === 16) goal.push(goalLine('impersonation-start-vs-floor', ratio, GOAL));
      lines.push(benchLine({ name: `impersonation-start-vs-floor-${inFlight}`, value: rateOf(r), unit: 'starts/s', baseline: rateOf(f), baselineUnit: 'floor calls/s' }));
      lines.push(`latency impersonation-start-${inFlight}: ${latencyText(r.latencies)}; floor ${latencyText(f.latencies)}; floor + waits ${latencyText(w.latencies)}`);
      lines.push(
        `info impersonation-start-vs-floor-with-waits-${inFlight}: ${rateOf(r).toFixed(0)} starts/s; floor + Check + confirmed Append ${rateOf(w).toFixed(0)} calls/s; ratio ${(rateOf(r) / rateOf(w)).toFixed(2)} (not a goal)`,
      );
    }
  } finally {
    strictClient.close();
    waitsClient.close();
    await floors.close();
  }

  // Checks of the real starts: grants, windows and confirmed intents, one each; nothing refused.
  const stored = await store.exec(undefined, (db) => ({
    grants: db.prepare("SELECT COUNT(*) FROM grants WHERE customer_domain LIKE 'floor-%' AND state = 'active'").pluck().get() as number,
    windows: db.prepare("SELECT COUNT(*) FROM burst_windows WHERE customer_domain LIKE 'floor-%' AND version = 1").pluck().get() as number,
    anomalies: db.prepare('SELECT COUNT(*) FROM anomalies').pluck().get() as number,
  }));
  const A = auditEventV1.Action;
  const events = h.events.slice(events0);
  const confirmed = events.filter((e) => e.action === A.ACTION_IMPERSONATION_START && e.outcome === auditEventV1.Outcome.OUTCOME_ATTEMPTED && grantIds.has(e.subject?.id ?? '')).length;
  const refusals = events.filter((e) => e.action === A.ACTION_IMPERSONATION_REFUSED || e.action === A.ACTION_IMPERSONATION_ANOMALY).length;
  // The sample start's intent was confirmed before events0.
  if (stored.grants !== grantIds.size || stored.windows !== grantIds.size || stored.anomalies !== 0 || confirmed !== grantIds.size - 1 || refusals > 0) {
    throw new Error(
      `against the floor: ${grantIds.size} starts answered; ${stored.grants} grants and ${stored.windows} windows stored, ${stored.anomalies} anomalies, ${confirmed + 1} intents confirmed, ${refusals} refused/anomaly events`,
    );
  }
  log(`    checked: ${grantIds.size} starts answered with an ACTIVE grant and a token, ${stored.grants} grants and ${stored.windows} new windows stored, ${confirmed + 1} intents confirmed by audit, ${refusals} refused/anomaly events, ${stored.anomalies} anomalies`);
  return { goal: goal[0] as string, lines };
}

/** What the service did during one timed phase of real starts. */
interface Phase {
  run: LoopRun;
  /** COMMITs of group-commit batches (each one fsync). */
  batchCommits: number;
  /** Units of work (SqliteStore.run) and writes committed on their own (exec without a tx that changed rows: one fsync each). */
  units: number;
  ownCommits: number;
  /** Store calls without a tx (reads and own writes): each one ends an open batch first. */
  bareCalls: number;
  cpuMs: number;
  ports: Map<string, PortStat>;
}

/** Runs one phase with the store's COMMITs counted and the domain's ports timed. */
async function measuredPhase(store: SqliteStore, imp: Impersonation, phase: () => Promise<LoopRun>): Promise<Phase> {
  let batchCommits = 0;
  const db = store.db as unknown as { exec: (sql: string) => unknown };
  const exec = db.exec.bind(db);
  db.exec = (sql: string) => {
    if (sql === 'COMMIT') batchCommits++;
    return exec(sql);
  };
  const probe = probeStore(store, (kind) => kind);
  const d = (imp as unknown as { d: Record<'allowlist' | 'audit' | 'uow', object> }).d;
  const timers = timePorts(d, ['allowlist', 'audit', 'uow']);
  const cpu0 = process.cpuUsage();
  try {
    const run = await phase();
    const cpu = process.cpuUsage(cpu0);
    return {
      run,
      batchCommits,
      units: probe.byClass.get('run')?.calls ?? 0,
      ownCommits: probe.byClass.get('exec')?.commits ?? 0,
      bareCalls: probe.byClass.get('exec')?.calls ?? 0,
      cpuMs: (cpu.user + cpu.system) / 1000,
      ports: new Map(timers.stats),
    };
  } finally {
    timers.restore();
    probe.detach();
    delete (db as Record<string, unknown>)['exec'];
  }
}

/** The breakdown lines of two real phases against the floor's. */
function breakdownText(a: Phase, b: Phase, floor: LoopRun): string[] {
  const n = a.run.calls + b.run.calls;
  const per = (x: number) => (x / n).toFixed(2);
  const port = (k: string) => {
    const s = [a, b].reduce((acc, p) => ({ calls: acc.calls + (p.ports.get(k)?.calls ?? 0), ms: acc.ms + (p.ports.get(k)?.ms ?? 0) }), { calls: 0, ms: 0 });
    return `${per(s.ms)} ms (${per(s.calls)} calls)`;
  };
  const busy = a.run.busyMs + b.run.busyMs;
  return [
    `breakdown per start: ${per(a.batchCommits + b.batchCommits + a.ownCommits + b.ownCommits)} durable commits (fsyncs): ${per(a.batchCommits + b.batchCommits)} group-commit COMMITs ` +
      `for ${per(a.units + b.units)} units (${((a.units + b.units) / Math.max(1, a.batchCommits + b.batchCommits)).toFixed(2)} units per COMMIT), ` +
      `${per(a.ownCommits + b.ownCommits)} writes committed on their own (exec without a tx); ${per(a.bareCalls + b.bareCalls)} store calls without a tx (each ends an open batch)`,
    `  waiting per start: audit confirm (intent to the outbox, relay, Append, ack) ${port('audit.confirm')}, allowlist Check ${port('allowlist.isAllowlisted')}, units ${port('uow.run')}; latency p50 ${percentile([...a.run.latencies, ...b.run.latencies], 0.5).toFixed(2)} ms`,
    `  this process's event loop busy ${((100 * busy) / (a.run.ms + b.run.ms)).toFixed(0)}%, ${per(busy)} ms per start (floor: ${(floor.busyMs / floor.calls).toFixed(2)} ms per call), ` +
      `CPU ${per(a.cpuMs + b.cpuMs)} ms per start (the client, the service, the audit double and the fake allowlist share this process)`,
  ];
}
