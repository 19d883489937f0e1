import { AuditServiceService, SERVICE_NAMES } from '@gatehouse/contracts';
import { callers, type CallerRule, type ServiceBinding } from '@gatehouse/service-kit';

/**
 * Who may call each AuditService RPC, by certificate kind (the contract's "Callers:" lines).
 * Role checks on the employee's session happen in the domain, per object (ASVS 8.2).
 */
export const auditPolicy: Readonly<Record<string, CallerRule>> = {
  Append: callers.anyAuthenticated,
  Query: callers.operators,
  Watch: callers.operators,
  Export: callers.operators,
  GetCheckpoint: callers.anyAuthenticated,
  GetInclusionProof: callers.anyAuthenticated,
  GetConsistencyProof: callers.anyAuthenticated,
  GetSigningKeys: callers.anyAuthenticated,
  HashValue: callers.operators,
  ListAlertRules: callers.operators,
  ListAlerts: callers.operators,
  WatchAlerts: callers.operators,
  AcknowledgeAlert: callers.operators,
};

/** The AuditService binding: handlers translate proto ⇄ domain; unbuilt RPCs name what they await. */
export function auditBinding(): ServiceBinding {
  return {
    name: SERVICE_NAMES.audit,
    definition: AuditServiceService,
    policy: auditPolicy,
    handlers: {},
    pending: 'issue 3 (audit: the tamper-evident log, proofs and alert rules)',
  };
}
