import { AllowlistServiceService, SERVICE_NAMES } from '@gatehouse/contracts';
import { callers, type CallerRule, type ServiceBinding } from '@gatehouse/service-kit';

/**
 * Who may call each AllowlistService RPC, by certificate kind (the contract's "Callers:" lines).
 * Role checks on the employee's session happen in the domain, per object (ASVS 8.2).
 */
export const allowlistPolicy: Readonly<Record<string, CallerRule>> = {
  AddEntry: callers.operators,
  RemoveEntry: callers.operators,
  ListEntries: callers.operators,
  RegisterDailyIp: callers.operators,
  ListDailyIps: callers.operators,
  Check: callers.servicesAndBackends,
};

/** The AllowlistService binding: handlers translate proto ⇄ domain; unbuilt RPCs name what they await. */
export function allowlistBinding(): ServiceBinding {
  return {
    name: SERVICE_NAMES.allowlist,
    definition: AllowlistServiceService,
    policy: allowlistPolicy,
    handlers: {},
    pending: 'issue 5 (allowlist: enumerated CIDRs, daily home-worker IPs, the Check hot path)',
  };
}
