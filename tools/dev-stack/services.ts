/** The five services the dev stack runs, in start order (audit first: the others ship to it). */
export const SERVICES = ['audit', 'identity', 'allowlist', 'secrets', 'impersonation'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Fixed loopback port offsets from the base port (default 7101 → identity 7101 ... audit 7105). */
export const PORT_OFFSET: Readonly<Record<ServiceName, number>> = {
  identity: 0,
  allowlist: 1,
  secrets: 2,
  impersonation: 3,
  audit: 4,
};

/** Client certificates the dev PKI issues besides the services' own. */
export const DEV_CLIENTS = [
  { name: 'cli', kind: 'operator' as const },
  { name: 'dev-backend', kind: 'backend' as const },
];
