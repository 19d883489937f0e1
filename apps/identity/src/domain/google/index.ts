/**
 * Step 1 of sign-in (P5, issue 4 item 2): verification of Google ID tokens with node:crypto
 * only, the JwksSource port it takes keys from, and the dev-mode local issuer (DESIGN.md §3).
 * Pure domain code: the HTTP JWKS fetcher lives in src/adapters/, the key file in the wiring.
 */
export {
  GoogleTokenVerifier,
  GOOGLE_ISSUERS,
  GOOGLE_ISSUER,
  DEV_ISSUER,
  DEFAULT_LEEWAY_SECONDS,
  MAX_LEEWAY_SECONDS,
  DEFAULT_MAX_TOKEN_BYTES,
  MIN_RSA_BITS,
  MAX_RSA_BITS,
  type GoogleTokenVerifierConfig,
  type VerifiedGoogleIdentity,
} from './google-token-verifier.js';
export { StaticJwksSource, parseJwks, rsaThumbprint, MAX_KID_LENGTH, type JwksSource, type ParsedJwks } from './jwks.js';
export {
  DevIdTokenIssuer,
  DevJwksSource,
  DEV_CLIENT_ID,
  DEV_TOKEN_LIFETIME_SECONDS,
  type DevTokenClaims,
  type DevIdTokenIssuerOptions,
} from '@gatehouse/dev-issuer';
