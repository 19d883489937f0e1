/**
 * Issue 15 item 7: the seal state on each secrets replica's /metrics, as Prometheus scrapes it
 * (the GatehouseSecretsReplicaSealed rule reads it): 1 while uninitialised or sealed, 0 once
 * unsealed, 1 again after Seal; each replica reports its own state (a replica started on the same
 * store stays sealed until it is unsealed itself).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { secretsV1 } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { scrapeMetric } from '@gatehouse/testing';
import { BACKENDS, backendEnv, startSecrets, TEST_PASSPHRASE } from './test-support/harness.js';

const SEALED = 'gatehouse_secrets_sealed';
const { SEAL_STATE_SEALED, SEAL_STATE_UNSEALED } = secretsV1.SealState;

for (const backend of BACKENDS) {
  describe(`secrets on ${backend}: the seal state on /metrics`, () => {
    test('gatehouse_secrets_sealed is 1 before unseal, 0 after, 1 after Seal, per replica', async (t) => {
      const env = await backendEnv(backend, (why) => t.skip(why));
      if (!env) return;
      const h = await startSecrets(env);
      try {
        const port = (i: number) => h.replicas[i]!.server.metricsPort!;
        const c = await h.client('cli');
        assert.equal(await scrapeMetric(port(0), SEALED, { gatehouse_service: 'secrets' }), 1, 'uninitialised: sealed');
        await call(c, c.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: secretsV1.KeyDerivation.KEY_DERIVATION_SCRYPT } });
        assert.equal(await scrapeMetric(port(0), SEALED), 1, 'initialised, not yet unsealed: sealed');

        assert.equal((await call(c, c.unseal, { passphrase: TEST_PASSPHRASE })).seal?.state, SEAL_STATE_UNSEALED);
        assert.equal(await scrapeMetric(port(0), SEALED), 0, 'unsealed');

        await h.addReplica();
        assert.equal(await scrapeMetric(port(1), SEALED), 1, 'a second replica on the same store starts sealed and says so');
        assert.equal(await scrapeMetric(port(0), SEALED), 0, 'while the first stays unsealed');

        assert.equal((await call(c, c.seal, { reason: 'metrics test' })).seal?.state, SEAL_STATE_SEALED);
        assert.equal(await scrapeMetric(port(0), SEALED), 1, 'sealed again');
        t.diagnostic(`${backend}: ${SEALED} 1 uninitialised, 1 initialised, 0 unsealed (replica 2: 1), 1 after Seal`);
      } finally {
        await h.stop();
      }
    });
  });
}
