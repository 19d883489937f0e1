import { SecretsServiceService, SERVICE_NAMES } from '@gatehouse/contracts';
import { callers, type CallerRule, type ServiceBinding } from '@gatehouse/service-kit';

/**
 * Who may call each SecretsService RPC, by certificate kind (the contract's "Callers:" lines).
 * Role checks on the employee's session happen in the domain, per object (ASVS 8.2).
 */
export const secretsPolicy: Readonly<Record<string, CallerRule>> = {
  SealStatus: callers.anyAuthenticated,
  Initialize: callers.operators,
  Unseal: callers.operators,
  Seal: callers.operatorsAndServices,
  RotateMasterKey: callers.operators,
  PutSecret: callers.operators,
  ListSecrets: callers.operators,
  DeleteSecret: callers.operators,
  CreateRelease: callers.operatorsAndBackends,
  ApproveRelease: callers.operators,
  RevokeRelease: callers.operators,
  RedeemRelease: callers.operatorsAndBackends,
  GetRelease: callers.operators,
  ListReleases: callers.operators,
};

/** The SecretsService binding: handlers translate proto ⇄ domain; unbuilt RPCs name what they await. */
export function secretsBinding(): ServiceBinding {
  return {
    name: SERVICE_NAMES.secrets,
    definition: SecretsServiceService,
    policy: secretsPolicy,
    handlers: {},
    pending: 'issue 6 (secrets: the sealed secrets file and single-use deployment releases)',
  };
}
