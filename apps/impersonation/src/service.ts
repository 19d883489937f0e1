import path from 'node:path';
import { auditedKeyCreation, auditedUnitOfWork, auditedUnitsInTurn, outboxAuditSink } from '@gatehouse/audit-client';
import { AllowlistServiceClient, IdentityServiceClient } from '@gatehouse/contracts';
import type { ServiceSpec } from '@gatehouse/service-host';
import { allowlistChecker, ConfigError } from '@gatehouse/service-kit';
import { sessionVerifierFromConfig } from '@gatehouse/session';
import { loadOrCreateMasterKey, masterKeyCipher, MongoSigningKeyRepository, SigningKeyRing, SqliteSigningKeyRepository } from '@gatehouse/signing-keys';
import { impersonationConfigShape } from './config.js';
import { Impersonation, type ImpersonationAction } from './domain/impersonation-service.js';
import { impersonationBinding } from './rpc/impersonation-rpc.js';
import { impersonationSchema, impersonationStores } from './store/schema.js';

/** The impersonation service as the host runs it: config → store → domain → rpc → server. Wiring only. */
export const impersonationService: ServiceSpec<typeof impersonationConfigShape> = {
  name: 'impersonation',
  defaultPort: 7104,
  configShape: impersonationConfigShape,
  storage: impersonationSchema,
  shipsAuditEvents: true,
  wire: async ({ cfg, log, clock, store, audit: emitter, dialService, onShutdown }) => {
    if (!emitter) throw new Error('impersonation ships audit events: the host must provide the outbox');
    if (cfg.GATEHOUSE_IMPERSONATION_DEFAULT_MINUTES > cfg.GATEHOUSE_IMPERSONATION_MAX_MINUTES) {
      throw new ConfigError(['GATEHOUSE_IMPERSONATION_DEFAULT_MINUTES: must not exceed GATEHOUSE_IMPERSONATION_MAX_MINUTES']);
    }
    const audit = outboxAuditSink<ImpersonationAction>('impersonation', emitter);
    const units = auditedUnitOfWork<ImpersonationAction>('impersonation', store.store, emitter);
    // MongoDB: this process's units one after another, so a compare-and-set is decided in turn
    // even on a server without write-conflict detection (jongodb); SQLite units already are.
    const uow = store.backend === 'mongodb' ? auditedUnitsInTurn(`impersonation units of ${store.store.db.databaseName}`, units) : units;
    const master = loadOrCreateMasterKey(cfg.GATEHOUSE_IMPERSONATION_MASTER_KEY_FILE ?? path.join(cfg.GATEHOUSE_DATA_DIR, 'impersonation-master.key'), 'GATEHOUSE_IMPERSONATION_MASTER_KEY_FILE');
    const maxGrantMs = cfg.GATEHOUSE_IMPERSONATION_MAX_MINUTES * 60_000;
    const keys = new SigningKeyRing(
      auditedKeyCreation('impersonation', store.backend === 'sqlite' ? new SqliteSigningKeyRepository(store.store) : new MongoSigningKeyRepository(store.store), uow),
      masterKeyCipher([master], 'gatehouse/impersonation/token-signing-key', 'gatehouse/impersonation-token-signing-key'),
      clock,
      {
        rotateEveryMs: cfg.GATEHOUSE_IMPERSONATION_KEY_ROTATION_DAYS * 24 * 3600_000,
        publishAheadMs: 3600_000,
        keepRetiredMs: maxGrantMs + 3600_000,
      },
      { keyIdPrefix: 'ik-' },
    );
    await keys.fresh();

    const imp = new Impersonation({
      ...impersonationStores(store),
      keys,
      allowlist: allowlistChecker(dialService(AllowlistServiceClient, 'allowlist', cfg.GATEHOUSE_ALLOWLIST_ADDR)),
      uow,
      audit,
      clock,
      settings: {
        issuer: cfg.GATEHOUSE_IMPERSONATION_TOKEN_ISSUER,
        burst: { distinctTargets: cfg.GATEHOUSE_IMPERSONATION_BURST_TARGETS, windowMs: cfg.GATEHOUSE_IMPERSONATION_BURST_WINDOW_MINUTES * 60_000 },
        minJustification: cfg.GATEHOUSE_IMPERSONATION_MIN_JUSTIFICATION,
        defaultDurationMs: cfg.GATEHOUSE_IMPERSONATION_DEFAULT_MINUTES * 60_000,
        maxDurationMs: maxGrantMs,
        leewayMs: cfg.GATEHOUSE_SESSION_LEEWAY_S * 1000,
      },
      onError: (err, what) => log.error({ err }, what),
    });

    let scanning = false;
    const expiry = setInterval(() => {
      if (scanning) return;
      scanning = true;
      imp
        .expireDue()
        .catch((err: unknown) => log.error({ err }, 'grant expiry scan failed'))
        .finally(() => (scanning = false));
    }, cfg.GATEHOUSE_IMPERSONATION_EXPIRY_SCAN_MS);
    expiry.unref();
    onShutdown(() => clearInterval(expiry));

    // Identity is always dialled: it pushes revocations and answers for critical actions, even when keys are pinned.
    const verifier = sessionVerifierFromConfig(cfg, {
      identity: dialService(IdentityServiceClient, 'identity', cfg.GATEHOUSE_IDENTITY_ADDR),
      clock,
      warn: (msg) => log.warn(msg),
      onRevocation: (r) => imp.onRevocation(r),
    });
    onShutdown(() => verifier.close());
    return {
      services: [
        impersonationBinding({
          imp,
          verifier,
          trustedProxies: cfg.GATEHOUSE_TRUSTED_PROXIES,
          issuer: cfg.GATEHOUSE_IMPERSONATION_TOKEN_ISSUER,
          publishedKeys: () => keys.published(),
          keysCacheForSeconds: 300,
          clock,
        }),
      ],
    };
  },
};
