import { Gauge, type Registry } from 'prom-client';
import type { SealManager } from './domain/seal/index.js';

/** The name GatehouseSecretsReplicaSealed (deploy/observability/alerts.yaml) reads, exported once. */
export const SEAL_METRIC = 'gatehouse_secrets_sealed';

/**
 * The seal state on this replica's /metrics (issue 15 item 7), read from its seal manager at each
 * scrape: every replica holds its unsealed key in memory only, so each reports its own state and
 * a replica that restarted sealed is seen at the next scrape, rather than by the refusals of the
 * calls it fails. 1 sealed (or uninitialised), 0 unsealed; NaN if the key file cannot be read.
 */
export function registerSealMetrics(registry: Registry, seal: Pick<SealManager, 'status'>): void {
  new Gauge({
    name: SEAL_METRIC,
    help: '1 while this secrets replica is sealed or uninitialised (it refuses every data RPC), 0 once unsealed',
    registers: [registry],
    async collect() {
      this.set(await seal.status().then((s) => (s.sealed ? 1 : 0), () => Number.NaN));
    },
  });
}
