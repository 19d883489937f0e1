/**
 * Issue 15 item 6: a sealed secrets replica reports NOT_SERVING on grpc.health.v1, so readiness
 * probes and balancers skip a replica that would refuse every data RPC; each replica answers for
 * its own seal (a second replica on the same store stays NOT_SERVING until it is unsealed itself).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { secretsV1 } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { call, checkHealth } from '@gatehouse/service-kit';
import { BACKENDS, backendEnv, startSecrets, TEST_PASSPHRASE } from './test-support/harness.js';

for (const backend of BACKENDS) {
  describe(`secrets on ${backend}: health follows the seal`, () => {
    test('NOT_SERVING while uninitialised or sealed, SERVING once unsealed, NOT_SERVING after Seal, per replica', async (t) => {
      const env = await backendEnv(backend, (why) => t.skip(why));
      if (!env) return;
      const h = await startSecrets(env);
      try {
        const material = { ...(await loadTlsMaterial(`${h.dir}/pki`, 'cli')), expectedServerName: 'secrets' };
        const health = async (i: number) => (await checkHealth(`127.0.0.1:${h.replicas[i]!.server.port}`, { mode: 'mtls', material })).status;
        const c = await h.client('cli');
        assert.equal(await health(0), 'NOT_SERVING', 'uninitialised');
        await call(c, c.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: secretsV1.KeyDerivation.KEY_DERIVATION_SCRYPT } });
        assert.equal(await health(0), 'NOT_SERVING', 'initialised, still sealed');
        await call(c, c.unseal, { passphrase: TEST_PASSPHRASE });
        assert.equal(await health(0), 'SERVING', 'unsealed');

        await h.addReplica();
        assert.equal(await health(1), 'NOT_SERVING', 'a second replica starts sealed');
        assert.equal(await health(0), 'SERVING', 'while the first stays unsealed');

        await call(c, c.seal, { reason: 'health test' });
        assert.equal(await health(0), 'NOT_SERVING', 'sealed again');
      } finally {
        await h.stop();
      }
    });
  });
}
