export { createCa, issueCertificate, type CertificateAndKey, type CreateCaOptions, type IssueCertificateOptions } from './certificates.js';
export {
  callerIdentityFromCertificate,
  peerIdentity,
  type CallerIdentity,
  type CertificateInput,
  type AuthContextSource,
} from './identity.js';
export { CALLER_KINDS, isCallerKind, isCallerName, identityUri, type CallerKind } from './names.js';
export { ensurePki, loadTlsMaterial, type EnsurePkiOptions, type PkiClient, type PkiPaths, type LeafPaths, type TlsMaterial } from './dev-pki.js';
export { writeSecretFileOnce, loadOrCreateSecretFile, replaceSecretFile } from './secret-files.js';
export { createServerCredentials, createClientCredentials, serviceAuthority, type ServerTlsMaterial, type ClientTlsMaterial } from './credentials.js';
export {
  devStackLayout,
  DevStackSettingError,
  DEV_PORT_OFFSET,
  DEV_STACK_DEFAULTS,
  DEV_DATA_FILES,
  type DevStackLayout,
  type DevStackService,
} from './dev-stack.js';
