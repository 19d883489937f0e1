// `nx run identity:bench` (part 2): VerifySession throughput over gRPC (mTLS) from several load
// processes, against a bare RPC on the same server setup answering the same bytes without doing
// anything, driven the same way in the same run (bare, identity, identity, bare). See run.ts for
// why this baseline.
import { IdentityServiceService, SERVICE_NAMES, type identityV1 } from '@gatehouse/contracts';
import { call, callers, sameRuleForAll, unary } from '@gatehouse/service-kit';
import { benchLine, figureText, loadPhase, mergePhases, serverCpuRatioText, startBareRpc, type LoadPhase } from '@gatehouse/testing';
import type { IdentityHarness } from '../src/test-support/harness.js';
import { envNumber, goalLine, type BenchLoadDriver } from './bench-support.js';

const SECONDS = envNumber('BENCH_SECONDS', 4);
/** Calls in flight per load process. */
const IN_FLIGHT = Math.trunc(envNumber('BENCH_SESSION_IN_FLIGHT', 16));
const GOAL = 0.7;
const CLIENT_IP = '127.0.0.1';

/** Every load process runs VerifySession against `address` for `seconds`, from one common instant. */
function phase(drivers: BenchLoadDriver[], address: string, pkiDir: string, tokens: string[], seconds: number): Promise<LoadPhase> {
  const timing = { leadMs: 1500, seconds, inFlight: IN_FLIGHT };
  return loadPhase(drivers, timing, (d, loop) => d.run({ kind: 'session', address, pkiDir, certName: 'web', tokens, clientIp: CLIENT_IP, ...loop }), `VerifySession failed against ${address}`);
}

export async function verifySessionBench(h: IdentityHarness, drivers: BenchLoadDriver[], tokens: string[], log: (line: string) => void): Promise<string[]> {
  if (tokens.length === 0) throw new Error('no session tokens to verify');
  const pkiDir = `${h.dir}/pki`;
  // The bare RPC answers what identity answers for these tokens (same response size), from a
  // kit server like identity's (the same caller policy).
  const web = await h.client('web');
  const answer: identityV1.VerifySessionResponse = await call(web, web.verifySession, { sessionToken: tokens[0] ?? '', clientIp: CLIENT_IP });
  if (!answer.valid) throw new Error('identity refused the benchmark session token');
  const echo = await startBareRpc({
    service: 'identity',
    pkiDir,
    binding: {
      name: SERVICE_NAMES.identity,
      definition: IdentityServiceService,
      policy: sameRuleForAll(IdentityServiceService, callers.servicesAndBackends),
      handlers: { VerifySession: unary<identityV1.VerifySessionRequest, identityV1.VerifySessionResponse>(async () => answer) },
    },
  });
  try {
    // Bare, identity, identity, bare: half the time each, so a drift of the machine cancels out.
    const bareAddress = `127.0.0.1:${echo.port}`;
    const half = SECONDS / 2;
    const b1 = await phase(drivers, bareAddress, pkiDir, tokens, half);
    const r1 = await phase(drivers, h.address, pkiDir, tokens, half);
    const r2 = await phase(drivers, h.address, pkiDir, tokens, half);
    const b2 = await phase(drivers, bareAddress, pkiDir, tokens, half);
    const base = mergePhases([b1, b2]);
    const real = mergePhases([r1, r2]);
    const where = `${drivers.length} load processes x ${IN_FLIGHT} in flight, ${tokens.length} distinct tokens, ${SECONDS} s each in two halves`;
    log(`  VerifySession (${where}):`);
    log(`    ${figureText('identity ', real)}`);
    log(`    ${figureText('bare RPC ', base)}`);
    log(`    phases in order: bare ${b1.rate.toFixed(0)}, identity ${r1.rate.toFixed(0)}, identity ${r2.rate.toFixed(0)}, bare ${b2.rate.toFixed(0)} calls/s`);
    log(`    ${serverCpuRatioText('identity', base, real)}`);
    return [
      goalLine('identity-verify-session', real.rate / base.rate, GOAL),
      benchLine({ name: 'identity-verify-session', value: real.rate, unit: 'VerifySession/s', baseline: base.rate, baselineUnit: 'bare RPCs/s' }),
    ];
  } finally {
    await echo.shutdown('bench over');
  }
}
