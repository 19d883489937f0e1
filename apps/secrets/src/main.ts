// The secrets service's composition root: config → store → domain → rpc → server. Wiring only.
import { main } from '@gatehouse/service-host';
import { secretsBinding } from './rpc/secrets-rpc.js';
import { secretsSchema } from './store/schema.js';

main({
  name: 'secrets',
  defaultPort: 7103,
  configShape: {},
  storage: secretsSchema,
  shipsAuditEvents: true,
  wire: () => ({ services: [secretsBinding()] }),
});
