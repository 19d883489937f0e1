import { env } from '@gatehouse/service-kit';
import { sessionConfigShape } from '@gatehouse/session';

/** The impersonation service's own variables (on top of the base and session ones). README "Configuration" lists them. */
export const impersonationConfigShape = {
  ...sessionConfigShape,
  /** N of the burst rule (P11): distinct users of one customer domain an employee may impersonate within the window. */
  GATEHOUSE_IMPERSONATION_BURST_TARGETS: env.int(1, 100).default(3),
  /** W of the burst rule, in minutes. */
  GATEHOUSE_IMPERSONATION_BURST_WINDOW_MINUTES: env.int(1, 1440).default(60),
  /** Shortest written justification StartImpersonation and JustifyAnomaly accept, in characters. */
  GATEHOUSE_IMPERSONATION_MIN_JUSTIFICATION: env.int(1, 2000).default(20),
  /** Grant duration when the request gives none, in minutes. */
  GATEHOUSE_IMPERSONATION_DEFAULT_MINUTES: env.int(1, 60).default(30),
  /** Longest grant StartImpersonation accepts, in minutes (never more than 60). */
  GATEHOUSE_IMPERSONATION_MAX_MINUTES: env.int(1, 60).default(60),
  /** How often the expiry job marks grants past their expiry EXPIRED (and audits it). */
  GATEHOUSE_IMPERSONATION_EXPIRY_SCAN_MS: env.int(50, 600_000).default(10_000),
  /** `iss` of impersonation tokens; backends verifying locally check it. */
  GATEHOUSE_IMPERSONATION_TOKEN_ISSUER: env.string().default('gatehouse-impersonation'),
  /** The 256-bit key (64 hex characters, 0600) that encrypts the token signing keys at rest. Default `<data dir>/impersonation-master.key`, created on first start. */
  GATEHOUSE_IMPERSONATION_MASTER_KEY_FILE: env.string().optional(),
  /** Days a token signing key signs before its successor takes over. */
  GATEHOUSE_IMPERSONATION_KEY_ROTATION_DAYS: env.int(1, 365).default(30),
};
