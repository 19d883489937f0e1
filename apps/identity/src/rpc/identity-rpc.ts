import { IdentityServiceService, SERVICE_NAMES } from '@gatehouse/contracts';
import { callers, type CallerRule, type ServiceBinding } from '@gatehouse/service-kit';

/**
 * Who may call each IdentityService RPC, by certificate kind (the contract's "Callers:" lines).
 * Role checks on the employee's session happen in the domain, per object (ASVS 8.2).
 */
export const identityPolicy: Readonly<Record<string, CallerRule>> = {
  BootstrapOfficer: callers.operators,
  GetAccount: callers.anyAuthenticated,
  ListAccounts: callers.operators,
  ApproveAccount: callers.operators,
  SuspendAccount: callers.operators,
  SetRoles: callers.operators,
  SetPhoneNumber: callers.operators,
  UnlockAccount: callers.operators,
  BeginSignIn: callers.operatorsAndBackends,
  SendSmsCode: callers.operatorsAndBackends,
  VerifySmsCode: callers.operatorsAndBackends,
  VerifyOtp: callers.operatorsAndBackends,
  EnrollOtp: callers.operatorsAndBackends,
  ConfirmOtpEnrollment: callers.operatorsAndBackends,
  ResyncHotp: callers.operatorsAndBackends,
  ResetOtp: callers.operators,
  WhoAmI: callers.operatorsAndBackends,
  RefreshSession: callers.operatorsAndBackends,
  VerifySession: callers.servicesAndBackends,
  RevokeSession: callers.operatorsAndBackends,
  ListSessions: callers.operators,
  GetSigningKeys: callers.anyAuthenticated,
  Authorize: callers.anyAuthenticated,
};

/** The IdentityService binding: handlers translate proto ⇄ domain; unbuilt RPCs name what they await. */
export function identityBinding(): ServiceBinding {
  return {
    name: SERVICE_NAMES.identity,
    definition: IdentityServiceService,
    policy: identityPolicy,
    handlers: {},
    pending: 'issue 4 (identity: approved Google accounts, SMS step, TOTP/HOTP, pinned sessions, live/staging roles)',
  };
}
