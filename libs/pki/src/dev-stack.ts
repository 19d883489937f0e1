/**
 * The dev stack's layout (`npm start`): its state folder, the PKI and data folders in it, the
 * files identity writes there, and the loopback ports. The launcher and the CLI both read it
 * from the same variables through this one definition, so a CLI told GATEHOUSE_DEV_DIR and
 * GATEHOUSE_DEV_BASE_PORT finds the stack's certificates, its bootstrap token, its dev issuer key
 * and its services, whatever folder it runs in.
 */
import path from 'node:path';

/** The five services of the dev stack. */
export type DevStackService = 'identity' | 'allowlist' | 'secrets' | 'impersonation' | 'audit';

/** Fixed loopback port offsets from the base port (default 7101: identity 7101 ... audit 7105). */
export const DEV_PORT_OFFSET: Readonly<Record<DevStackService, number>> = Object.freeze({
  identity: 0,
  allowlist: 1,
  secrets: 2,
  impersonation: 3,
  audit: 4,
});

/** Defaults of the dev stack's variables. */
export const DEV_STACK_DEFAULTS = Object.freeze({ dir: '.gatehouse', basePort: 7101, metricsBasePort: 9101, host: '127.0.0.1' });

/** File names identity uses in its data folder unless configured otherwise. */
export const DEV_DATA_FILES = Object.freeze({ bootstrapToken: 'identity-bootstrap-token', devIssuerKey: 'identity-dev-issuer-key.pem' });

/** Where one dev stack lives and listens. */
export interface DevStackLayout {
  /** GATEHOUSE_DEV_DIR, absolute (default .gatehouse). */
  stateDir: string;
  /** The dev CA and certificates: <state>/pki. */
  pkiDir: string;
  /** SQLite files and identity's one-time files: <state>/data. */
  dataDir: string;
  /** <data>/identity-bootstrap-token. */
  bootstrapTokenFile: string;
  /** <data>/identity-dev-issuer-key.pem. */
  devIssuerKeyFile: string;
  host: string;
  /** GATEHOUSE_DEV_BASE_PORT (7101). */
  basePort: number;
  /** GATEHOUSE_DEV_METRICS_BASE_PORT (9101). */
  metricsBasePort: number;
  port(service: DevStackService): number;
  metricsPort(service: DevStackService): number;
  /** host:port of a service. */
  address(service: DevStackService): string;
}

/** A dev-stack variable holds something unusable; the message names it. */
export class DevStackSettingError extends Error {}

function port(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isInteger(n) || n < 1 || n > 65_000) {
    throw new DevStackSettingError(`${name}: expected a port number between 1 and 65000, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/**
 * Reads GATEHOUSE_DEV_DIR, GATEHOUSE_DEV_BASE_PORT and GATEHOUSE_DEV_METRICS_BASE_PORT. A relative
 * state folder is taken from `baseDir` (the launcher passes the repository root; the CLI its
 * working folder, which `npm run gatehouse` makes the repository root too).
 */
export function devStackLayout(env: Record<string, string | undefined>, baseDir: string = process.cwd()): DevStackLayout {
  const stateDir = path.resolve(baseDir, env['GATEHOUSE_DEV_DIR'] || DEV_STACK_DEFAULTS.dir);
  const dataDir = path.join(stateDir, 'data');
  const basePort = port(env, 'GATEHOUSE_DEV_BASE_PORT', DEV_STACK_DEFAULTS.basePort);
  const metricsBasePort = port(env, 'GATEHOUSE_DEV_METRICS_BASE_PORT', DEV_STACK_DEFAULTS.metricsBasePort);
  const host = DEV_STACK_DEFAULTS.host;
  return {
    stateDir,
    pkiDir: path.join(stateDir, 'pki'),
    dataDir,
    bootstrapTokenFile: path.join(dataDir, DEV_DATA_FILES.bootstrapToken),
    devIssuerKeyFile: path.join(dataDir, DEV_DATA_FILES.devIssuerKey),
    host,
    basePort,
    metricsBasePort,
    port: (s) => basePort + DEV_PORT_OFFSET[s],
    metricsPort: (s) => metricsBasePort + DEV_PORT_OFFSET[s],
    address: (s) => `${host}:${basePort + DEV_PORT_OFFSET[s]}`,
  };
}
