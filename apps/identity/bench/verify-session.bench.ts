// `nx run identity:bench` (part 2): VerifySession throughput over gRPC (mTLS) from several load
// processes, against a bare RPC on the same server setup answering the same bytes without doing
// anything, driven the same way in the same run (bare, identity, identity, bare). See run.ts for
// why this baseline.
import { IdentityServiceService, SERVICE_NAMES, descriptorSet, type identityV1 } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { call, callers, createLogger, sameRuleForAll, startServer, unary } from '@gatehouse/service-kit';
import { benchLine } from '@gatehouse/testing';
import type { IdentityHarness } from '../src/test-support/harness.js';
import { envNumber, goalLine, latencyText, type DriverResult, type BenchLoadDriver } from './bench-support.js';

const SECONDS = envNumber('BENCH_SECONDS', 4);
/** Calls in flight per load process. */
const IN_FLIGHT = Math.trunc(envNumber('BENCH_SESSION_IN_FLIGHT', 16));
const GOAL = 0.7;
const CLIENT_IP = '127.0.0.1';
/** The rate limits the identity harness configures, so neither server throttles the load. */
const RATE_LIMITS = { perCaller: { ratePerSec: 100000, burst: 100000 }, perIp: { ratePerSec: 100000, burst: 100000 } };

interface Phase {
  /** Calls per second, summed over the load processes. */
  rate: number;
  calls: number;
  latencies: number[];
  serverCpuMs: number;
  clientCpuMs: number;
}

/** Every load process runs VerifySession against `address` for `seconds`, from one common instant. */
async function phase(drivers: BenchLoadDriver[], address: string, pkiDir: string, tokens: string[], seconds: number): Promise<Phase> {
  const startAt = Date.now() + 1500;
  let cpu0 = process.cpuUsage();
  const mark = setTimeout(() => (cpu0 = process.cpuUsage()), startAt - Date.now());
  const results: DriverResult[] = await Promise.all(
    drivers.map((d) => d.run({ kind: 'session', address, pkiDir, certName: 'web', tokens, clientIp: CLIENT_IP, seconds, startAt, inFlight: IN_FLIGHT })),
  );
  clearTimeout(mark);
  const cpu = process.cpuUsage(cpu0);
  for (const r of results) if (r.errorCount > 0) throw new Error(`VerifySession failed against ${address} (${r.errorCount} calls): ${r.errors.join('; ')}`);
  return {
    rate: results.reduce((a, r) => a + r.calls / (r.elapsedMs / 1000), 0),
    calls: results.reduce((a, r) => a + r.calls, 0),
    latencies: results.flatMap((r) => r.latencies),
    serverCpuMs: (cpu.user + cpu.system) / 1000,
    clientCpuMs: results.reduce((a, r) => a + r.cpuMs, 0),
  };
}

/** Two phases of the same target as one figure (mean rate, pooled latencies and CPU). */
function merge(a: Phase, b: Phase): { rate: number; latencies: number[]; serverCpuPerCallMs: number; clientCpuPerCallMs: number } {
  const calls = a.calls + b.calls;
  return {
    rate: (a.rate + b.rate) / 2,
    latencies: [...a.latencies, ...b.latencies],
    serverCpuPerCallMs: (a.serverCpuMs + b.serverCpuMs) / calls,
    clientCpuPerCallMs: (a.clientCpuMs + b.clientCpuMs) / calls,
  };
}

export async function verifySessionBench(h: IdentityHarness, drivers: BenchLoadDriver[], tokens: string[], log: (line: string) => void): Promise<string[]> {
  if (tokens.length === 0) throw new Error('no session tokens to verify');
  const pkiDir = `${h.dir}/pki`;
  // The bare RPC answers what identity answers for these tokens (same response size), from a
  // kit server like identity's: mTLS with the identity certificate, gatekeeper (caller policy,
  // rate limits, metrics), the same limits and the one unary adapter.
  const web = await h.client('web');
  const answer: identityV1.VerifySessionResponse = await call(web, web.verifySession, { sessionToken: tokens[0] ?? '', clientIp: CLIENT_IP });
  if (!answer.valid) throw new Error('identity refused the benchmark session token');
  const echo = await startServer({
    service: 'identity',
    version: 'bench',
    host: '127.0.0.1',
    port: 0,
    security: { mode: 'mtls', material: await loadTlsMaterial(pkiDir, 'identity') },
    services: [
      {
        name: SERVICE_NAMES.identity,
        definition: IdentityServiceService,
        policy: sameRuleForAll(IdentityServiceService, callers.servicesAndBackends),
        handlers: { VerifySession: unary<identityV1.VerifySessionRequest, identityV1.VerifySessionResponse>(async () => answer) },
      },
    ],
    descriptorSet: descriptorSet(),
    log: createLogger({ service: 'bench-echo', level: 'silent' }),
    rateLimits: RATE_LIMITS,
  });
  try {
    // Bare, identity, identity, bare: half the time each, so a drift of the machine cancels out.
    const bareAddress = `127.0.0.1:${echo.port}`;
    const half = SECONDS / 2;
    const b1 = await phase(drivers, bareAddress, pkiDir, tokens, half);
    const r1 = await phase(drivers, h.address, pkiDir, tokens, half);
    const r2 = await phase(drivers, h.address, pkiDir, tokens, half);
    const b2 = await phase(drivers, bareAddress, pkiDir, tokens, half);
    const base = merge(b1, b2);
    const real = merge(r1, r2);
    const where = `${drivers.length} load processes x ${IN_FLIGHT} in flight, ${tokens.length} distinct tokens, ${SECONDS} s each in two halves`;
    log(`  VerifySession (${where}):`);
    log(`    identity  ${real.rate.toFixed(0)} calls/s; latency ${latencyText(real.latencies)}; server CPU ${real.serverCpuPerCallMs.toFixed(3)} ms/call, load CPU ${real.clientCpuPerCallMs.toFixed(3)} ms/call`);
    log(`    bare RPC  ${base.rate.toFixed(0)} calls/s; latency ${latencyText(base.latencies)}; server CPU ${base.serverCpuPerCallMs.toFixed(3)} ms/call, load CPU ${base.clientCpuPerCallMs.toFixed(3)} ms/call`);
    log(`    phases in order: bare ${b1.rate.toFixed(0)}, identity ${r1.rate.toFixed(0)}, identity ${r2.rate.toFixed(0)}, bare ${b2.rate.toFixed(0)} calls/s`);
    // On 2 cores the load processes take about as much CPU as the server, so the throughput ratio
    // is partly client-bound; the CPU the server spends per call says what a saturated server would do.
    log(`    server CPU per call, bare / identity: ${(base.serverCpuPerCallMs / real.serverCpuPerCallMs).toFixed(2)} (the ratio a CPU-bound server would show)`);
    return [
      goalLine('identity-verify-session', real.rate / base.rate, GOAL),
      benchLine({ name: 'identity-verify-session', value: real.rate, unit: 'VerifySession/s', baseline: base.rate, baselineUnit: 'bare RPCs/s' }),
    ];
  } finally {
    await echo.shutdown('bench over');
  }
}
