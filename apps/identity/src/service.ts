import fs from 'node:fs';
import path from 'node:path';
import { auditedKeyCreation, auditedUnitOfWork, outboxAuditSink } from '@gatehouse/audit-client';
import { AllowlistServiceClient } from '@gatehouse/contracts';
import { DEV_CLIENT_ID, DevIdTokenIssuer } from '@gatehouse/dev-issuer';
import { loadOrCreateSecretFile, replaceSecretFile } from '@gatehouse/pki';
import type { ServiceSpec } from '@gatehouse/service-host';
import { ConfigError } from '@gatehouse/service-kit';
import { SessionVerifier } from '@gatehouse/session';
import { SigningKeyRing, loadOrCreateMasterKey } from '@gatehouse/signing-keys';
import { grpcAllowlistCheck } from './adapters/allowlist-check.js';
import { DevSmsSink, GOOGLE_JWKS_URL, HttpJwksSource, HttpSmsGateway } from './adapters/index.js';
import { identityConfigShape } from './config.js';
import { AccountAdmin } from './domain/accounts/account-admin.js';
import { IdentityKeys } from './domain/crypto/master-key.js';
import { GoogleTokenVerifier } from './domain/google/index.js';
import type { IdentityDeps } from './domain/identity-deps.js';
import { AccountThrottle, SeedCipher } from './domain/otp/index.js';
import type { IdentityAction, IdentityAudit, IdentityUnitOfWork } from './domain/ports.js';
import { validateLifetimes } from './domain/sessions/session-policy.js';
import { SessionService } from './domain/sessions/session-service.js';
import { RevocationHub } from './domain/sessions/revocation-log.js';
import { SignInFlow } from './domain/sign-in/sign-in-flow.js';
import { ThrottleGuard } from './domain/sign-in/throttle-guard.js';
import { validateSmsPolicy, type SmsGateway } from './domain/sms/index.js';
import { identityBinding } from './rpc/identity-rpc.js';
import { identitySchema, identityStores } from './store/schema.js';


