import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '@gatehouse/core';
import type { OutboxRepository } from '@gatehouse/audit-client';

/** Past any nextAttemptAt: `pending(1, this)` is the oldest unshipped event, whatever its back-off. */
const EVERY_PENDING = new Date(8.64e15);

/** The names the dashboard and the alert rules use (deploy/observability), exported once. */
export const RELAY_METRICS = {
  outboxDepth: 'gatehouse_audit_outbox_depth',
  relayLag: 'gatehouse_audit_relay_lag_seconds',
} as const;

/**
 * Outbox depth and relay lag on a service's /metrics (issue 15 item 7): read from the store at
 * each scrape, so every replica on one store reports the same shared outbox and a replica whose
 * relay is stuck cannot hide it. Lag is the age of the oldest event audit has not acknowledged
 * (0 when the outbox is empty): the delay a critical action's confirmation would wait behind.
 * A store that cannot answer reports NaN rather than a stale figure.
 */
export function registerRelayMetrics(registry: Registry, outbox: OutboxRepository, clock: Clock): void {
  new Gauge({
    name: RELAY_METRICS.outboxDepth,
    help: 'Audit events in this service store not yet acknowledged by the audit service (shared by its replicas)',
    registers: [registry],
    async collect() {
      this.set(await outbox.countPending().catch(() => Number.NaN));
    },
  });
  new Gauge({
    name: RELAY_METRICS.relayLag,
    help: 'Age in seconds of the oldest audit event not yet acknowledged by the audit service (0 when none waits)',
    registers: [registry],
    async collect() {
      const oldest = await outbox.pending(1, EVERY_PENDING).then(
        (rows) => rows[0],
        () => null,
      );
      if (oldest === null) this.set(Number.NaN);
      else this.set(oldest ? Math.max(0, (clock.now().getTime() - oldest.createdAt.getTime()) / 1000) : 0);
    },
  });
}
