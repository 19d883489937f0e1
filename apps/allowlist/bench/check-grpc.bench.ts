// `nx run allowlist:bench` (part 2): Check throughput over gRPC (mTLS) from several load
// processes against the real service holding the bench data, and against a bare RPC on the same
// server setup answering the same bytes from a map, driven the same way in the same run (bare,
// allowlist, allowlist, bare). See run.ts for why this baseline.
import { AllowlistServiceService, SERVICE_NAMES, allowlistV1, auditEventV1, commonV1, type AllowlistServiceClient } from '@gatehouse/contracts';
import { call, unary } from '@gatehouse/service-kit';
import { benchLine, figureText, harnessTarget, loadPhase, mergePhases, serverCpuRatioText, startBareRpc, type LoadPhase } from '@gatehouse/testing';
import { AllowlistIndex } from '../src/domain/allowlist-index.js';
import { allowlistPolicy } from '../src/rpc/allowlist-rpc.js';
import { allowlistStores } from '../src/store/schema.js';
import type { HostedService } from '@gatehouse/service-host';
import type { AllowlistHarness } from '../src/test-support/harness.js';
import { envNumber, goalLine, latencyText, pct, pool, unsynced, type CheckCall, type DriverResult, type BenchLoadDriver } from './bench-support.js';
import type { BenchData } from './data.js';

const SECONDS = envNumber('BENCH_SECONDS', 6);
/** Calls in flight per load process. */
const IN_FLIGHT = Math.trunc(envNumber('BENCH_CHECK_IN_FLIGHT', 16));
/** Seeding and recording run this many at once. */
const PREPARE_CONCURRENCY = 32;
const GOAL = 0.8;
const ENV = { live: commonV1.Environment.ENVIRONMENT_LIVE, staging: commonV1.Environment.ENVIRONMENT_STAGING } as const;

const keyOf = (ip: string, accountId: string | undefined, environment: number) => `${ip}\u0000${accountId ?? ''}\u0000${environment}`;

/** Every load process runs Check against `address` for `seconds`, from one common instant. */
function phase(drivers: BenchLoadDriver[], address: string, pkiDir: string, calls: CheckCall[], seconds: number, health = false): Promise<LoadPhase<DriverResult>> {
  const timing = { leadMs: 1500, seconds, inFlight: IN_FLIGHT, requests: health ? 1 : calls.length };
  const what = health ? 'grpc.health Check' : 'Check';
  return loadPhase(drivers, timing, (d, loop) => d.run({ kind: 'check', address, pkiDir, certName: 'other-backend', calls, health, ...loop }), `${what} failed against ${address}`);
}

/** Successful calls answered DENY, over the phases. */
const deniesOf = (...phases: Array<LoadPhase<DriverResult>>) => phases.reduce((a, p) => a + p.results.reduce((b, r) => b + r.denies, 0), 0);

