import { Gauge, type Registry } from 'prom-client';
import type { AlertService } from './domain/alert-service.js';

/** The name the dashboard's alert panel and GatehouseSecurityAlertOpen (deploy/observability) read, exported once. */
export const ALERT_METRICS = { open: 'gatehouse_audit_alerts_open' } as const;

/**
 * Open security alerts on audit's /metrics (issue 15 item 7), by rule, read from audit's store at
 * each scrape, so every replica reports the same alerts and an acknowledgement made through any
 * of them shows at the next scrape. `rules` are the fixed set of rule ids (the built-in rules and
 * the log-integrity alert): each is exported, 0 when none is open, so the label set stays
 * bounded and a rule that never fired is a 0 rather than a missing series. A store that cannot
 * answer reports NaN rather than a stale figure.
 */
export function registerAlertMetrics(registry: Registry, alerts: Pick<AlertService, 'openByRule'>, rules: readonly string[]): void {
  new Gauge({
    name: ALERT_METRICS.open,
    help: 'Security alerts raised by audit and not yet acknowledged by a security officer, by rule',
    labelNames: ['rule'],
    registers: [registry],
    async collect() {
      const open = await alerts.openByRule().catch(() => undefined);
      this.reset();
      for (const rule of new Set([...rules, ...(open?.keys() ?? [])])) this.set({ rule }, open ? (open.get(rule) ?? 0) : Number.NaN);
    },
  });
}
