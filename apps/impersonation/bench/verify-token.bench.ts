// `nx run impersonation:bench` (part 2): VerifyImpersonationToken (READ_DATA) throughput over gRPC
// (mTLS) from the load processes as the crm backend, against a bare RPC on the same kind of
// server answering the same bytes without doing anything, driven the same way in the same run
// (bare, impersonation, impersonation, bare). See run.ts for why this baseline.
import { randomUUID, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { auditEventV1, ImpersonationServiceService, impersonationV1, SERVICE_NAMES, type ImpersonationServiceClient } from '@gatehouse/contracts';
import { call, unary } from '@gatehouse/service-kit';
import type { SqliteStore } from '@gatehouse/storage';
import { benchLine, figureText, harnessTarget, loadPhase, mergePhases, serverCpuRatioText, startBareRpc, type LoadPhase } from '@gatehouse/testing';
import { impersonationPolicy } from '../src/rpc/impersonation-rpc.js';
import type { ImpersonationHarness } from '../src/test-support/harness.js';
import { catchImpersonation, portBreakdown } from './breakdown.js';
import { envNumber, goalLine, pool, probeStore, type BenchLoadDriver } from './bench-support.js';

/** Timed seconds per target, spread over ROUNDS x 2 phases. */
const SECONDS = envNumber('BENCH_SECONDS', 6);
/** Rounds of bare, impersonation, impersonation, bare (more rounds cancel a drifting machine better). */
const ROUNDS = Math.trunc(envNumber('BENCH_VERIFY_ROUNDS', 2));
/** Calls in flight per load process. */
const IN_FLIGHT = Math.trunc(envNumber('BENCH_VERIFY_IN_FLIGHT', 16));
/** Grants started (over gRPC, untimed) whose tokens are verified in turn. */
const TOKENS = Math.trunc(envNumber('BENCH_VERIFY_GRANTS', 200));
/** Verifications one at a time for the breakdown (in-process): 10 x BENCH_BREAKDOWN, a verification being short. */
const BREAKDOWN = 10 * Math.trunc(envNumber('BENCH_BREAKDOWN', 50));
const GOAL = 0.7;
const P = impersonationV1;

export interface VerifyContext {
  h: ImpersonationHarness;
  drivers: BenchLoadDriver[];
  store: SqliteStore;
  cli: ImpersonationServiceClient;
  log: (line: string) => void;
}

/** Every load process verifies tokens against `address` for `seconds`, from one common instant. */
function phase(drivers: BenchLoadDriver[], address: string, pkiDir: string, tokens: string[], seconds: number): Promise<LoadPhase> {
  const timing = { leadMs: 750, seconds, inFlight: IN_FLIGHT, requests: tokens.length };
  return loadPhase(drivers, timing, (d, loop) => d.run({ kind: 'verify', address, pkiDir, certName: 'crm', tokens, ...loop }), `VerifyImpersonationToken failed against ${address}`);
}

export async function verifyTokenBench(c: VerifyContext): Promise<string[]> {
  const { h, drivers, store, cli, log } = c;
  const { address, pkiDir } = harnessTarget(h);

  // --- Setup (untimed): TOKENS grants started over gRPC by fresh support employees (one each, so
  // the burst rule never fires), across 50 domains.
  const tokens: string[] = new Array<string>(TOKENS);
  await pool(TOKENS, 16, async (i) => {
    const accountId = `acc-verify-${i}`;
    const bearer = h.token({ roles: ['support'], accountId, email: `${accountId}@corp.example`, displayName: `Support ${i}` });
    const r = await call(
      cli,
      cli.startImpersonation,
      P.StartImpersonationRequest.fromPartial({
        targetUserId: `verify-user-${i}`,
        customerDomain: `verify-${i % 50}.example`,
        reason: P.ImpersonationReason.IMPERSONATION_REASON_BUG_INVESTIGATION,
        justification: 'Reproducing the reported export failure (benchmark case)',
        ticketRef: `BUG-${i}`,
      }),
      { bearer },
    );
    tokens[i] = r.impersonationToken;
  });

  // The bare RPC answers what impersonation answers for the first token (same response size),
  // from a kit server like the service's (the service's own caller policy).
  const crm = await h.client('crm');
  const answer = await call(crm, crm.verifyImpersonationToken, { impersonationToken: tokens[0] ?? '', operation: P.ImpersonationOperation.IMPERSONATION_OPERATION_READ_DATA });
  if (!answer.valid) throw new Error('impersonation refused the benchmark token');
  const echo = await startBareRpc({
    service: 'impersonation',
    pkiDir,
    binding: {
      name: SERVICE_NAMES.impersonation,
      definition: ImpersonationServiceService,
      policy: impersonationPolicy,
      handlers: { VerifyImpersonationToken: unary<impersonationV1.VerifyImpersonationTokenRequest, impersonationV1.VerifyImpersonationTokenResponse>(async () => answer) },
    },
  });
  try {
    // Rounds of bare, impersonation, impersonation, bare, so a drift of the machine cancels out.
    const bareAddress = `127.0.0.1:${echo.port}`;
    const each = SECONDS / (2 * ROUNDS);
    const events0 = h.events.length;
    const bares: LoadPhase[] = [];
    const reals: LoadPhase[] = [];
    const order: string[] = [];
    const probe = probeStore(store);
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of ['bare', 'impersonation', 'impersonation', 'bare'] as const) {
        const ph = await phase(drivers, target === 'bare' ? bareAddress : address, pkiDir, tokens, each);
        (target === 'bare' ? bares : reals).push(ph);
        order.push(`${target} ${ph.rate.toFixed(0)}`);
      }
    }
    probe.detach();
    const base = mergePhases(bares);
    const real = mergePhases(reals);
    // A valid verification is not audited; a denied one would be (and would have failed the phase).
    const denied = h.events.slice(events0).filter((e) => e.action === auditEventV1.Action.ACTION_IMPERSONATION_TOKEN_VERIFY).length;
    if (denied > 0) throw new Error(`${denied} token_verify (denied) audit events during the timed section`);

    const where = `${drivers.length} load process(es) x ${IN_FLIGHT} in flight as backend:crm, ${tokens.length} tokens of live grants, ${SECONDS} s each in ${2 * ROUNDS} phases`;
    log(`  VerifyImpersonationToken READ_DATA (${where}):`);
    log(`    ${figureText('impersonation ', real)}`);
    log(`    ${figureText('bare RPC      ', base)}`);
    log(`    phases in order (calls/s): ${order.join(', ')}`);
    const p = probe.counts;
    log(
      `    checked: ${real.calls + base.calls} answers all valid=true, ${denied} denied verifications audited; ` +
        `service store per verification: ${(p.calls / real.calls).toFixed(2)} store calls (the grant read; the load processes' warm-up calls included), ${(p.commits / real.calls).toFixed(3)} commits, ${(p.heldMs / real.calls).toFixed(3)} ms holding the lock`,
    );
    log(`    ${serverCpuRatioText('impersonation', base, real)}`);

    // --- Breakdown (diagnostic, untimed): verifications one at a time in-process on the service's
    // own Impersonation object with its ports timed (what the service adds to the bare RPC).
    const imp = await catchImpersonation(cli, h.token({ roles: ['support'], accountId: 'acc-verify-catch', email: 'acc-verify-catch@corp.example' }));
    const caller = { ip: '127.0.0.1', identity: 'backend:crm' };
    const bd = await portBreakdown(imp, BREAKDOWN, async (i) => {
      const v = await imp.verify(tokens[i % tokens.length] as string, 'read_data', { ...caller, requestId: randomUUID() });
      if (!v.valid) throw new Error(`in-process verification said invalid (${v.reason})`);
    });
    // The one cryptographic step of the rest, alone: Ed25519 verification of a token's signature
    // with the service's own public key.
    const [head, body, sig] = (tokens[0] as string).split('.') as [string, string, string];
    const kid = (JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { kid: string }).kid;
    const keys = (imp as unknown as { d: { keys: { key(kid: string): Promise<KeyObject | undefined> } } }).d.keys;
    const publicKey = await keys.key(kid);
    if (!publicKey) throw new Error(`the service does not know key ${kid}`);
    const input = Buffer.from(`${head}.${body}`);
    const signature = Buffer.from(sig, 'base64url');
    const e0 = performance.now();
    for (let i = 0; i < BREAKDOWN; i++) if (!cryptoVerify(null, input, publicKey, signature)) throw new Error('the token signature does not verify');
    const edMs = (performance.now() - e0) / BREAKDOWN;
    log(
      `    one verification at a time in-process (${BREAKDOWN}): Impersonation.verify ${bd.meanMs.toFixed(3)} ms, of which (ms per verification, calls; ` +
        `the rest is the token check: parse, Ed25519 verify, claims; Ed25519 verify alone ${edMs.toFixed(3)} ms):`,
    );
    for (const l of bd.lines) log(`      ${l}`);
    return [
      goalLine('impersonation-verify-token-grpc', real.rate / base.rate, GOAL),
      benchLine({ name: 'impersonation-verify-token-grpc', value: real.rate, unit: 'VerifyImpersonationToken/s', baseline: base.rate, baselineUnit: 'bare RPCs/s' }),
    ];
  } finally {
    await echo.shutdown('bench over');
  }
}
