import fs from 'node:fs';
import path from 'node:path';
import { devStackLayout, loadTlsMaterial, type DevStackLayout, type TlsMaterial } from '@gatehouse/pki';
import type { ClientSecurity } from '@gatehouse/service-kit';
import { CommandFailed } from './rpc-errors.js';

/** The services the CLI knows, addressed like the dev stack's ports by default. */
export const SERVICE_NAMES = ['identity', 'allowlist', 'secrets', 'impersonation', 'audit'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Where the CLI looks for things; every value can be overridden from the environment. */
export interface CliSettings {
  tlsDir: string;
  certName: string;
  insecure: boolean;
  /** The dev stack the defaults point at (GATEHOUSE_DEV_DIR, GATEHOUSE_DEV_BASE_PORT), read as `npm start` reads them. */
  devStack: DevStackLayout;
  address(service: ServiceName): string;
}

/**
 * Reads the CLI's settings: GATEHOUSE_<SERVICE>_ADDR for addresses, GATEHOUSE_TLS_DIR for the
 * PKI folder, GATEHOUSE_CLI_CERT for which certificate in it to present (default `cli`). Without
 * them, the dev stack's: its PKI folder and ports from GATEHOUSE_DEV_DIR and
 * GATEHOUSE_DEV_BASE_PORT, through the same definition the launcher uses. Throws
 * DevStackSettingError for an unusable GATEHOUSE_DEV_* value.
 */
export function settingsFrom(env: Record<string, string | undefined>): CliSettings {
  const devStack = devStackLayout(env);
  return {
    tlsDir: env['GATEHOUSE_TLS_DIR'] ? path.resolve(env['GATEHOUSE_TLS_DIR']) : devStack.pkiDir,
    certName: env['GATEHOUSE_CLI_CERT'] || 'cli',
    insecure: env['GATEHOUSE_INSECURE_PLAINTEXT'] === 'true',
    devStack,
    address: (service) => env[`GATEHOUSE_${service.toUpperCase()}_ADDR`] || devStack.address(service),
  };
}

/**
 * The certificate to present, or a failure saying which file is missing and what makes it: the
 * dev stack makes its CA and the cli, dev-backend and deployer certificates; any other name is
 * issued with `gatehouse pki issue`.
 */
async function clientMaterial(settings: CliSettings): Promise<TlsMaterial> {
  const { tlsDir, certName } = settings;
  try {
    return await loadTlsMaterial(tlsDir, certName);
  } catch (err) {
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ENOENT') throw err;
    if (!fs.existsSync(path.join(tlsDir, 'ca.pem'))) {
      throw new CommandFailed(
        `no Gatehouse CA in ${tlsDir}: start the dev stack (\`npm start\`), or point GATEHOUSE_DEV_DIR at the stack's folder (or GATEHOUSE_TLS_DIR at a folder holding ca.pem and your certificate)`,
      );
    }
    throw new CommandFailed(
      `no certificate "${certName}" in ${tlsDir} (GATEHOUSE_CLI_CERT${settings.certName === 'cli' ? ' defaults to cli' : `=${certName}`}): ` +
        `issue it with \`gatehouse pki issue --name ${certName} --kind backend\` (for a deployment or product backend) or \`--kind operator\` (for a person)`,
    );
  }
}

/** Client credentials for calling `service`: the operator certificate, and the service it must be. */
export async function securityFor(settings: CliSettings, service: ServiceName): Promise<ClientSecurity> {
  if (settings.insecure) return { mode: 'insecure-loopback' };
  const material = await clientMaterial(settings);
  return { mode: 'mtls', material: { ...material, expectedServerName: service } };
}
