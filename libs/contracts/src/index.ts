/**
 * The generated Gatehouse contracts (ts-proto, grpc-js). Each service's messages come as a
 * namespace (`identityV1.BeginSignInRequest`), because request names repeat across services; the
 * service definitions and clients are also exported by name for wiring.
 */
import { DESCRIPTOR_SET_BASE64 } from './gen/descriptor-set.js';

export * as commonV1 from './gen/gatehouse/common/v1/common.js';
export * as identityV1 from './gen/gatehouse/identity/v1/identity_service.js';
export * as allowlistV1 from './gen/gatehouse/allowlist/v1/allowlist_service.js';
export * as secretsV1 from './gen/gatehouse/secrets/v1/secrets_service.js';
export * as impersonationV1 from './gen/gatehouse/impersonation/v1/impersonation_service.js';
export * as auditV1 from './gen/gatehouse/audit/v1/audit_service.js';
export * as auditEventV1 from './gen/gatehouse/audit/v1/event.js';

export { IdentityServiceService, IdentityServiceClient } from './gen/gatehouse/identity/v1/identity_service.js';
export { AllowlistServiceService, AllowlistServiceClient } from './gen/gatehouse/allowlist/v1/allowlist_service.js';
export { SecretsServiceService, SecretsServiceClient } from './gen/gatehouse/secrets/v1/secrets_service.js';
export { ImpersonationServiceService, ImpersonationServiceClient } from './gen/gatehouse/impersonation/v1/impersonation_service.js';
export { AuditServiceService, AuditServiceClient } from './gen/gatehouse/audit/v1/audit_service.js';
export { AuditEvent } from './gen/gatehouse/audit/v1/event.js';

/** Fully-qualified names of the five services, as health and reflection report them. */
export const SERVICE_NAMES = {
  identity: 'gatehouse.identity.v1.IdentityService',
  allowlist: 'gatehouse.allowlist.v1.AllowlistService',
  secrets: 'gatehouse.secrets.v1.SecretsService',
  impersonation: 'gatehouse.impersonation.v1.ImpersonationService',
  audit: 'gatehouse.audit.v1.AuditService',
} as const;

let cached: Buffer | undefined;

/** The FileDescriptorSet of every contract, for server reflection (built by `contracts:generate`). */
export function descriptorSet(): Buffer {
  cached ??= Buffer.from(DESCRIPTOR_SET_BASE64, 'base64');
  return cached;
}
