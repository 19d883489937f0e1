import type { Clock } from '@gatehouse/core';
import type { IdentityServiceClient } from '@gatehouse/contracts';
import { env } from '@gatehouse/service-kit';
import { IdentityKeySource } from './identity-key-source.js';
import { StaticKeySource } from './key-source.js';
import { SessionVerifier } from './verifier.js';

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
};

/** The values {@link sessionConfigShape} yields. */
export interface SessionConfig {
  GATEHOUSE_SESSION_ISSUER: string;
  GATEHOUSE_SESSION_AUDIENCE: string;
  GATEHOUSE_SESSION_KEYS_FILE?: string | undefined;
  GATEHOUSE_SESSION_LEEWAY_S: number;
  GATEHOUSE_SESSION_KEY_REFRESH_S: number;
}

/**
 * The verifier a service's main.ts wires: keys pinned in GATEHOUSE_SESSION_KEYS_FILE if set,
 * otherwise fetched from identity over `identity` (required then).
 */
export function sessionVerifierFromConfig(cfg: SessionConfig, deps: { identity?: IdentityServiceClient; clock?: Clock }): SessionVerifier {
  const pinned = StaticKeySource.fromEnv({ GATEHOUSE_SESSION_KEYS_FILE: cfg.GATEHOUSE_SESSION_KEYS_FILE });
  let keys: StaticKeySource | IdentityKeySource;
  if (pinned) keys = pinned;
  else if (deps.identity) {
    keys = new IdentityKeySource(deps.identity, {
      minRefreshIntervalSeconds: cfg.GATEHOUSE_SESSION_KEY_REFRESH_S,
      clock: deps.clock,
    });
  } else throw new TypeError('sessionVerifierFromConfig: an identity client is required unless GATEHOUSE_SESSION_KEYS_FILE is set');
  return new SessionVerifier({
    issuer: cfg.GATEHOUSE_SESSION_ISSUER,
    audience: cfg.GATEHOUSE_SESSION_AUDIENCE,
    keys,
    leewaySeconds: cfg.GATEHOUSE_SESSION_LEEWAY_S,
    clock: deps.clock,
  });
}