/** Loads the bench data into the running service's store through its own repositories, then makes it reload. */
async function seed(h: AllowlistHarness, data: BenchData, cli: AllowlistServiceClient, log: (line: string) => void): Promise<void> {
  const opened = (h.replicas[0] as HostedService).store;
  const stores = allowlistStores(opened);
  const t0 = performance.now();
  const fill = async () => {
    await pool(data.entries.length, PREPARE_CONCURRENCY, (i) => opened.store.run((tx) => stores.entries.create(tx, data.entries[i] as BenchData['entries'][number])));
    await pool(data.dailies.length, PREPARE_CONCURRENCY, (i) =>
      opened.store.run(async (tx) => {
        const r = await stores.dailyIps.create(tx, data.dailies[i] as BenchData['dailies'][number]);
        if (r !== 'created') throw new Error(`daily IP ${i} not created: ${r}`);
      }),
    );
  };
  // Seeding only: one commit per repository call, so fsync is switched off meanwhile and restored before anything is timed.
  await (opened.backend === 'sqlite' ? unsynced(opened.store, fill) : fill());
  await opened.store.run((tx) => stores.version.bump(tx));
  const seeded = performance.now();
  // The replica polls the change version every 250 ms: wait until a daily IP allows.
  const probe = data.dailies[0] as BenchData['dailies'][number];
  const environment = probe.scope === 'staging' ? ENV.staging : ENV.live;
  for (let i = 0; ; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const r = await call(cli, cli.check, { ip: probe.ip, accountId: probe.accountId, environment });
    if (r.decision === allowlistV1.CheckDecision.CHECK_DECISION_ALLOW) break;
    if (i > 100) throw new Error('the service did not pick up the seeded data within 5 s');
  }
  const reloaded = performance.now();

  // For information: a full reload as each replica does it every 30 s (store read, JSON, build), all on the event loop.
  const r0 = performance.now();
  const [entries, dailies] = await Promise.all([stores.entries.listActive(), stores.dailyIps.listUnexpired(h.clock.now())]);
  const r1 = performance.now();
  const rebuilt = new AllowlistIndex(entries, dailies);
  const r2 = performance.now();
  log(
    `  seeded ${data.entries.length} entries + ${data.dailies.length} daily IPs through the repositories in ${((seeded - t0) / 1000).toFixed(1)} s; ` +
      `replica reloaded ${(reloaded - seeded).toFixed(0)} ms after the version bump`,
  );
  log(`  full reload (every 30 s per replica): store read + JSON ${(r1 - r0).toFixed(0)} ms, index build ${(r2 - r1).toFixed(0)} ms (${rebuilt.size.entries} + ${rebuilt.size.daily})`);
}

