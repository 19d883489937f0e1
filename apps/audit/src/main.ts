// The audit service's composition root: config → store → domain → rpc → server. Wiring only.
import { main } from '@gatehouse/service-host';
import { auditBinding } from './rpc/audit-rpc.js';
import { auditSchema } from './store/schema.js';

main({
  name: 'audit',
  defaultPort: 7105,
  configShape: {},
  storage: auditSchema,
  shipsAuditEvents: false,
  wire: () => ({ services: [auditBinding()] }),
});
