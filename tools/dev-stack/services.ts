import type { DevStackService } from '@gatehouse/pki';

/** The five services the dev stack runs, in start order (audit first: the others ship to it). */
export const SERVICES = ['audit', 'identity', 'allowlist', 'secrets', 'impersonation'] as const satisfies readonly DevStackService[];
export type ServiceName = (typeof SERVICES)[number];

/**
 * Client certificates the dev PKI issues besides the services' own: the CLI's operator
 * certificate, a product backend, and `deployer`, the backend a deployment redeems its release
 * with (the README's `GATEHOUSE_CLI_CERT=deployer ... release redeem`).
 */
export const DEV_CLIENTS = [
  { name: 'cli', kind: 'operator' as const },
  { name: 'dev-backend', kind: 'backend' as const },
  { name: 'deployer', kind: 'backend' as const },
];
