// The identity service's composition root: config → store → domain → rpc → server. Wiring only.
import { main } from '@gatehouse/service-host';
import { identityBinding } from './rpc/identity-rpc.js';
import { identitySchema } from './store/schema.js';

main({
  name: 'identity',
  defaultPort: 7101,
  configShape: {},
  storage: identitySchema,
  shipsAuditEvents: true,
  wire: () => ({ services: [identityBinding()] }),
});
