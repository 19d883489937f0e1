import { ImpersonationServiceService, SERVICE_NAMES } from '@gatehouse/contracts';
import { callers, type CallerRule, type ServiceBinding } from '@gatehouse/service-kit';

/**
 * Who may call each ImpersonationService RPC, by certificate kind (the contract's "Callers:" lines).
 * Role checks on the employee's session happen in the domain, per object (ASVS 8.2).
 */
export const impersonationPolicy: Readonly<Record<string, CallerRule>> = {
  StartImpersonation: callers.operatorsAndBackends,
  EndImpersonation: callers.operatorsAndBackends,
  RevokeImpersonation: callers.operators,
  ListActive: callers.operatorsAndBackends,
  VerifyImpersonationToken: callers.servicesAndBackends,
  GetSigningKeys: callers.anyAuthenticated,
  RecordAccess: callers.servicesAndBackends,
  ListAnomalies: callers.operators,
  JustifyAnomaly: callers.operators,
  ResolveAnomaly: callers.operators,
  GetImpersonationStatus: callers.operators,
  UnlockImpersonation: callers.operators,
  ListAccessForDomain: callers.operatorsAndBackends,
};

/** The ImpersonationService binding: handlers translate proto ⇄ domain; unbuilt RPCs name what they await. */
export function impersonationBinding(): ServiceBinding {
  return {
    name: SERVICE_NAMES.impersonation,
    definition: ImpersonationServiceService,
    policy: impersonationPolicy,
    handlers: {},
    pending: 'issue 7 (impersonation: justified, time-boxed grants with burst anomaly detection)',
  };
}
