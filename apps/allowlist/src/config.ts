import { env } from '@gatehouse/service-kit';
import { sessionConfigShape } from '@gatehouse/session';

/** The allowlist service's own variables (on top of the base and session ones). README "Configuration" lists them. */
export const allowlistConfigShape = {
  ...sessionConfigShape,
  /** Broadest prefixes AddEntry accepts. */
  GATEHOUSE_ALLOWLIST_MIN_PREFIX_V4: env.int(1, 32).default(16),
  GATEHOUSE_ALLOWLIST_MIN_PREFIX_V6: env.int(1, 128).default(48),
  /** The daily cut-off: an IANA time zone and an hour (daily IPs last until the next one). */
  GATEHOUSE_ALLOWLIST_CUTOFF_TZ: env.string().default('UTC'),
  GATEHOUSE_ALLOWLIST_CUTOFF_HOUR: env.int(0, 23).default(4),
  /** Distinct daily IPs one employee may register per day. */
  GATEHOUSE_ALLOWLIST_DAILY_CAP: env.int(1, 20).default(3),
  /**
   * Entries from configuration, always present and not removable by RPC: the bootstrap (office,
   * VPN, loopback in dev) before the officer has a FULL session. `cidr[=live|staging|all]`, comma-separated.
   */
  GATEHOUSE_ALLOWLIST_STATIC_CIDRS: env.list('[0-9A-Fa-f:./]+(?:=(?:live|staging|all))?', 'cidr[=live|staging|all]'),
  /** How often replicas poll the store's change version (converge within 1 s). */
  GATEHOUSE_ALLOWLIST_POLL_MS: env.int(50, 1000).default(250),
};
