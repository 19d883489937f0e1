import type { Clock } from '@gatehouse/core';
import type { IdentityServiceClient } from '@gatehouse/contracts';
import { env } from '@gatehouse/service-kit';
import { IdentityKeySource } from './identity-key-source.js';
import { StaticKeySource } from './key-source.js';
import { SessionVerifier } from './verifier.js';
import { RemoteSessionChecker } from './remote-session-checker.js';
import { RevocationFeed, type Revocation } from './revocations.js';
import { ServiceSessionVerifier } from './service-verifier.js';

/** Default `iss` of session tokens; identity signs with the same configuration. */
export const DEFAULT_SESSION_ISSUER = 'gatehouse-identity';
/** Default `aud` of session tokens: every Gatehouse service and product backend. */
export const DEFAULT_SESSION_AUDIENCE = 'gatehouse';

/**
 * The session variables, to spread into a service's config shape next to baseConfigShape, so
 * every service reads them with the same names, defaults and bounds.
 */
export const sessionConfigShape = {
  GATEHOUSE_SESSION_ISSUER: env.string().default(DEFAULT_SESSION_ISSUER),
  GATEHOUSE_SESSION_AUDIENCE: env.string().default(DEFAULT_SESSION_AUDIENCE),
  /** A JWK Set of identity's public keys; when set, keys are not fetched from identity. */
  GATEHOUSE_SESSION_KEYS_FILE: env.string().optional(),
  GATEHOUSE_SESSION_LEEWAY_S: env.int(0, 300).default(30),
  GATEHOUSE_SESSION_KEY_REFRESH_S: env.int(1, 3600).default(30),
  /**
   * The revocation feed (WatchRevocations) counts as current only if identity was heard from
   * within this many ms (it sends a heartbeat every second); past it, every session is checked
   * with identity's VerifySession until the feed is back (fail closed).
   */
  GATEHOUSE_SESSION_REVOCATION_STALE_MS: env.int(1500, 60_000).default(3000),
};

/** The values {@link sessionConfigShape} yields. */
export interface SessionConfig {
  GATEHOUSE_SESSION_ISSUER: string;
  GATEHOUSE_SESSION_AUDIENCE: string;
  GATEHOUSE_SESSION_KEYS_FILE?: string | undefined;
  GATEHOUSE_SESSION_LEEWAY_S: number;
  GATEHOUSE_SESSION_KEY_REFRESH_S: number;
  GATEHOUSE_SESSION_REVOCATION_STALE_MS?: number;
}

/** What {@link sessionVerifierFromConfig} needs besides the configuration. */
export interface SessionVerifierDeps {
  /** Identity, for keys (unless pinned), the revocation feed and critical checks. */
  identity?: IdentityServiceClient;
  clock?: Clock;
  /** Every revocation as it arrives (impersonation revokes grants of locked and suspended accounts). */
  onRevocation?: (r: Revocation) => void;
  /** Feed problems, for the service's log. */
  warn?: (msg: string) => void;
}

/**
 * The verifier a service's wiring uses: keys pinned in GATEHOUSE_SESSION_KEYS_FILE if set,
 * otherwise fetched from identity; revocations pushed by identity's WatchRevocations; and
 * identity's VerifySession for critical actions and whenever the feed may be behind. Without an
 * identity client (tests of the verifier alone) it verifies locally only. Call close() on shutdown.
 */
export function sessionVerifierFromConfig(cfg: SessionConfig, deps: SessionVerifierDeps): ServiceSessionVerifier {
  const pinned = StaticKeySource.fromEnv({ GATEHOUSE_SESSION_KEYS_FILE: cfg.GATEHOUSE_SESSION_KEYS_FILE });
  let keys: StaticKeySource | IdentityKeySource;
  if (pinned) keys = pinned;
  else if (deps.identity) {
    keys = new IdentityKeySource(deps.identity, {
      minRefreshIntervalSeconds: cfg.GATEHOUSE_SESSION_KEY_REFRESH_S,
      clock: deps.clock,
    });
  } else throw new TypeError('sessionVerifierFromConfig: an identity client is required unless GATEHOUSE_SESSION_KEYS_FILE is set');
  const local = new SessionVerifier({
    issuer: cfg.GATEHOUSE_SESSION_ISSUER,
    audience: cfg.GATEHOUSE_SESSION_AUDIENCE,
    keys,
    leewaySeconds: cfg.GATEHOUSE_SESSION_LEEWAY_S,
    clock: deps.clock,
  });
  if (!deps.identity) return new ServiceSessionVerifier(local, undefined, undefined);
  let warned = false;
  const feed = new RevocationFeed(deps.identity, {
    clock: deps.clock,
    staleAfterMs: cfg.GATEHOUSE_SESSION_REVOCATION_STALE_MS ?? 3000,
    ...(deps.onRevocation ? { onRevocation: deps.onRevocation } : {}),
    onDisconnect: (reason) => {
      // Once per outage is enough: reconnects back off and the next success resets it.
      if (warned) return;
      warned = true;
      deps.warn?.(`identity's revocation stream is down (${reason}): sessions are checked with identity on every call until it is back`);
      setTimeout(() => (warned = false), 60_000).unref();
    },
  }).start();
  return new ServiceSessionVerifier(local, feed, new RemoteSessionChecker(deps.identity));
}
