// @gatehouse/dev-issuer: Google-shaped ID tokens for development without Google (DESIGN.md §3).
// Shared by identity (which verifies them in dev mode only) and the CLI (`gatehouse dev token`).
export {
  DevIdTokenIssuer,
  DevJwksSource,
  DEV_ISSUER,
  DEV_CLIENT_ID,
  DEV_TOKEN_LIFETIME_SECONDS,
  MIN_RSA_BITS,
  rsaThumbprint,
  type DevTokenClaims,
  type DevIdTokenIssuerOptions,
  type JwksSource,
} from './dev-issuer.js';
