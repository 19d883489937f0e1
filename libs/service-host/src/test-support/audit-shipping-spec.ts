import type { AuditEmitter } from '@gatehouse/audit-client';
import { AuditServiceService, SERVICE_NAMES } from '@gatehouse/contracts';
import { callers, sameRuleForAll, type ServiceBinding } from '@gatehouse/service-kit';
import type { ServiceSpec } from '../run-service.js';

/**
 * The host's tests' service: it ships audit events (so the host gives it the outbox, which
 * `onWire` receives) and serves the audit contract with every RPC pending, enough for a real server.
 */
export function auditShippingSpec(name: string, onWire?: (audit: AuditEmitter | undefined) => void): ServiceSpec<Record<string, never>> {
  const binding: ServiceBinding = {
    name: SERVICE_NAMES.audit,
    definition: AuditServiceService,
    policy: sameRuleForAll(AuditServiceService, callers.anyAuthenticated),
    handlers: {},
    pending: 'a test',
  };
  return {
    name,
    defaultPort: 0,
    configShape: {},
    storage: { sqliteMigrations: [], mongoMigrations: [], mongoIndexes: [] },
    shipsAuditEvents: true,
    wire: ({ audit }) => {
      onWire?.(audit);
      return { services: [binding] };
    },
  };
}
