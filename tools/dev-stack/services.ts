import type { DevStackService } from '@gatehouse/pki';

/** The five services the dev stack runs, in start order (audit first: the others ship to it). */
export const SERVICES = ['audit', 'identity', 'allowlist', 'secrets', 'impersonation'] as const satisfies readonly DevStackService[];
export type ServiceName = (typeof SERVICES)[number];

/**
 * Client certificates the dev PKI issues besides the services' own: the CLI's operator
 * certificate, a product backend, `deployer`, the backend a deployment redeems its release
 * with (the README's `GATEHOUSE_CLI_CERT=deployer ... release redeem`), and `console`, the web
 * console's backend certificate (a trusted proxy of every service: it relays the browser's IP).
 */
export const DEV_CLIENTS = [
  { name: 'cli', kind: 'operator' as const },
  { name: 'dev-backend', kind: 'backend' as const },
  { name: 'deployer', kind: 'backend' as const },
  { name: 'console', kind: 'backend' as const },
];

/** The web console (apps/console): started once the services serve, on GATEHOUSE_DEV_CONSOLE_PORT (default 7180, or GATEHOUSE_DEV_BASE_PORT + 79). */
export const CONSOLE_DEFAULT_PORT = 7180;
