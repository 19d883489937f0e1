import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  AllowlistServiceClient,
  AuditServiceClient,
  IdentityServiceClient,
  ImpersonationServiceClient,
  SecretsServiceClient,
  SERVICE_NAMES,
  allowlistV1,
  auditV1,
  identityV1,
  impersonationV1,
  secretsV1,
  commonV1,
} from '@gatehouse/contracts';
import { call, checkHealth, dial } from '@gatehouse/service-kit';
import { ROOT, STACK, startStack, type Stack } from './stack.js';

/**
 * End to end: the five services as real processes (the bundles `npm start` runs), real mTLS
 * from a fresh CA, real SQLite files, generated clients over loopback sockets.
 */
describe('the Gatehouse stack', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test('all five services report SERVING over mTLS, with their name and version', async () => {
    for (const name of STACK) {
      const report = await checkHealth(stack.services[name].address, { mode: 'mtls', material: await stack.material('cli', name) });
      assert.equal(report.status, 'SERVING', `${name}: ${report.error ?? ''}`);
      assert.equal(report.service, name);
      assert.match(report.version ?? '', /^\d+\.\d+\.\d+/);
    }
  });

  test('each service serves its contract through the generated client and answers', async () => {
    // Impersonation publishes the Ed25519 key that signs impersonation tokens (not identity's).
    const imp = dial(ImpersonationServiceClient, stack.services.impersonation.address, { mode: 'mtls', material: await stack.material('dev-backend', 'impersonation') });
    const impKeys = await call(imp, imp.getSigningKeys, impersonationV1.GetSigningKeysRequest.fromPartial({}));
    assert.equal(impKeys.issuer, 'gatehouse-impersonation');
    assert.equal(impKeys.keys.filter((k) => k.status === commonV1.KeyStatus.KEY_STATUS_ACTIVE).length, 1);
    assert.match(impKeys.keys[0]?.keyId ?? '', /^ik-/);
    imp.close();
    // Identity publishes the Ed25519 key that signs sessions.
    const identity = dial(IdentityServiceClient, stack.services.identity.address, { mode: 'mtls', material: await stack.material('dev-backend', 'identity') });
    const keys = await call(identity, identity.getSigningKeys, identityV1.GetSigningKeysRequest.fromPartial({}));
    assert.equal(keys.keys.filter((k) => k.status === commonV1.KeyStatus.KEY_STATUS_ACTIVE).length, 1);
    identity.close();
    // So is the allowlist: Check answers from its index (loopback is allowlisted by the dev configuration).
    const allowlist = dial(AllowlistServiceClient, stack.services.allowlist.address, { mode: 'mtls', material: await stack.material('dev-backend', 'allowlist') });
    const checked = await call(allowlist, allowlist.check, allowlistV1.CheckRequest.fromPartial({ ip: '127.0.0.1', environment: commonV1.Environment.ENVIRONMENT_LIVE }));
    assert.equal(checked.decision, allowlistV1.CheckDecision.CHECK_DECISION_ALLOW);
    allowlist.close();
    // And secrets: the dev stack initialises and unseals itself (dev mode only).
    const secrets = dial(SecretsServiceClient, stack.services.secrets.address, { mode: 'mtls', material: await stack.material('dev-backend', 'secrets') });
    const seal = await call(secrets, secrets.sealStatus, secretsV1.SealStatusRequest.fromPartial({}));
    assert.equal(seal.seal?.state, secretsV1.SealState.SEAL_STATE_UNSEALED);
    secrets.close();
  });

  test('the caller policy holds end to end: no certificate is UNAUTHENTICATED, a backend on an officer RPC is PERMISSION_DENIED', async () => {
    const cli = await stack.material('cli', 'identity');
    const noCert = dial(IdentityServiceClient, stack.services.identity.address, { mode: 'mtls', material: { ca: cli.ca, expectedServerName: 'identity' } });
    await assert.rejects(call(noCert, noCert.listAccounts, identityV1.ListAccountsRequest.fromPartial({})), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      assert.match(err.details, /client certificate issued by the Gatehouse CA is required/);
      return true;
    });
    noCert.close();
    const backend = dial(IdentityServiceClient, stack.services.identity.address, { mode: 'mtls', material: await stack.material('dev-backend', 'identity') });
    await assert.rejects(call(backend, backend.approveAccount, identityV1.ApproveAccountRequest.fromPartial({})), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.match(err.details, /backend:dev-backend is not allowed to call gatehouse\.identity\.v1\.IdentityService\/ApproveAccount/);
      return true;
    });
    backend.close();
  });

  test('audit answers with a signed checkpoint of its log', async () => {
    const client = dial(AuditServiceClient, stack.services.audit.address, { mode: 'mtls', material: await stack.material('dev-backend', 'audit') });
    const res = await call(client, client.getCheckpoint, auditV1.GetCheckpointRequest.fromPartial({ fresh: true }));
    assert.equal(res.checkpoint?.signature.length, 64);
    assert.equal(res.checkpoint?.keyId, res.signingKey?.keyId);
    client.close();
  });

  test('a client cannot be fooled by one service answering for another (server identity is checked)', async () => {
    const wrong = dial(AuditServiceClient, stack.services.identity.address, { mode: 'mtls', material: await stack.material('cli', 'audit') });
    await assert.rejects(call(wrong, wrong.getCheckpoint, auditV1.GetCheckpointRequest.fromPartial({}), { deadlineMs: 3_000 }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      return true;
    });
    wrong.close();
  });

  test('server reflection lists the service to authenticated callers', async () => {
    const def = protoLoader.loadSync(path.join(ROOT, 'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'), {
      keepCase: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (a: string, c: grpc.ChannelCredentials) => grpc.Client } } };
    };
    const material = await stack.material('cli', 'secrets');
    const client = dial(pkg.grpc.reflection.v1.ServerReflection as never, stack.services.secrets.address, { mode: 'mtls', material }) as grpc.Client & {
      serverReflectionInfo: () => grpc.ClientDuplexStream<object, { list_services_response?: { service: Array<{ name: string }> } }>;
    };
    const names = await new Promise<string[]>((resolve, reject) => {
      const s = client.serverReflectionInfo();
      s.on('data', (res) => {
        resolve((res.list_services_response?.service ?? []).map((x: { name: string }) => x.name));
        s.end();
      });
      s.on('error', reject);
      s.write({ list_services: '' });
    });
    client.close();
    assert.ok(names.includes(SERVICE_NAMES.secrets), `reflection lists ${names.join(', ')}`);
  });

  test('gatehouse status (the CLI bundle) shows every service SERVING', () => {
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '', GATEHOUSE_TLS_DIR: stack.pkiDir };
    for (const name of STACK) env[`GATEHOUSE_${name.toUpperCase()}_ADDR`] = stack.services[name].address;
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/apps/cli/main.mjs'), 'status', '--json'], { env, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Array<{ service: string; status: string; version: string }>;
    assert.deepEqual(rows.map((x) => x.status), ['SERVING', 'SERVING', 'SERVING', 'SERVING', 'SERVING']);
  });

  test('SIGTERM drains and stops every service with exit code 0', async () => {
    const results = await stack.stop();
    for (const r of results) assert.deepEqual({ name: r.name, code: r.code, signal: r.signal }, { name: r.name, code: 0, signal: null });
    stack = undefined as unknown as Stack;
  });
});
