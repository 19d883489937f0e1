// The impersonation service's composition root: config → store → domain → rpc → server. Wiring only.
import { main } from '@gatehouse/service-host';
import { impersonationBinding } from './rpc/impersonation-rpc.js';
import { impersonationSchema } from './store/schema.js';

main({
  name: 'impersonation',
  defaultPort: 7104,
  configShape: {},
  storage: impersonationSchema,
  shipsAuditEvents: true,
  wire: () => ({ services: [impersonationBinding()] }),
});
