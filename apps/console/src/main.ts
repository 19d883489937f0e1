/**
 * The console's entry: reads the configuration, dials the services with the console's backend
 * certificate, and serves the page and its API (issue 16). Only wiring lives here.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEV_CLIENT_ID } from '@gatehouse/dev-issuer';
import { nextCutoff } from '@gatehouse/ip';
import { loadOrCreateSecretFile, loadTlsMaterial } from '@gatehouse/pki';
import { BUILD_VERSION, watchParentProcess, writeReadyFile } from '@gatehouse/service-host';
import { ConfigError, createLogger } from '@gatehouse/service-kit';
import { PLAIN_ROUTES } from '@gatehouse/console-api';
import { dialBackends } from './backends.js';
import { loadConsoleConfig } from './config.js';
import { DevGoogle } from './dev-google.js';
import { ClientIpResolver } from './http/client-ip.js';
import { ConsoleServer } from './http/console-server.js';
import { StaticFiles } from './http/static-files.js';
import { Sealer } from './sealed.js';

const log = createLogger({ service: 'console' });

async function waitForFile(file: string, ms: number): Promise<string> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  throw new ConfigError([`${file}: identity's dev issuer key did not appear within ${ms / 1000} s (start identity in dev mode first, or set GATEHOUSE_DEV_ISSUER_KEY_FILE)`]);
}

async function start(): Promise<void> {
  const cfg = loadConsoleConfig();
  const dev = cfg.GATEHOUSE_ENV === 'dev';
  const tls = await loadTlsMaterial(cfg.GATEHOUSE_TLS_DIR, cfg.GATEHOUSE_CONSOLE_CERT);
  const backends = dialBackends(
    { identity: cfg.GATEHOUSE_IDENTITY_ADDR, allowlist: cfg.GATEHOUSE_ALLOWLIST_ADDR, impersonation: cfg.GATEHOUSE_IMPERSONATION_ADDR, audit: cfg.GATEHOUSE_AUDIT_ADDR },
    (server) => ({ ...tls, expectedServerName: server }),
  );
  const keyFile = cfg.GATEHOUSE_CONSOLE_COOKIE_KEY_FILE ?? path.join(cfg.GATEHOUSE_DATA_DIR, 'console-cookie-key');
  if (dev) fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  const key = Buffer.from((dev ? loadOrCreateSecretFile(keyFile, () => randomBytes(32).toString('base64')) : fs.readFileSync(keyFile, 'utf8')).trim(), 'base64');
  if (key.length !== 32) throw new ConfigError([`GATEHOUSE_CONSOLE_COOKIE_KEY_FILE: ${keyFile} must hold 32 random bytes in base64 (openssl rand -base64 32)`]);
  const sealer = new Sealer(key);

  const server0 = { host: cfg.GATEHOUSE_CONSOLE_HOST, port: cfg.GATEHOUSE_CONSOLE_PORT };
  // The public URL must be known before listening (it is the redirect URI); with port 0 (tests)
  // it is only known after, so the OIDC settings are read lazily through `publicUrl`.
  let publicUrl = cfg.GATEHOUSE_CONSOLE_PUBLIC_URL?.replace(/\/$/, '') ?? '';
  const redirectUri = () => `${publicUrl}${PLAIN_ROUTES.googleCallback}`;
  const clientSecret = cfg.GATEHOUSE_GOOGLE_CLIENT_SECRET_FILE ? fs.readFileSync(cfg.GATEHOUSE_GOOGLE_CLIENT_SECRET_FILE, 'utf8').trim() : undefined;
  const oidc = {
    get authorizeUrl() {
      return cfg.GATEHOUSE_GOOGLE_AUTHORIZE_URL ?? `${publicUrl}${PLAIN_ROUTES.devAuthorize}`;
    },
    get tokenUrl() {
      return cfg.GATEHOUSE_GOOGLE_TOKEN_URL ?? `${publicUrl}${PLAIN_ROUTES.devToken}`;
    },
    clientId: cfg.GATEHOUSE_GOOGLE_CLIENT_ID ?? DEV_CLIENT_ID,
    ...(clientSecret ? { clientSecret } : {}),
    get redirectUri() {
      return redirectUri();
    },
  };
  let devGoogle: DevGoogle | undefined;
  const devKey = dev ? await waitForFile(cfg.GATEHOUSE_DEV_ISSUER_KEY_FILE ?? path.join(cfg.GATEHOUSE_DATA_DIR, 'identity-dev-issuer-key.pem'), 30_000) : undefined;

  const server = new ConsoleServer({
    backends,
    sealer,
    clientIp: new ClientIpResolver(cfg.GATEHOUSE_CONSOLE_TRUSTED_PROXIES),
    staticFiles: new StaticFiles(path.resolve(cfg.GATEHOUSE_CONSOLE_WEB_DIR)),
    oidc,
    get devGoogle() {
      return devGoogle;
    },
    get publicOrigin() {
      return new URL(publicUrl).origin;
    },
    // Secure everywhere but plain-HTTP dev on loopback (browsers drop Secure cookies over http).
    secureCookies: !dev || !publicUrlIsPlainLoopback(),
    dailyCutoff: () => nextCutoff(new Date(), cfg.GATEHOUSE_ALLOWLIST_CUTOFF_TZ, cfg.GATEHOUSE_ALLOWLIST_CUTOFF_HOUR),
    logger: log,
  });
  const port = await server.listen(server0.port, server0.host);
  if (!publicUrl) publicUrl = `http://${server0.host.includes(':') ? `[${server0.host}]` : server0.host}:${port}`;
  function publicUrlIsPlainLoopback(): boolean {
    const u = new URL(publicUrl || `http://${server0.host}`);
    return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  }
  if (devKey) devGoogle = new DevGoogle(devKey, sealer, redirectUri());
  log.info({ url: publicUrl, version: BUILD_VERSION, env: cfg.GATEHOUSE_ENV }, 'console listening');
  if (cfg.GATEHOUSE_READY_FILE) writeReadyFile(cfg.GATEHOUSE_READY_FILE, { port, url: publicUrl, pid: process.pid });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('console draining');
      await server.close(cfg.GATEHOUSE_SHUTDOWN_GRACE_MS);
      backends.close();
    })());
  const parent = Number(process.env['GATEHOUSE_PARENT_PID'] ?? 0);
  if (parent > 0) watchParentProcess(parent, log, stop);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void stop().then(() => process.exit(0)));
}

start().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  log.error({ err }, 'console failed to start');
  process.exit(1);
});
