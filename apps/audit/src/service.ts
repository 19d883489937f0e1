import path from 'node:path';
import { IdentityServiceClient } from '@gatehouse/contracts';
import type { ServiceSpec } from '@gatehouse/service-host';
import { sessionVerifierFromConfig } from '@gatehouse/session';
import { registerAlertMetrics } from './alert-metrics.js';
import { auditConfigShape } from './config.js';
import { AlertService } from './domain/alert-service.js';
import { AlertEngine, builtInRules, type BuiltInRulesConfig } from './domain/alerts/index.js';
import { AuditLog } from './domain/audit-log.js';
import { LiveFeed } from './domain/live-feed.js';
import { IntegrityMonitor, LogIntegrityCheck, INTEGRITY_ALERT_RULE, integrityAlert } from './domain/log-integrity.js';
import { auditBinding } from './rpc/audit-rpc.js';
import { auditAuthz } from './rpc/authz.js';
import { protoLeafCodec } from './rpc/convert.js';
import { ownEvents } from './rpc/own-events.js';
import { auditSchema, auditStores } from './store/schema.js';
import { loadOrCreateHmacKey, loadOrCreateSigningKey } from './store/key-files.js';

/** The audit service as the host runs it: config → store → domain → rpc → server. Wiring only. */
export const auditService: ServiceSpec<typeof auditConfigShape> = {
  name: 'audit',
  defaultPort: 7105,
  configShape: auditConfigShape,
  storage: auditSchema,
  shipsAuditEvents: false,
  wire: async ({ cfg, log, clock, store, dialService, onShutdown, setCondition }) => {
    const dataDir = cfg.GATEHOUSE_DATA_DIR;
    const signer = loadOrCreateSigningKey(cfg.GATEHOUSE_AUDIT_SIGNING_KEY_FILE ?? path.join(dataDir, 'audit-signing-key.pem'));
    const hmacKey = loadOrCreateHmacKey(cfg.GATEHOUSE_AUDIT_HMAC_KEY_FILE ?? path.join(dataDir, 'audit-hmac.key'));
    const { logRepo, alertRepo } = auditStores(store, protoLeafCodec);
    const feed = new LiveFeed();
    const alertFeed = new LiveFeed();
    const rules = builtInRules((cfg.GATEHOUSE_AUDIT_ALERT_RULES ?? {}) as BuiltInRulesConfig);
    // The alert side needs the log (to record raised alerts) and the log feeds it: tie the knot.
    const alertsRef: { current?: AlertService } = {};
    const auditLog = new AuditLog({
      repo: logRepo,
      codec: protoLeafCodec,
      signer,
      clock,
      hmacKey,
      origin: cfg.GATEHOUSE_AUDIT_ORIGIN,
      checkpointEvery: cfg.GATEHOUSE_AUDIT_CHECKPOINT_EVERY,
      onAppended: (records) => {
        feed.notify();
        alertsRef.current?.onAppended(records);
      },
    });
    await auditLog.init();
    const own = ownEvents(auditLog, clock, (err) => log.error({ err }, 'could not record an audit-service event'));
    const alerts = new AlertService({
      repo: alertRepo,
      engine: new AlertEngine(rules),
      rules,
      clock,
      feed: alertFeed,
      recorder: own.recorder,
      onError: (err) => log.error({ err }, 'alert evaluation failed'),
    });
    alertsRef.current = alerts;
    // Checked against its signatures and leaves before serving, then on a timer (issue 13 item 7).
    const integrity = new IntegrityMonitor({
      check: new LogIntegrityCheck({ repo: logRepo, codec: protoLeafCodec, publicKey: signer.publicKey, origin: cfg.GATEHOUSE_AUDIT_ORIGIN }),
      refuseWrites: (f) => auditLog.refuseWrites(f),
      onFailure: (f) => {
        log.error({ sequence: f.sequence, damage: f.damage }, `AUDIT LOG INTEGRITY FAILURE at sequence ${f.sequence}: ${f.detail}; appends refused (NOT_SERVING), reads and exports still served`);
        setCondition('audit-log-integrity', false);
        void alerts.raise(integrityAlert(f, clock.now()));
      },
      onError: (err) => log.error({ err }, 'the audit log integrity check could not run; retrying at the next interval'),
    });
    if (await integrity.run()) {
      log.warn('alert replay skipped: the log failed its integrity check');
    } else {
      const missed = await alerts.rebuild((cutoff) => own.recentRecords(cutoff));
      if (missed > 0) log.warn({ alerts: missed }, 'raised alerts missed while the service was down');
    }
    const integrityTimer = setInterval(() => void integrity.run(), cfg.GATEHOUSE_AUDIT_INTEGRITY_CHECK_MS);
    onShutdown(() => clearInterval(integrityTimer));
    const timer = setInterval(() => {
      auditLog.checkpointIfGrown().catch((err: unknown) => log.error({ err }, 'periodic checkpoint failed'));
    }, cfg.GATEHOUSE_AUDIT_CHECKPOINT_INTERVAL_MS);
    onShutdown(() => clearInterval(timer));
    // Identity is always dialled: it pushes revocations and answers for critical actions, even when keys are pinned.
    const verifier = sessionVerifierFromConfig(cfg, {
      identity: dialService(IdentityServiceClient, 'identity', cfg.GATEHOUSE_IDENTITY_ADDR),
      clock,
      warn: (msg) => log.warn(msg),
    });
    onShutdown(() => verifier.close());
    const readers = cfg.GATEHOUSE_AUDIT_READERS?.split(',') ?? [];
    return {
      services: [
        auditBinding({
          log: auditLog,
          alerts,
          feed,
          alertFeed,
          authz: auditAuthz(verifier, readers),
          signingKey: signer,
          origin: cfg.GATEHOUSE_AUDIT_ORIGIN,
          own,
        }),
      ],
      registerMetrics: (registry) => registerAlertMetrics(registry, alerts, [...rules.map((r) => r.ruleId), INTEGRITY_ALERT_RULE]),
    };
  },
};
