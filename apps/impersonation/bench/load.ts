// Load driver for the impersonation benchmarks, forked (with an IPC channel) by run.ts so the
// client's work does not share the server's event loop. It encodes the requests before the timed
// section and sends them as bytes over one mTLS channel (loopback). One command at a time:
// - `start`: StartImpersonation of every prepared call exactly once, `inFlight` workers each
//   taking the next call, each with its employee's session token as bearer; every answer must
//   carry an ACTIVE grant of the requested target and a token. Answers the grant ids.
// - `verify`: VerifyImpersonationToken (READ_DATA) in a closed loop over the tokens, `inFlight` at
//   a time, from a common instant for a fixed time; every answer must say valid. Used unchanged
//   against the bare RPC.
// Each answer carries per-call latencies (ms), the errors and this process's CPU time.
import * as grpc from '@grpc/grpc-js';
import { impersonationV1 } from '@gatehouse/contracts';
import { driveClosedLoop, driveEach, loadClient, sendBytes, serveLoadCommands } from '@gatehouse/testing';
import type { DriverCommand, DriverResult } from './bench-support.js';

const START = '/gatehouse.impersonation.v1.ImpersonationService/StartImpersonation';
const VERIFY = '/gatehouse.impersonation.v1.ImpersonationService/VerifyImpersonationToken';
const GET_SIGNING_KEYS = '/gatehouse.impersonation.v1.ImpersonationService/GetSigningKeys';
const P = impersonationV1;

/** Connection, TLS handshake and the client's JIT, with a call that changes nothing. */
async function warmUp(client: grpc.Client): Promise<void> {
  const body = Buffer.from(P.GetSigningKeysRequest.encode({}).finish());
  for (let i = 0; i < 20; i++) await sendBytes(client, GET_SIGNING_KEYS, body, (b) => P.GetSigningKeysResponse.decode(b));
}

async function runStart(cmd: Extract<DriverCommand, { kind: 'start' }>): Promise<DriverResult> {
  const client = await loadClient(cmd.address, cmd.pkiDir, cmd.certName, 'impersonation');
  const prepared = cmd.calls.map((c) => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${c.bearer}`);
    const body = Buffer.from(
      P.StartImpersonationRequest.encode(
        P.StartImpersonationRequest.fromPartial({
          targetUserId: c.targetUserId,
          customerDomain: c.customerDomain,
          reason: P.ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE,
          justification: cmd.justification,
          ticketRef: cmd.ticketRef,
        }),
      ).finish(),
    );
    return { body, metadata, target: c.targetUserId };
  });
  const decode = (b: Buffer) => P.StartImpersonationResponse.decode(b);
  await warmUp(client);
  const grantIds: string[] = new Array<string>(prepared.length).fill('');
  const r = await driveEach(prepared.length, cmd.inFlight, async (i) => {
    const p = prepared[i] as (typeof prepared)[number];
    const res = await sendBytes(client, START, p.body, decode, p.metadata);
    const g = res.grant;
    if (!g || g.state !== P.GrantState.GRANT_STATE_ACTIVE || g.targetUserId !== p.target || res.impersonationToken === '') {
      throw new Error(`StartImpersonation for ${p.target} answered ${g ? `grant ${g.grantId} (state ${g.state}, target ${g.targetUserId})` : 'no grant'}`);
    }
    grantIds[i] = g.grantId;
  });
  return { kind: 'start', ...r, grantIds };
}

async function runVerify(cmd: Extract<DriverCommand, { kind: 'verify' }>): Promise<DriverResult> {
  const client = await loadClient(cmd.address, cmd.pkiDir, cmd.certName, 'impersonation');
  const bodies = cmd.tokens.map((impersonationToken) =>
    Buffer.from(P.VerifyImpersonationTokenRequest.encode({ impersonationToken, operation: P.ImpersonationOperation.IMPERSONATION_OPERATION_READ_DATA }).finish()),
  );
  const decode = (b: Buffer) => P.VerifyImpersonationTokenResponse.decode(b);
  const r = await driveClosedLoop(cmd, bodies, (body) => sendBytes(client, VERIFY, body, decode), {
    warmUps: 20,
    check: (res) => {
      if (!res.valid) throw new Error(`an answer said invalid (reason ${res.reason})`);
    },
  });
  return { kind: 'verify', ...r, grantIds: [] };
}

serveLoadCommands<Exclude<DriverCommand, { kind: 'stop' }>, DriverResult>((msg) => (msg.kind === 'start' ? runStart(msg) : runVerify(msg)));