export async function grpcBench(h: AllowlistHarness, drivers: BenchLoadDriver[], data: BenchData, log: (line: string) => void): Promise<string[]> {
  const { address: realAddress, pkiDir } = harnessTarget(h);
  const cli = await h.client('other-backend');
  await seed(h, data, cli, log);

  // Record the service's answer to every query (the bare RPC replays them: same response bytes)
  // and check each decision against the in-process index built from the same data.
  const reference = new AllowlistIndex(data.entries, data.dailies);
  const calls: CheckCall[] = data.queries.map((q) => ({ ip: q.ip, accountId: q.accountId, environment: ENV[q.env] }));
  const answers = new Map<string, allowlistV1.CheckResponse>();
  let mismatches = 0;
  const t0 = performance.now();
  await pool(calls.length, PREPARE_CONCURRENCY, async (i) => {
    const c = calls[i] as CheckCall;
    const q = data.queries[i] as BenchData['queries'][number];
    const r = await call(cli, cli.check, { ip: c.ip, environment: c.environment, ...(c.accountId !== undefined ? { accountId: c.accountId } : {}) });
    answers.set(keyOf(c.ip, c.accountId, c.environment), r);
    const expected = reference.check(q.ip, q.accountId, q.env, h.clock.now());
    if ((r.decision === allowlistV1.CheckDecision.CHECK_DECISION_ALLOW) !== expected.allow) mismatches++;
  });
  if (mismatches > 0) throw new Error(`${mismatches} of ${calls.length} gRPC decisions differ from the in-process index on the same data`);
  const sizes = [...answers.values()].map((a) => allowlistV1.CheckResponse.encode(a).finish().length);
  log(
    `  recorded ${answers.size} answers in ${((performance.now() - t0) / 1000).toFixed(1)} s (all agree with the in-process index); ` +
      `response ${Math.min(...sizes)}–${Math.max(...sizes)} bytes, mean ${(sizes.reduce((a, b) => a + b, 0) / sizes.length).toFixed(0)}`,
  );
  await h.drainAudit();

  // The bare RPC: a kit server like the allowlist's (the same caller policy) whose Check returns
  // the recorded answer for the request: one Map.get, no parsing, no audit.
  const echo = await startBareRpc({
    service: 'allowlist',
    pkiDir,
    binding: {
      name: SERVICE_NAMES.allowlist,
      definition: AllowlistServiceService,
      policy: allowlistPolicy,
      handlers: {
        Check: unary<allowlistV1.CheckRequest, allowlistV1.CheckResponse>(async (req) => {
          const a = answers.get(keyOf(req.ip, req.accountId, req.environment));
          if (!a) throw new Error('the bare RPC has no recorded answer for this request');
          return a;
        }),
      },
    },
  });
  try {
    const bareAddress = `127.0.0.1:${echo.port}`;
    const half = SECONDS / 2;
    // The edge's floor on the same service: grpc.health Check through the same gatekeeper and
    // connection (issue 17's goal: Check at 0.8 of it), before and after the Check phases.
    const health1 = await phase(drivers, realAddress, pkiDir, calls, half, true);
    const b1 = await phase(drivers, bareAddress, pkiDir, calls, half);
    await h.drainAudit();
    const events0 = h.events.length;
    const r1 = await phase(drivers, realAddress, pkiDir, calls, half);
    const r2 = await phase(drivers, realAddress, pkiDir, calls, half);
    await h.drainAudit();
    const auditEvents = h.events.slice(events0).filter((e) => e.action === auditEventV1.Action.ACTION_ALLOWLIST_CHECK_DENY);
    const b2 = await phase(drivers, bareAddress, pkiDir, calls, half);
    const health2 = await phase(drivers, realAddress, pkiDir, calls, half, true);
    const health = mergePhases([health1, health2]);
    // Diagnostic (not part of the ratio): the real service with only the requests it allows, so no denial audit at all.
    const allowOnly = calls.filter((c) => answers.get(keyOf(c.ip, c.accountId, c.environment))?.decision === allowlistV1.CheckDecision.CHECK_DECISION_ALLOW);
    const a = await phase(drivers, realAddress, pkiDir, allowOnly, half);
    const base = { ...mergePhases([b1, b2]), denies: deniesOf(b1, b2) };
    const real = { ...mergePhases([r1, r2]), denies: deniesOf(r1, r2) };
    const where = `${drivers.length} load processes x ${IN_FLIGHT} in flight, ${calls.length} distinct requests, ${SECONDS} s each in two halves`;
    log(`  Check over gRPC (${where}):`);
    log(`    ${figureText('allowlist', real)}`);
    log(`    ${figureText('bare RPC ', base)}`);
    log(`    phases in order: bare ${b1.rate.toFixed(0)}, allowlist ${r1.rate.toFixed(0)}, allowlist ${r2.rate.toFixed(0)}, bare ${b2.rate.toFixed(0)} calls/s`);
    const identified = auditEvents.filter((e) => e.actor?.id).length;
    // The drivers' warm-up calls (50 per driver and phase) are not in the counts but are audited too.
    const audited = real.calls + 2 * 50 * drivers.length;
    log(
      `    denials: ${pct(real.denies, real.calls)} of the allowlist answers (bare replayed ${pct(base.denies, base.calls)}); ` +
        `${auditEvents.length} check_deny audit events (${identified} naming an account, one each; anonymous ones grouped) for ~${audited} Checks, ` +
        `${((1000 * auditEvents.length) / audited).toFixed(0)} per 1000 Checks, written to the outbox every 500 ms and shipped by the relay in the same process`,
    );
    log(
      `    diagnostic, allowlist with only the ${allowOnly.length} requests it allows (no denial audit): ${a.rate.toFixed(0)} calls/s; latency ${latencyText(a.latencies)}; ` +
        `server CPU ${(a.serverCpuMs / a.calls).toFixed(3)} ms/call (after bare ${b2.rate.toFixed(0)} calls/s)`,
    );
    log(`    ${serverCpuRatioText('allowlist', base, real)}`);
    log(`    ${figureText('grpc.health Check on the allowlist', health)}; phases ${health1.rate.toFixed(0)}, ${health2.rate.toFixed(0)} calls/s`);
    return [
      goalLine('allowlist-check-vs-health', real.rate / health.rate, GOAL),
      benchLine({ name: 'allowlist-check-vs-health', value: real.rate, unit: 'Check/s', baseline: health.rate, baselineUnit: 'health Check/s' }),
      goalLine('allowlist-check-grpc', real.rate / base.rate, GOAL),
      benchLine({ name: 'allowlist-check-grpc', value: real.rate, unit: 'Check/s', baseline: base.rate, baselineUnit: 'bare RPCs/s' }),
    ];
  } finally {
    await echo.shutdown('bench over');
  }
}
