// The allowlist service's composition root: config → store → domain → rpc → server. Wiring only.
import { main } from '@gatehouse/service-host';
import { allowlistBinding } from './rpc/allowlist-rpc.js';
import { allowlistSchema } from './store/schema.js';

main({
  name: 'allowlist',
  defaultPort: 7102,
  configShape: {},
  storage: allowlistSchema,
  shipsAuditEvents: true,
  wire: () => ({ services: [allowlistBinding()] }),
});
