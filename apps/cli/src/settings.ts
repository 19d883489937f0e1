import path from 'node:path';
import { loadTlsMaterial } from '@gatehouse/pki';
import type { ClientSecurity } from '@gatehouse/service-kit';

/** The services the CLI knows, with their default loopback addresses (the dev stack's ports). */
export const SERVICE_ADDRESSES = {
  identity: '127.0.0.1:7101',
  allowlist: '127.0.0.1:7102',
  secrets: '127.0.0.1:7103',
  impersonation: '127.0.0.1:7104',
  audit: '127.0.0.1:7105',
} as const;
export type ServiceName = keyof typeof SERVICE_ADDRESSES;
export const SERVICE_NAMES = Object.keys(SERVICE_ADDRESSES) as ServiceName[];

/** Where the CLI looks for things; every value can be overridden from the environment. */
export interface CliSettings {
  tlsDir: string;
  certName: string;
  insecure: boolean;
  address(service: ServiceName): string;
}

/**
 * Reads the CLI's settings: GATEHOUSE_<SERVICE>_ADDR for addresses, GATEHOUSE_TLS_DIR for the
 * PKI folder, GATEHOUSE_CLI_CERT for which certificate in it to present (default `cli`).
 */
export function settingsFrom(env: Record<string, string | undefined>): CliSettings {
  return {
    tlsDir: path.resolve(env['GATEHOUSE_TLS_DIR'] ?? '.gatehouse/pki'),
    certName: env['GATEHOUSE_CLI_CERT'] ?? 'cli',
    insecure: env['GATEHOUSE_INSECURE_PLAINTEXT'] === 'true',
    address: (service) => env[`GATEHOUSE_${service.toUpperCase()}_ADDR`] ?? SERVICE_ADDRESSES[service],
  };
}

/** Client credentials for calling `service`: the operator certificate, and the service it must be. */
export async function securityFor(settings: CliSettings, service: ServiceName): Promise<ClientSecurity> {
  if (settings.insecure) return { mode: 'insecure-loopback' };
  const material = await loadTlsMaterial(settings.tlsDir, settings.certName);
  return { mode: 'mtls', material: { ...material, expectedServerName: service } };
}