/** The identity service as the host runs it: config → store → domain → rpc → server. Wiring only. */
export const identityService: ServiceSpec<typeof identityConfigShape> = {
  name: 'identity',
  defaultPort: 7101,
  configShape: identityConfigShape,
  storage: identitySchema,
  shipsAuditEvents: true,
  wire: async ({ cfg, log, clock, store, audit: emitter, dialService, onShutdown }) => {
    const dev = cfg.GATEHOUSE_ENV === 'dev';
    const dataDir = cfg.GATEHOUSE_DATA_DIR;
    if (!emitter) throw new Error('identity ships audit events: the host must provide the outbox');
    const audit: IdentityAudit = outboxAuditSink('identity', emitter);
    // Every state change and its events in one transaction of the store (issue 14).
    const uow: IdentityUnitOfWork = auditedUnitOfWork<IdentityAction>('identity', store.store, emitter);

    const masterKey = loadOrCreateMasterKey(cfg.GATEHOUSE_IDENTITY_MASTER_KEY_FILE ?? path.join(dataDir, 'identity-master.key'), 'GATEHOUSE_IDENTITY_MASTER_KEY_FILE');
    const secrets = new IdentityKeys([masterKey]);

    const problems: string[] = [];
    const clientIds = cfg.GATEHOUSE_GOOGLE_CLIENT_IDS;
    let devIssuer: DevIdTokenIssuer | undefined;
    if (dev) {
      const keyFile = cfg.GATEHOUSE_DEV_ISSUER_KEY_FILE ?? path.join(dataDir, 'identity-dev-issuer-key.pem');
      const pem = loadOrCreateSecretFile(keyFile, () => new DevIdTokenIssuer({ clock }).privateKeyPem());
      devIssuer = new DevIdTokenIssuer({ clock, privateKeyPem: pem });
      log.warn({ keyFile }, 'DEV MODE: the local dev issuer signs Google-shaped ID tokens (gatehouse dev token <email>); never use dev mode in production');
    } else {
      if (clientIds.length === 0) problems.push('GATEHOUSE_GOOGLE_CLIENT_IDS: required outside dev mode (the OAuth client ids of Gatehouse)');
      if (cfg.GATEHOUSE_DEV_ISSUER_KEY_FILE) problems.push('GATEHOUSE_DEV_ISSUER_KEY_FILE: the dev issuer is refused outside dev mode (GATEHOUSE_ENV=dev)');
      if (!cfg.GATEHOUSE_SMS_GATEWAY_URL) problems.push('GATEHOUSE_SMS_GATEWAY_URL: required outside dev mode (the SMS provider endpoint)');
    }
    if (cfg.GATEHOUSE_SMS_GATEWAY_URL && !cfg.GATEHOUSE_SMS_GATEWAY_KEY_FILE) problems.push('GATEHOUSE_SMS_GATEWAY_KEY_FILE: required with GATEHOUSE_SMS_GATEWAY_URL');
    if (problems.length > 0) throw new ConfigError(problems);

    const google = new GoogleTokenVerifier({
      clientIds: dev && clientIds.length === 0 ? [DEV_CLIENT_ID] : clientIds,
      allowedHostedDomains: cfg.GATEHOUSE_ALLOWED_HOSTED_DOMAINS,
      clock,
      jwks: new HttpJwksSource(cfg.GATEHOUSE_GOOGLE_JWKS_URL ?? GOOGLE_JWKS_URL, {
        clock,
        onRefreshError: (err) => log.warn({ err: err.message }, 'Google JWKS refresh failed'),
      }),
      ...(devIssuer ? { devMode: true, devIssuerKeys: devIssuer.jwksSource() } : {}),
    });

    const sms: SmsGateway = cfg.GATEHOUSE_SMS_GATEWAY_URL
      ? new HttpSmsGateway({ url: cfg.GATEHOUSE_SMS_GATEWAY_URL, apiKey: fs.readFileSync(cfg.GATEHOUSE_SMS_GATEWAY_KEY_FILE as string, 'utf8').trim() })
      : new DevSmsSink((to, text) => {
          // Dev mode only (refused above otherwise): the code is shown on the dev console, never logged.
          process.stderr.write(`\n*** DEV SMS to ${to.slice(0, -4).replace(/\d/g, '•')}${to.slice(-4)}: ${text}\n\n`);
        });

    const smsPolicy = {
      digits: cfg.GATEHOUSE_SMS_CODE_DIGITS,
      ttlMs: cfg.GATEHOUSE_SMS_CODE_TTL_S * 1000,
      maxSends: cfg.GATEHOUSE_SMS_MAX_SENDS,
      cooldownMs: cfg.GATEHOUSE_SMS_COOLDOWN_S * 1000,
    };
    validateSmsPolicy(smsPolicy);
    const lifetimes = {
      stagingIdleMs: cfg.GATEHOUSE_SESSION_STAGING_IDLE_MIN * 60_000,
      stagingAbsoluteMs: cfg.GATEHOUSE_SESSION_STAGING_ABSOLUTE_MIN * 60_000,
      liveIdleMs: cfg.GATEHOUSE_SESSION_LIVE_IDLE_MIN * 60_000,
      liveAbsoluteMs: cfg.GATEHOUSE_SESSION_LIVE_ABSOLUTE_MIN * 60_000,
    };
    try {
      validateLifetimes(lifetimes);
    } catch (err) {
      throw new ConfigError([`GATEHOUSE_SESSION_*: ${(err as Error).message}`]);
    }

    const repos = identityStores(store);
    const throttle = new ThrottleGuard(
      repos.throttle,
      new AccountThrottle({
        lockAfter: cfg.GATEHOUSE_LOCK_AFTER,
        freeFailures: cfg.GATEHOUSE_FREE_FAILURES,
        baseDelayMs: cfg.GATEHOUSE_THROTTLE_BASE_DELAY_MS,
        maxDelayMs: Math.max(cfg.GATEHOUSE_THROTTLE_MAX_DELAY_MS, cfg.GATEHOUSE_THROTTLE_BASE_DELAY_MS),
      }),
      clock,
    );
    const keys = new SigningKeyRing(
      auditedKeyCreation('identity', repos.signingKeys, uow),
      secrets.signingKeyCipher,
      clock,
      {
        rotateEveryMs: cfg.GATEHOUSE_SIGNING_KEY_ROTATION_DAYS * 24 * 3600_000,
        publishAheadMs: 3600_000,
        keepRetiredMs: lifetimes.stagingAbsoluteMs + 3600_000,
      },
    );
    await keys.fresh();
    const revocationHub = new RevocationHub(repos.revocations, clock, {
      pollMs: cfg.GATEHOUSE_REVOCATION_POLL_MS,
      onError: (err) => log.warn({ err }, 'revocation log poll failed'),
    });
    await revocationHub.start();
    onShutdown(() => revocationHub.stop());
    const deps: IdentityDeps = {
      ...repos,
      revocationHub,
      keys,
      throttle,
      google,
      sms,
      allowlist: grpcAllowlistCheck(dialService(AllowlistServiceClient, 'allowlist', cfg.GATEHOUSE_ALLOWLIST_ADDR), log),
      audit,
      uow,
      secrets,
      seedCipher: new SeedCipher(secrets.seedKeyring),
      verifier: new SessionVerifier({
        issuer: cfg.GATEHOUSE_SESSION_ISSUER,
        audience: cfg.GATEHOUSE_SESSION_AUDIENCE,
        keys,
        clock,
        maxSessionSeconds: lifetimes.stagingAbsoluteMs / 1000,
      }),
      clock,
      settings: {
        issuer: cfg.GATEHOUSE_SESSION_ISSUER,
        audience: cfg.GATEHOUSE_SESSION_AUDIENCE,
        lifetimes,
        sms: smsPolicy,
        freshSignInMs: cfg.GATEHOUSE_FRESH_SIGN_IN_MIN * 60_000,
        maxResync: cfg.GATEHOUSE_HOTP_RESYNC_RANGE,
        bootstrapTokenTtlMs: cfg.GATEHOUSE_BOOTSTRAP_TOKEN_TTL_H * 3600_000,
      },
    };
    const sessions = new SessionService(deps);
    const admin = new AccountAdmin(deps, sessions);
    const flow = new SignInFlow(deps, sessions);
    // In the failed attempt's unit: the lock, its revocation log entry and the revoked records commit together.
    throttle.onLock((tx, accountId) => sessions.revokeAllFor(tx, accountId, null, 'account locked after too many failed second-factor attempts', 'account_locked'));

    const bootstrapFile = cfg.GATEHOUSE_BOOTSTRAP_TOKEN_FILE ?? path.join(dataDir, 'identity-bootstrap-token');
    const token = await admin.ensureBootstrapToken();
    if (token) {
      replaceSecretFile(bootstrapFile, `${token}\n`);
      log.warn({ file: bootstrapFile }, 'no security officer exists yet: a one-time bootstrap token was written to this file (0600); run `gatehouse accounts bootstrap` to create the first officer');
    }

    return {
      services: [identityBinding({ flow, sessions, admin, clock, trustedProxies: cfg.GATEHOUSE_TRUSTED_PROXIES, revocations: revocationHub })],
    };
  },
};
