// Load driver for the identity benchmarks, forked (with an IPC channel) by run.ts so the client's
// work does not share the server's CPU. It encodes requests up front and sends them as bytes, so
// the measured cost is the server's. One command at a time over IPC:
// - `otp`: every prepared VerifyOtp request once, `concurrency` in flight; the elapsed time.
// - `session`: VerifySession requests (cycling through the encoded tokens) in a closed loop,
//   `inFlight` at a time, from `startAt` for `seconds`; used unchanged against the echo server.
// Each answer carries per-call latencies (ms) and this process's CPU time.
import { identityV1 } from '@gatehouse/contracts';
import { driveClosedLoop, driveEach, loadClient, sendBytes, serveLoadCommands } from '@gatehouse/testing';
import type { DriverCommand, DriverResult } from './bench-support.js';

const VERIFY_OTP = '/gatehouse.identity.v1.IdentityService/VerifyOtp';
const VERIFY_SESSION = '/gatehouse.identity.v1.IdentityService/VerifySession';

async function runOtp(cmd: Extract<DriverCommand, { kind: 'otp' }>): Promise<DriverResult> {
  const client = await loadClient(cmd.address, cmd.pkiDir, cmd.certName, 'identity');
  const bodies = cmd.calls.map((c) => Buffer.from(identityV1.VerifyOtpRequest.encode(c).finish()));
  const decode = (b: Buffer) => identityV1.VerifyOtpResponse.decode(b);
  const tokens: string[] = [];
  const r = await driveEach(bodies.length, cmd.concurrency, async (i) => {
    const res = await sendBytes(client, VERIFY_OTP, bodies[i] as Buffer, decode);
    if (cmd.wantTokens && res.session?.token) tokens.push(res.session.token);
  });
  return { kind: 'otp', ...r, tokens };
}

async function runSession(cmd: Extract<DriverCommand, { kind: 'session' }>): Promise<DriverResult> {
  const client = await loadClient(cmd.address, cmd.pkiDir, cmd.certName, 'identity');
  const bodies = cmd.tokens.map((sessionToken) => Buffer.from(identityV1.VerifySessionRequest.encode({ sessionToken, clientIp: cmd.clientIp }).finish()));
  const decode = (b: Buffer) => identityV1.VerifySessionResponse.decode(b);
  const r = await driveClosedLoop(cmd, bodies, (body) => sendBytes(client, VERIFY_SESSION, body, decode), {
    warmUps: 20,
    check: (res) => {
      if (!res.valid) throw new Error('an answer said invalid');
    },
  });
  return { kind: 'session', ...r, tokens: [] };
}

serveLoadCommands<Exclude<DriverCommand, { kind: 'stop' }>, DriverResult>((msg) => (msg.kind === 'otp' ? runOtp(msg) : runSession(msg)));
