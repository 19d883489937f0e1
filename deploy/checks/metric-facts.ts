/**
 * The metric names a scrape of a Gatehouse service can carry, read from the definitions the
 * services register (RpcMetrics with Node's default metrics, the audit relay's gauges, secrets'
 * seal gauge and audit's open-alerts gauge): nothing is started. Kept apart from code-facts.ts
 * so the observability check loads no app's service, only the apps' metric modules.
 */
import { Registry } from 'prom-client';
import { systemClock } from '@gatehouse/core';
import { RpcMetrics } from '@gatehouse/service-kit';
import { registerRelayMetrics } from '@gatehouse/service-host';
import type { OutboxRepository } from '@gatehouse/audit-client';
import { registerSealMetrics } from '../../apps/secrets/src/seal-metrics.js';
import { registerAlertMetrics } from '../../apps/audit/src/alert-metrics.js';

/** What a /metrics scrape can hold, from the registries the services build (nothing is started). */
export function exportedMetricNames(): Set<string> {
  const rpc = new RpcMetrics('any');
  const relay = new Registry();
  registerRelayMetrics(relay, {} as OutboxRepository, systemClock);
  const own = new Registry();
  registerSealMetrics(own, { status: () => Promise.reject(new Error('not started')) });
  registerAlertMetrics(own, { openByRule: () => Promise.reject(new Error('not started')) }, []);
  const names = new Set<string>();
  for (const registry of [rpc.registry, relay, own]) {
    for (const metric of registry.getMetricsAsArray()) {
      const { name, type } = metric as unknown as { name: string; type: string };
      names.add(name);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
    }
  }
  return names;
}

