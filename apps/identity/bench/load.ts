// Load driver for the identity benchmarks, forked (with an IPC channel) by run.ts so the client's
// work does not share the server's CPU. It encodes requests up front and sends them as bytes, so
// the measured cost is the server's. One command at a time over IPC:
// - `otp`: every prepared VerifyOtp request once, `concurrency` in flight; the elapsed time.
// - `session`: VerifySession requests (cycling through the encoded tokens) in a closed loop,
//   `inFlight` at a time, from `startAt` for `seconds`; used unchanged against the echo server.
// Each answer carries per-call latencies (ms) and this process's CPU time.
import * as grpc from '@grpc/grpc-js';
import { identityV1 } from '@gatehouse/contracts';
import { loadClient, serveLoadCommands } from '@gatehouse/testing';
import { pool, type DriverCommand, type DriverResult } from './bench-support.js';

const VERIFY_OTP = '/gatehouse.identity.v1.IdentityService/VerifyOtp';
const VERIFY_SESSION = '/gatehouse.identity.v1.IdentityService/VerifySession';

function clientFor(address: string, pkiDir: string, certName: string): Promise<grpc.Client> {
  return loadClient(address, pkiDir, certName, 'identity');
}

function send<T>(client: grpc.Client, path: string, body: Buffer, decode: (b: Buffer) => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      decode,
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + 30_000 },
      (err, res) => (err ? reject(err) : resolve(res as T)),
    );
  });
}

async function runOtp(cmd: Extract<DriverCommand, { kind: 'otp' }>): Promise<DriverResult> {
  const client = await clientFor(cmd.address, cmd.pkiDir, cmd.certName);
  const bodies = cmd.calls.map((c) => Buffer.from(identityV1.VerifyOtpRequest.encode(c).finish()));
  const latencies: number[] = new Array<number>(bodies.length).fill(0);
  const tokens: string[] = [];
  const errors: string[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await pool(bodies.length, cmd.concurrency, async (i) => {
    const s = performance.now();
    try {
      const res = await send(client, VERIFY_OTP, bodies[i] as Buffer, (b) => identityV1.VerifyOtpResponse.decode(b));
      if (cmd.wantTokens && res.session?.token) tokens.push(res.session.token);
    } catch (err) {
      errors.push((err as Error).message);
    }
    latencies[i] = performance.now() - s;
  });
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { kind: 'otp', calls: bodies.length - errors.length, elapsedMs, latencies, errors: errors.slice(0, 5), errorCount: errors.length, tokens, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function runSession(cmd: Extract<DriverCommand, { kind: 'session' }>): Promise<DriverResult> {
  const client = await clientFor(cmd.address, cmd.pkiDir, cmd.certName);
  const bodies = cmd.tokens.map((sessionToken) => Buffer.from(identityV1.VerifySessionRequest.encode({ sessionToken, clientIp: cmd.clientIp }).finish()));
  const decode = (b: Buffer) => identityV1.VerifySessionResponse.decode(b);
  // Warm-up (connection, TLS, JIT) before the common start instant.
  for (let i = 0; i < 20; i++) await send(client, VERIFY_SESSION, bodies[i % bodies.length] as Buffer, decode);
  await new Promise((r) => setTimeout(r, Math.max(0, cmd.startAt - Date.now())));
  const latencies: number[] = [];
  const errors: string[] = [];
  let invalid = 0;
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + cmd.seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const body = bodies[n++ % bodies.length] as Buffer;
      const s = performance.now();
      try {
        const res = await send(client, VERIFY_SESSION, body, decode);
        if (!res.valid) invalid++;
        latencies.push(performance.now() - s);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.inFlight }, worker));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    kind: 'session',
    calls: latencies.length,
    elapsedMs,
    latencies,
    errors: errors.slice(0, 5),
    errorCount: errors.length + invalid,
    tokens: [],
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

serveLoadCommands<Exclude<DriverCommand, { kind: 'stop' }>, DriverResult>((msg) => msg.kind === 'otp' ? runOtp(msg) : runSession(msg));
