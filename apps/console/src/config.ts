import { z } from 'zod';
import { env, loadConfig } from '@gatehouse/service-kit';

const address = z.string().regex(/^[A-Za-z0-9.:[\]_-]+:\d{1,5}(,[A-Za-z0-9.:[\]_-]+:\d{1,5})*$/, { error: 'expected host:port (comma-separated for replicas)' });
const httpsUrl = z.url({ error: 'expected an https URL' }).refine((u) => u.startsWith('https://'), { error: 'expected an https URL' });

/**
 * The console's variables (README "Configuration", docs/operations.md). It is a backend of the
 * five services: its certificate (GATEHOUSE_CONSOLE_CERT, kind backend) must be named in each
 * service's GATEHOUSE_TRUSTED_PROXIES so the browser's IP it relays is honoured.
 */
export const consoleConfigShape = {
  GATEHOUSE_ENV: env.enum(['production', 'dev']).default('production'),
  GATEHOUSE_CONSOLE_HOST: env.string().default('127.0.0.1'),
  GATEHOUSE_CONSOLE_PORT: env.port().default(7180),
  /** The URL browsers reach the console at: the OIDC redirect URI and the Origin the API accepts. Default http://<host>:<port> (dev only). */
  GATEHOUSE_CONSOLE_PUBLIC_URL: z.url({ error: 'expected a URL' }).optional(),
  /** Proxies (CIDRs) whose last X-Forwarded-For entry is taken as the browser's IP; none by default. */
  GATEHOUSE_CONSOLE_TRUSTED_PROXIES: env.list('[0-9A-Fa-f:./]+', 'CIDRs'),
  /** The console's backend certificate name in GATEHOUSE_TLS_DIR. */
  GATEHOUSE_CONSOLE_CERT: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: 'expected a certificate name' }).default('console'),
  GATEHOUSE_TLS_DIR: env.string().default('.gatehouse/pki'),
  GATEHOUSE_DATA_DIR: env.string().default('.gatehouse/data'),
  /** 32 random bytes (base64) sealing the console's cookies; shared by its replicas. Dev default: generated under the data dir. */
  GATEHOUSE_CONSOLE_COOKIE_KEY_FILE: env.string().optional(),
  GATEHOUSE_IDENTITY_ADDR: address.default('127.0.0.1:7101'),
  GATEHOUSE_ALLOWLIST_ADDR: address.default('127.0.0.1:7102'),
  GATEHOUSE_IMPERSONATION_ADDR: address.default('127.0.0.1:7104'),
  GATEHOUSE_AUDIT_ADDR: address.default('127.0.0.1:7105'),
  /** Google's OAuth client for the authorization-code flow (production). */
  GATEHOUSE_GOOGLE_CLIENT_ID: env.string().optional(),
  GATEHOUSE_GOOGLE_CLIENT_SECRET_FILE: env.string().optional(),
  GATEHOUSE_GOOGLE_AUTHORIZE_URL: httpsUrl.optional(),
  GATEHOUSE_GOOGLE_TOKEN_URL: httpsUrl.optional(),
  /** Dev only: identity's dev issuer key, which the console's stand-in for Google signs with. Default <data dir>/identity-dev-issuer-key.pem. */
  GATEHOUSE_DEV_ISSUER_KEY_FILE: env.string().optional(),
  /** The allowlist's daily cut-off, for the Today page's countdown (the same values as the allowlist's). */
  GATEHOUSE_ALLOWLIST_CUTOFF_TZ: env.string().default('UTC'),
  GATEHOUSE_ALLOWLIST_CUTOFF_HOUR: env.int(0, 23).default(4),
  /** Where the built page lives. */
  GATEHOUSE_CONSOLE_WEB_DIR: env.string().default('dist/apps/console/web'),
  /** Written with {"port"} once listening (tests, supervisors). */
  GATEHOUSE_READY_FILE: env.string().optional(),
  GATEHOUSE_SHUTDOWN_GRACE_MS: env.int(0, 120_000).default(10_000),
};

export type ConsoleConfig = ReturnType<typeof loadConsoleConfig>;

/** Reads and checks the environment; production refuses dev settings and names what is missing. */
export function loadConsoleConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig(consoleConfigShape, source, (c) => {
    const problems: string[] = [];
    if (c.GATEHOUSE_ENV === 'production') {
      for (const k of ['GATEHOUSE_GOOGLE_CLIENT_ID', 'GATEHOUSE_GOOGLE_CLIENT_SECRET_FILE', 'GATEHOUSE_GOOGLE_AUTHORIZE_URL', 'GATEHOUSE_GOOGLE_TOKEN_URL', 'GATEHOUSE_CONSOLE_COOKIE_KEY_FILE', 'GATEHOUSE_CONSOLE_PUBLIC_URL'] as const) {
        if (!c[k]) problems.push(`${k}: required in production`);
      }
      if (c.GATEHOUSE_CONSOLE_PUBLIC_URL && !c.GATEHOUSE_CONSOLE_PUBLIC_URL.startsWith('https://')) problems.push('GATEHOUSE_CONSOLE_PUBLIC_URL: must be https in production (the session cookie is Secure)');
      if (c.GATEHOUSE_DEV_ISSUER_KEY_FILE) problems.push('GATEHOUSE_DEV_ISSUER_KEY_FILE: the dev issuer is refused outside dev mode (GATEHOUSE_ENV=dev)');
    }
    return problems;
  });
}
