// Load driver for the allowlist Check benchmark, forked (with an IPC channel) by run.ts so the
// client's work does not share the server's event loop. It encodes the CheckRequests up front and
// sends them as bytes, so the measured cost is the server's (and gRPC's). One command at a time:
// `check`: Check requests (cycling through the encoded calls from `offset`) in a closed loop,
// `inFlight` at a time, from `startAt` for `seconds`; used unchanged against the bare echo server.
// The answer carries per-call latencies (ms), how many answers were DENY, and this process's CPU.
import { allowlistV1 } from '@gatehouse/contracts';
import { driveClosedLoop, loadClient, sendBytes, serveLoadCommands } from '@gatehouse/testing';
import type { DriverCommand, DriverResult } from './bench-support.js';

const CHECK = '/gatehouse.allowlist.v1.AllowlistService/Check';
const HEALTH = '/grpc.health.v1.Health/Check';
const DENY = allowlistV1.CheckDecision.CHECK_DECISION_DENY;

async function runCheck(cmd: Extract<DriverCommand, { kind: 'check' }>): Promise<DriverResult> {
  const client = await loadClient(cmd.address, cmd.pkiDir, cmd.certName, 'allowlist');
  const bodies = cmd.calls.map((c) =>
    Buffer.from(allowlistV1.CheckRequest.encode({ ip: c.ip, environment: c.environment, ...(c.accountId !== undefined ? { accountId: c.accountId } : {}) }).finish()),
  );
  let denies = 0;
  if (cmd.health) {
    const r = await driveClosedLoop(cmd, [Buffer.alloc(0)], (body) => sendBytes(client, HEALTH, body, (b) => b), { warmUps: 50 });
    return { kind: 'check', ...r, denies };
  }
  const r = await driveClosedLoop(cmd, bodies, (body) => sendBytes(client, CHECK, body, (b) => allowlistV1.CheckResponse.decode(b)), {
    warmUps: 50,
    check: (res) => {
      if (res.decision === DENY) denies++;
    },
  });
  return { kind: 'check', ...r, denies };
}

serveLoadCommands<Exclude<DriverCommand, { kind: 'stop' }>, DriverResult>((msg) => runCheck(msg));
