// Load driver for the allowlist Check benchmark, forked (with an IPC channel) by run.ts so the
// client's work does not share the server's event loop. It encodes the CheckRequests up front and
// sends them as bytes, so the measured cost is the server's (and gRPC's). One command at a time:
// `check`: Check requests (cycling through the encoded calls from `offset`) in a closed loop,
// `inFlight` at a time, from `startAt` for `seconds`; used unchanged against the bare echo server.
// The answer carries per-call latencies (ms), how many answers were DENY, and this process's CPU.
import * as grpc from '@grpc/grpc-js';
import { allowlistV1 } from '@gatehouse/contracts';
import { loadClient, serveLoadCommands } from '@gatehouse/testing';
import type { DriverCommand, DriverResult } from './bench-support.js';

const CHECK = '/gatehouse.allowlist.v1.AllowlistService/Check';
const DENY = allowlistV1.CheckDecision.CHECK_DECISION_DENY;

function clientFor(address: string, pkiDir: string, certName: string): Promise<grpc.Client> {
  return loadClient(address, pkiDir, certName, 'allowlist');
}

function send(client: grpc.Client, body: Buffer): Promise<allowlistV1.CheckResponse> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      CHECK,
      (b: Buffer) => b,
      (b: Buffer) => allowlistV1.CheckResponse.decode(b),
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + 30_000 },
      (err, res) => (err || !res ? reject(err ?? new Error('no response')) : resolve(res)),
    );
  });
}

async function runCheck(cmd: Extract<DriverCommand, { kind: 'check' }>): Promise<DriverResult> {
  const client = await clientFor(cmd.address, cmd.pkiDir, cmd.certName);
  const bodies = cmd.calls.map((c) =>
    Buffer.from(allowlistV1.CheckRequest.encode({ ip: c.ip, environment: c.environment, ...(c.accountId !== undefined ? { accountId: c.accountId } : {}) }).finish()),
  );
  // Warm-up (connection, TLS, JIT) before the common start instant.
  for (let i = 0; i < 50; i++) await send(client, bodies[(cmd.offset + i) % bodies.length] as Buffer);
  await new Promise((r) => setTimeout(r, Math.max(0, cmd.startAt - Date.now())));
  const latencies: number[] = [];
  const errors: string[] = [];
  let denies = 0;
  let n = cmd.offset;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + cmd.seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const body = bodies[n++ % bodies.length] as Buffer;
      const s = performance.now();
      try {
        const res = await send(client, body);
        latencies.push(performance.now() - s);
        if (res.decision === DENY) denies++;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.inFlight }, worker));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { kind: 'check', calls: latencies.length, denies, elapsedMs, latencies, errors: errors.slice(0, 5), errorCount: errors.length, cpuMs: (cpu.user + cpu.system) / 1000 };
}

serveLoadCommands<Exclude<DriverCommand, { kind: 'stop' }>, DriverResult>((msg) => runCheck(msg));
