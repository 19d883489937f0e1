import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { auditedUnitOfWork, outboxAuditSink } from '@gatehouse/audit-client';
import { IdentityServiceClient } from '@gatehouse/contracts';
import type { ServiceSpec } from '@gatehouse/service-host';
import { ConfigError } from '@gatehouse/service-kit';
import { sessionVerifierFromConfig } from '@gatehouse/session';
import { inTurn } from '@gatehouse/storage';
import { FileKeyFileStore } from './adapters/key-file-store.js';
import { secretsConfigShape } from './config.js';
import { SealManager } from './domain/seal/index.js';
import { Secrets, type SecretsAction } from './domain/secrets-service.js';
import { secretsBinding } from './rpc/secrets-rpc.js';
import { registerSealMetrics } from './seal-metrics.js';
import { secretsSchema, secretsStores } from './store/schema.js';

/** The secrets service as the host runs it: config → store → domain → rpc → server. Wiring only. */
export const secretsService: ServiceSpec<typeof secretsConfigShape> = {
  name: 'secrets',
  defaultPort: 7103,
  configShape: secretsConfigShape,
  storage: secretsSchema,
  shipsAuditEvents: true,
  wire: async ({ cfg, log, clock, store, audit: emitter, dialService, onShutdown, setCondition }) => {
    if (!emitter) throw new Error('secrets ships audit events: the host must provide the outbox');
    const dev = cfg.GATEHOUSE_ENV === 'dev';
    const autoUnseal = cfg.GATEHOUSE_SECRETS_DEV_AUTO_UNSEAL ?? dev;
    if (autoUnseal && !dev) throw new ConfigError(['GATEHOUSE_SECRETS_DEV_AUTO_UNSEAL: refused outside dev mode (GATEHOUSE_ENV=dev); production unseals with `gatehouse secrets unseal`']);
    const secretsDir = path.join(cfg.GATEHOUSE_DATA_DIR, 'secrets');
    const seal = new SealManager({
      store: new FileKeyFileStore(cfg.GATEHOUSE_SECRETS_KEY_FILE ?? path.join(secretsDir, 'key-file.json')),
      clock,
      progressIdleMs: cfg.GATEHOUSE_SECRETS_UNSEAL_IDLE_MS,
      onSealedChange: (sealed) => setCondition('unsealed', !sealed),
    });
    // A replica starts sealed: NOT_SERVING until it is unsealed, so nothing is balanced onto it.
    setCondition('unsealed', false);
    onShutdown(async () => {
      await seal.seal();
    });

    const secrets = new Secrets({
      ...secretsStores(store),
      seal,
      uow: auditedUnitOfWork<SecretsAction>('secrets', store.store, emitter),
      audit: outboxAuditSink<SecretsAction>('secrets', emitter),
      inTurn,
      clock,
      settings: {
        requiredApprovals: { live: cfg.GATEHOUSE_SECRETS_LIVE_APPROVALS, staging: cfg.GATEHOUSE_SECRETS_STAGING_APPROVALS },
        maxTtlMs: cfg.GATEHOUSE_SECRETS_MAX_RELEASE_TTL_MINUTES * 60_000,
      },
    });

    if (autoUnseal) await devUnseal(secrets, seal, secretsDir, (msg) => log.warn(msg));

    let scanning = false;
    const expiry = setInterval(() => {
      if (scanning) return;
      scanning = true;
      secrets
        .expireDue()
        .catch((err: unknown) => log.error({ err }, 'release expiry scan failed'))
        .finally(() => (scanning = false));
    }, cfg.GATEHOUSE_SECRETS_EXPIRY_SCAN_MS);
    expiry.unref();
    onShutdown(() => clearInterval(expiry));

    const status = await seal.status();
    log.info({ initialized: status.initialized, sealed: status.sealed, mode: status.mode, keyVersion: status.keyVersion }, 'seal state');
    // Identity is always dialled: it pushes revocations and answers for critical actions, even when keys are pinned.
    const verifier = sessionVerifierFromConfig(cfg, {
      identity: dialService(IdentityServiceClient, 'identity', cfg.GATEHOUSE_IDENTITY_ADDR),
      clock,
      warn: (msg) => log.warn(msg),
    });
    onShutdown(() => verifier.close());
    return {
      services: [secretsBinding({ secrets, verifier, trustedProxies: cfg.GATEHOUSE_TRUSTED_PROXIES })],
      registerMetrics: (registry) => registerSealMetrics(registry, seal),
    };
  },
};

/**
 * Dev mode only, like Vault's dev server: a generated passphrase in `<data>/secrets/dev-passphrase`
 * (0600) initialises the key file once and unseals it at every start. Says so loudly.
 */
async function devUnseal(secrets: Secrets, seal: SealManager, dir: string, warn: (msg: string) => void): Promise<void> {
  const file = path.join(dir, 'dev-passphrase');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const self = { ip: '', identity: 'service:secrets', requestId: 'dev-auto-unseal' };
  let passphrase: string;
  if (fs.existsSync(file)) passphrase = fs.readFileSync(file, 'utf8').trim();
  else {
    passphrase = randomBytes(32).toString('base64url');
    fs.writeFileSync(file, passphrase, { mode: 0o600, flag: 'wx' });
  }
  if (!(await seal.status()).initialized) await secrets.initialize({ mode: 'passphrase', passphrase }, self);
  await seal.unsealWithPassphrase(passphrase);
  warn(
    `DEV MODE: the secrets service initialised and unsealed itself with a generated passphrase stored in ${file}. ` +
      'Anyone who can read that file can read every secret. Never use dev mode with real secrets.',
  );
}
