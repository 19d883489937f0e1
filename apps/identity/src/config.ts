import { z } from 'zod';
import { env } from '@gatehouse/service-kit';
import { sessionConfigShape } from '@gatehouse/session';

const names = (what: string) => env.list('[A-Za-z0-9._@-]{1,200}', what);

/** The identity service's own variables (on top of the base ones). README "Configuration" lists them all. */
export const identityConfigShape = {
  /** Issuer and audience of session tokens (shared with every verifier). */
  GATEHOUSE_SESSION_ISSUER: sessionConfigShape.GATEHOUSE_SESSION_ISSUER,
  GATEHOUSE_SESSION_AUDIENCE: sessionConfigShape.GATEHOUSE_SESSION_AUDIENCE,
  /** 256-bit master key (hex, 0600) that encrypts seeds, phone numbers and signing keys; generated on first start. Default <data dir>/identity-master.key. */
  GATEHOUSE_IDENTITY_MASTER_KEY_FILE: env.string().optional(),
  /** Where the one-time bootstrap token is written at first start (0600). Default <data dir>/identity-bootstrap-token. */
  GATEHOUSE_BOOTSTRAP_TOKEN_FILE: env.string().optional(),
  GATEHOUSE_BOOTSTRAP_TOKEN_TTL_H: env.int(1, 168).default(24),
  /** Gatehouse's Google OAuth client ids (`aud`); required outside dev mode. */
  GATEHOUSE_GOOGLE_CLIENT_IDS: names('OAuth client ids'),
  /** Google's JWKS (cached per Cache-Control, refetched on an unknown kid at most every 30 s). */
  GATEHOUSE_GOOGLE_JWKS_URL: z.url({ error: 'expected an https URL' }).optional(),
  /** Google Workspace domains allowed to sign in; empty = any verified Google account. */
  GATEHOUSE_ALLOWED_HOSTED_DOMAINS: names('domains'),
  /** Dev mode only: the local issuer's RSA key (PKCS#8 PEM, 0600). Default <data dir>/identity-dev-issuer-key.pem. */
  GATEHOUSE_DEV_ISSUER_KEY_FILE: env.string().optional(),
  /** The SMS provider's HTTPS endpoint (POST {to, text} with a bearer key); required outside dev mode. */
  GATEHOUSE_SMS_GATEWAY_URL: z.url({ error: 'expected an https URL' }).optional(),
  /** File holding the SMS provider's API key (0600). */
  GATEHOUSE_SMS_GATEWAY_KEY_FILE: env.string().optional(),
  GATEHOUSE_SMS_CODE_DIGITS: env.int(6, 10).default(6),
  GATEHOUSE_SMS_CODE_TTL_S: env.int(30, 600).default(300),
  GATEHOUSE_SMS_MAX_SENDS: env.int(1, 10).default(3),
  GATEHOUSE_SMS_COOLDOWN_S: env.int(0, 600).default(30),
  /** Consecutive second-factor failures before the account locks (NIST: at most 100). */
  GATEHOUSE_LOCK_AFTER: env.int(1, 100).default(10),
  /** Failures without delay before the exponential delays start. */
  GATEHOUSE_FREE_FAILURES: env.int(0, 99).default(3),
  GATEHOUSE_THROTTLE_BASE_DELAY_MS: env.int(1, 600_000).default(1000),
  GATEHOUSE_THROTTLE_MAX_DELAY_MS: env.int(1, 3_600_000).default(900_000),
  GATEHOUSE_HOTP_RESYNC_RANGE: env.int(1, 1000).default(100),
  /** How often each replica re-reads the revocation log for revocations made on other replicas (WatchRevocations). */
  GATEHOUSE_REVOCATION_POLL_MS: env.int(20, 5000).default(100),
  /** Session lifetimes in minutes: STAGING at most 60 idle / 1440 absolute; LIVE shorter. */
  GATEHOUSE_SESSION_STAGING_IDLE_MIN: env.int(1, 60).default(60),
  GATEHOUSE_SESSION_STAGING_ABSOLUTE_MIN: env.int(1, 1440).default(720),
  GATEHOUSE_SESSION_LIVE_IDLE_MIN: env.int(1, 60).default(15),
  GATEHOUSE_SESSION_LIVE_ABSOLUTE_MIN: env.int(1, 1440).default(240),
  /** How recent a sign-in must be to change a second factor with a session. */
  GATEHOUSE_FRESH_SIGN_IN_MIN: env.int(1, 60).default(10),
  /** Signing key rotation period. */
  GATEHOUSE_SIGNING_KEY_ROTATION_DAYS: env.int(1, 365).default(30),
};
