import { env } from '@gatehouse/service-kit';
import { sessionConfigShape } from '@gatehouse/session';

/** The secrets service's own variables (on top of the base and session ones). README "Configuration" lists them. */
export const secretsConfigShape = {
  ...sessionConfigShape,
  /** The sealed key file (P3: outside the database; 0600 in a 0700 folder). Default `<data dir>/secrets/key-file.json`. */
  GATEHOUSE_SECRETS_KEY_FILE: env.string().optional(),
  /** Approvals a LIVE release needs before it can be redeemed (M of the managers and team leads; 0 = none). */
  GATEHOUSE_SECRETS_LIVE_APPROVALS: env.int(0, 5).default(0),
  /** Approvals a STAGING release needs (0 = none). */
  GATEHOUSE_SECRETS_STAGING_APPROVALS: env.int(0, 5).default(0),
  /** Longest release TTL CreateRelease accepts, in minutes (default 60, at most 24 h). */
  GATEHOUSE_SECRETS_MAX_RELEASE_TTL_MINUTES: env.int(1, 1440).default(60),
  /** How often the expiry job looks for releases past their expiry (and raises the unredeemed alert). */
  GATEHOUSE_SECRETS_EXPIRY_SCAN_MS: env.int(50, 600_000).default(10_000),
  /** Unseal progress with shares is discarded after this long without a new share. */
  GATEHOUSE_SECRETS_UNSEAL_IDLE_MS: env.int(10_000, 3_600_000).default(600_000),
  /**
   * Dev mode only (GATEHOUSE_ENV=dev): initialise with a generated passphrase kept in
   * `<data dir>/secrets/dev-passphrase` and unseal at start, like Vault's dev server. Refused
   * outside dev mode.
   */
  GATEHOUSE_SECRETS_DEV_AUTO_UNSEAL: env.bool.optional(),
};
