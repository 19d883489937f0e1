// Load driver for the secrets benchmarks, forked (with an IPC channel) by run.ts so the client's
// work does not share the server's event loop. It encodes the requests before the timed section
// and sends them as bytes over one mTLS channel (loopback). One command at a time:
// - `redeem`: RedeemRelease of every token exactly once, `inFlight` workers each taking the next
//   token; each bundle must hold `expectSecrets` secrets. Answers the release ids received.
// - `put`: PutSecret of each name once with a random value, `inFlight` at a time, the session
//   token as bearer; each answer must carry `expectVersion`.
// Each answer carries per-call latencies (ms), the errors and this process's CPU time.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { secretsV1 } from '@gatehouse/contracts';
import { driveEach, loadClient, sendBytes, serveLoadCommands } from '@gatehouse/testing';
import type { DriverCommand, DriverResult } from './bench-support.js';

const REDEEM = '/gatehouse.secrets.v1.SecretsService/RedeemRelease';
const PUT = '/gatehouse.secrets.v1.SecretsService/PutSecret';
const SEAL_STATUS = '/gatehouse.secrets.v1.SecretsService/SealStatus';

/** Connection, TLS handshake and the client's JIT, with a call that changes nothing. */
async function warmUp(client: grpc.Client): Promise<void> {
  const body = Buffer.from(secretsV1.SealStatusRequest.encode({}).finish());
  for (let i = 0; i < 20; i++) await sendBytes(client, SEAL_STATUS, body, (b) => secretsV1.SealStatusResponse.decode(b));
}

async function runRedeem(cmd: Extract<DriverCommand, { kind: 'redeem' }>): Promise<DriverResult> {
  const client = await loadClient(cmd.address, cmd.pkiDir, cmd.certName, 'secrets');
  const bodies = cmd.tokens.map((releaseToken) => Buffer.from(secretsV1.RedeemReleaseRequest.encode({ releaseToken }).finish()));
  const decode = (b: Buffer) => secretsV1.RedeemReleaseResponse.decode(b);
  await warmUp(client);
  const releaseIds: string[] = [];
  const r = await driveEach(bodies.length, cmd.inFlight, async (i) => {
    const res = await sendBytes(client, REDEEM, bodies[i] as Buffer, decode);
    if (res.secrets.length !== cmd.expectSecrets) throw new Error(`bundle of ${res.releaseId} holds ${res.secrets.length} secrets, expected ${cmd.expectSecrets}`);
    releaseIds.push(res.releaseId);
  });
  return { kind: 'redeem', ...r, releaseIds };
}

async function runPut(cmd: Extract<DriverCommand, { kind: 'put' }>): Promise<DriverResult> {
  const client = await loadClient(cmd.address, cmd.pkiDir, cmd.certName, 'secrets');
  const bodies = cmd.names.map((name) =>
    Buffer.from(secretsV1.PutSecretRequest.encode({ environment: cmd.environment, app: cmd.app, name, value: randomBytes(cmd.valueBytes) }).finish()),
  );
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${cmd.bearer}`);
  const decode = (b: Buffer) => secretsV1.PutSecretResponse.decode(b);
  await warmUp(client);
  const r = await driveEach(bodies.length, cmd.inFlight, async (i) => {
    // One metadata object for every call: each call gets its own copy.
    const res = await sendBytes(client, PUT, bodies[i] as Buffer, decode, metadata.clone());
    if (res.secret?.version !== cmd.expectVersion) throw new Error(`PutSecret answered version ${String(res.secret?.version)}, expected ${cmd.expectVersion}`);
  });
  return { kind: 'put', ...r, releaseIds: [] };
}

serveLoadCommands<Exclude<DriverCommand, { kind: 'stop' }>, DriverResult>((msg) => (msg.kind === 'redeem' ? runRedeem(msg) : runPut(msg)));
