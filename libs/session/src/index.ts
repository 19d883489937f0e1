export { ROLES, LIVE_ROLES, reachesLive, employeeOf, isRole, type Role, type SessionScope, type SessionClaims, type Employee, type EnvironmentExpiry } from './claims.js';
export { InvalidSessionError, type SessionRejection } from './errors.js';
export { normalizeIp } from './ip.js';
export { parseSessionJws, signCompactJws, jsonOf, KEY_ID_RE, type ParsedJws } from './jws.js';
export { signSessionToken, DEFAULT_MAX_TOKEN_BYTES, type SessionSigningKey } from './sign.js';
export { SessionVerifier, type SessionVerifierOptions, type VerifyOptions, type SessionTokenVerifier } from './verifier.js';
export {
  StaticKeySource,
  SESSION_KEYS_FILE_VARIABLE,
  ed25519PublicKey,
  rawEd25519PublicKey,
  type SessionKeySource,
  type KeyValidity,
} from './key-source.js';
export { IdentityKeySource, type IdentityKeySourceOptions } from './identity-key-source.js';
export { RemoteSessionChecker } from './remote-session-checker.js';
export { requireEmployee, requireSession, type SessionCallContext, type RequireEmployeeOptions } from './require-employee.js';
export { RevocationFeed, RevocationSet, revocationFromProto, type Revocation, type RevocationFeedOptions } from './revocations.js';
export { ServiceSessionVerifier, type ServiceVerifyOptions } from './service-verifier.js';
export { sessionConfigShape, sessionVerifierFromConfig, type SessionVerifierDeps, DEFAULT_SESSION_ISSUER, DEFAULT_SESSION_AUDIENCE, type SessionConfig } from './config.js';
