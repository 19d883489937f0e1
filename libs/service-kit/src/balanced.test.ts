import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { createCa, createServerCredentials, issueCertificate } from '@gatehouse/pki';
import { balancedTarget, dialBalanced, IDEMPOTENT_METHODS, retryServiceConfig, DEFAULT_RETRY_POLICY } from './balanced.js';
import { call, isStatus } from './client.js';
import { EchoClient, echoServiceDefinition, type EchoRequest, type EchoResponse } from './test-service.js';

describe('balancedTarget', () => {
  test('IPv4 and IPv6 literals become one static target over every address', () => {
    assert.equal(balancedTarget(['127.0.0.1:5001', '127.0.0.1:5002']), 'ipv4:127.0.0.1:5001,127.0.0.1:5002');
    assert.equal(balancedTarget(['[::1]:5001', '[::1]:5002']), 'ipv6:[::1]:5001,[::1]:5002');
    assert.equal(balancedTarget(['10.0.0.7:443']), 'ipv4:10.0.0.7:443');
  });
  test('one host name becomes a dns target (a name that resolves to every replica)', () => {
    assert.equal(balancedTarget(['secrets-headless.gatehouse.svc:7443']), 'dns:secrets-headless.gatehouse.svc:7443');
  });
  test('refuses what grpc-js could not resolve as one list, naming it', () => {
    assert.throws(() => balancedTarget([]), /at least one address/);
    assert.throws(() => balancedTarget(['127.0.0.1']), /"127.0.0.1" is not host:port/);
    assert.throws(() => balancedTarget(['127.0.0.1:0']), /is not host:port/);
    assert.throws(() => balancedTarget(['127.0.0.1:1', '[::1]:2']), /cannot mix IPv4 and IPv6/);
    assert.throws(() => balancedTarget(['a.example:1', 'b.example:1']), /one host name/);
  });
});

describe('retryServiceConfig', () => {
  test('round robin, and a retry of UNAVAILABLE for exactly the methods given', () => {
    const cfg = retryServiceConfig([{ service: 'gatehouse.allowlist.v1.AllowlistService', method: 'Check' }]);
    assert.deepEqual(cfg, {
      loadBalancingConfig: [{ round_robin: {} }],
      methodConfig: [
        {
          name: [{ service: 'gatehouse.allowlist.v1.AllowlistService', method: 'Check' }],
          retryPolicy: { maxAttempts: 5, initialBackoff: '0.05s', maxBackoff: '1s', backoffMultiplier: 2, retryableStatusCodes: ['UNAVAILABLE'] },
        },
      ],
    });
    assert.deepEqual(retryServiceConfig([]).methodConfig, []);
    assert.throws(() => retryServiceConfig([], { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 }), /maxAttempts >= 2/);
  });
  test('the idempotent set is the five methods whose proto docs make a second copy harmless, and none that act once', () => {
    assert.deepEqual(
      IDEMPOTENT_METHODS.map((m) => m.method),
      ['VerifySession', 'Check', 'VerifyImpersonationToken', 'RecordAccess', 'Append'],
    );
    for (const once of ['VerifyOtp', 'RedeemRelease', 'StartImpersonation', 'AddEntry', 'Unseal']) {
      assert.ok(!IDEMPOTENT_METHODS.some((m) => m.method === once), once);
    }
  });
});

/**
 * Two real mTLS servers behind one balanced client: replica A answers every call UNAVAILABLE
 * (as a draining replica does), replica B serves. The retried method always succeeds; the
 * method left out of the retry policy reaches A and fails, so nothing else is ever sent twice.
 */
describe('dialBalanced over two replicas', () => {
  const servers: grpc.Server[] = [];
  const seen = { a: 0, b: 0 };
  let client: InstanceType<typeof EchoClient>;

  const start = async (name: 'a' | 'b', material: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<number> => {
    const server = new grpc.Server();
    const answer = (_call: unknown, cb: grpc.sendUnaryData<EchoResponse>) => {
      seen[name]++;
      if (name === 'a') cb({ code: grpc.status.UNAVAILABLE, details: 'replica a is draining' });
      else cb(null, { text: 'b' });
    };
    server.addService(echoServiceDefinition, { echo: answer, admin: answer, ticks: (s: grpc.ServerWritableStream<EchoRequest, EchoResponse>) => s.end() });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', createServerCredentials(material), (err, p) => (err ? reject(err) : resolve(p))),
    );
    servers.push(server);
    return port;
  };

  before(async () => {
    const ca = await createCa();
    const svc = await issueCertificate(ca, { name: 'echo', kind: 'service' });
    const be = await issueCertificate(ca, { name: 'contacts-api', kind: 'backend' });
    const pem = (c: { certPem: string; keyPem: string }) => ({ ca: Buffer.from(ca.certPem), cert: Buffer.from(c.certPem), key: Buffer.from(c.keyPem) });
    const a = await start('a', pem(svc));
    const b = await start('b', pem(svc));
    client = dialBalanced(EchoClient, [`127.0.0.1:${a}`, `127.0.0.1:${b}`], { mode: 'mtls', material: { ...pem(be), expectedServerName: 'echo' } }, [
      { service: 'gatehouse.test.v1.EchoService', method: 'Echo' },
    ]);
  });
  after(() => {
    client?.close();
    for (const s of servers) s.forceShutdown();
  });

  test('mTLS with the server name override holds over the multi-address target; a retried method never fails', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await call(client, client.echo, { text: String(i) }, { waitForReady: true });
      assert.equal(res.text, 'b');
    }
    assert.ok(seen.a > 0, `replica a was never tried (a ${seen.a}, b ${seen.b}): the channel did not balance`);
    assert.ok(seen.b >= 20);
  });

  test('a method outside the retry policy is sent once: it fails UNAVAILABLE when it reaches the draining replica', async () => {
    let failed = 0;
    const before = seen.a + seen.b;
    for (let i = 0; i < 10; i++) {
      try {
        await call(client, client.admin, { text: String(i) });
      } catch (err) {
        assert.ok(isStatus(err, grpc.status.UNAVAILABLE), String(err));
        assert.match((err as grpc.ServiceError).details, /replica a is draining/);
        failed++;
      }
    }
    assert.ok(failed > 0, 'round robin never sent Admin to replica a');
    assert.equal(seen.a + seen.b - before, 10, 'Admin was sent more than once per call');
  });
});
