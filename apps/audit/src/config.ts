import { z } from 'zod';
import { env } from '@gatehouse/service-kit';
import { sessionConfigShape } from '@gatehouse/session';
import { BUILT_IN_RULE_IDS } from './domain/alerts/index.js';

const ruleSettings = z.strictObject({
  enabled: z.boolean().optional(),
  threshold: z.number().int().min(1).optional(),
  windowMs: z.number().int().min(1_000).optional(),
});

/** The audit service's own variables (on top of the base and session ones). */
export const auditConfigShape = {
  ...sessionConfigShape,
  /** Ed25519 checkpoint key (PKCS#8 PEM, 0600); generated on first start. Default: <data dir>/audit-signing-key.pem. */
  GATEHOUSE_AUDIT_SIGNING_KEY_FILE: env.string().optional(),
  /** 256-bit HMAC key for hashed_details; generated on first start. Default: <data dir>/audit-hmac.key. */
  GATEHOUSE_AUDIT_HMAC_KEY_FILE: env.string().optional(),
  GATEHOUSE_AUDIT_ORIGIN: env.string().default('gatehouse/audit'),
  GATEHOUSE_AUDIT_CHECKPOINT_EVERY: env.int(1, 10_000_000).default(1000),
  GATEHOUSE_AUDIT_CHECKPOINT_INTERVAL_MS: env.int(1_000, 86_400_000).default(60_000),
  /** How often the log is recomputed from its rows and compared with its signed checkpoints and index columns (also at start). */
  GATEHOUSE_AUDIT_INTEGRITY_CHECK_MS: env.int(1_000, 86_400_000).default(600_000),
  /** Backends (certificate names) that may read the log and alerts without a session: log shippers, alert forwarders. */
  GATEHOUSE_AUDIT_READERS: z
    .string()
    .regex(/^([a-z][a-z0-9-]{0,62})(,[a-z][a-z0-9-]{0,62})*$/, { error: 'expected a comma-separated list of backend names' })
    .optional(),
  /** Overrides of the built-in alert rules, e.g. {"otp.failures_per_account":{"threshold":3,"windowMs":600000}}. */
  GATEHOUSE_AUDIT_ALERT_RULES: env
    .json(z.partialRecord(z.enum(BUILT_IN_RULE_IDS as unknown as [string, ...string[]]), ruleSettings))
    .optional(),
};
