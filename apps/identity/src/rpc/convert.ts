import { commonV1, identityV1 } from '@gatehouse/contracts';
import { InvalidArgumentError } from '@gatehouse/core';
import { rolesFromProto as kitRolesFromProto, rolesToProto as kitRolesToProto } from '@gatehouse/service-kit';
import type { SessionClaims } from '@gatehouse/session';
import type { AccountView } from '../domain/accounts/account-admin.js';
import type { Account, AccountState, Role } from '../domain/accounts/account.js';
import type { RoleChange, RoleChangeState } from '../domain/accounts/role-change.js';
import type { OtpAlgorithm, OtpCredential, OtpDigits, OtpKind } from '../domain/otp/index.js';
import type { SessionRecord, SessionStatus } from '../domain/sessions/session-record.js';
import type { AuthorizeAction } from '../domain/sessions/session-policy.js';
import type { SignInView } from '../domain/sign-in/sign-in-flow.js';
import type { SignInStep } from '../domain/sign-in/sign-in.js';

const I = identityV1;

/** Roles as the proto spells them (the table lives in service-kit, shared by every service). */
export function rolesToProto(roles: readonly Role[]): commonV1.Role[] {
  return kitRolesToProto(roles);
}

/** Roles from a request: unspecified or unknown values are INVALID_ARGUMENT naming the field. */
export function rolesFromProto(roles: readonly commonV1.Role[], field = 'roles'): Role[] {
  return kitRolesFromProto(roles, field) as Role[];
}

const STATE_TO_PROTO: Record<AccountState, identityV1.AccountState> = {
  pending_approval: I.AccountState.ACCOUNT_STATE_PENDING_APPROVAL,
  active: I.AccountState.ACCOUNT_STATE_ACTIVE,
  suspended: I.AccountState.ACCOUNT_STATE_SUSPENDED,
};

/** Account states from a ListAccounts filter. */
export function statesFromProto(states: readonly identityV1.AccountState[]): AccountState[] {
  return states.map((p) => {
    const found = (Object.keys(STATE_TO_PROTO) as AccountState[]).find((s) => STATE_TO_PROTO[s] === p);
    if (!found) throw new InvalidArgumentError('states', `${I.accountStateToJSON(p)} is not an account state`);
    return found;
  });
}

/** The lock state shown for an account at `now`. */
export function lockStateOf(v: AccountView, now: Date): identityV1.LockState {
  if (v.locked) return I.LockState.LOCK_STATE_LOCKED;
  if (v.throttle.nextAttemptAt && v.throttle.nextAttemptAt.getTime() > now.getTime()) return I.LockState.LOCK_STATE_THROTTLED;
  return I.LockState.LOCK_STATE_UNLOCKED;
}

function principalOf(a: { accountId: string; issuer?: string; subject?: string; email: string; displayName?: string; roles?: readonly Role[] }): commonV1.Principal {
  return {
    accountId: a.accountId,
    issuer: a.issuer ?? '',
    subject: a.subject ?? '',
    email: a.email,
    displayName: a.displayName ?? '',
    roles: rolesToProto(a.roles ?? []),
  };
}

/** An account as the officer (or its holder) sees it: never the phone number, only its mask. */
export function accountToProto(v: AccountView, now: Date): identityV1.Account {
  const a = v.account;
  return I.Account.fromPartial({
    principal: principalOf(a),
    hostedDomain: a.hostedDomain,
    state: STATE_TO_PROTO[a.state],
    lockState: lockStateOf(v, now),
    consecutiveFailures: v.throttle.consecutiveFailures,
    throttledUntil: v.throttle.nextAttemptAt ?? undefined,
    lockedAt: v.throttle.lockedAt ?? (v.locked ? now : undefined),
    phoneNumberMask: a.phoneMask ?? '',
    activeOtpCredential: v.activeCredential ? credentialToProto(v.activeCredential) : undefined,
    createdAt: a.createdAt,
    approvedAt: a.approvedAt,
    approvedBy: a.approvedBy ? principalOf(a.approvedBy) : undefined,
    suspendedAt: a.suspendedAt,
    suspendedBy: a.suspendedBy ? principalOf(a.suspendedBy) : undefined,
    suspensionReason: a.suspensionReason ?? '',
    lastSignInAt: a.lastSignInAt,
    updatedAt: a.updatedAt,
  });
}

const CRED_STATE = {
  pending: I.OtpCredentialState.OTP_CREDENTIAL_STATE_PENDING_CONFIRMATION,
  active: I.OtpCredentialState.OTP_CREDENTIAL_STATE_ACTIVE,
  retired: I.OtpCredentialState.OTP_CREDENTIAL_STATE_RETIRED,
} as const;

/** A credential without its seed. */
export function credentialToProto(c: OtpCredential): identityV1.OtpCredential {
  return I.OtpCredential.fromPartial({
    credentialId: c.credentialId,
    kind: c.kind === 'totp' ? I.OtpKind.OTP_KIND_TOTP : I.OtpKind.OTP_KIND_HOTP,
    algorithm: I.otpAlgorithmFromJSON(`OTP_ALGORITHM_${c.algorithm}`),
    digits: c.digits,
    period: c.kind === 'totp' ? { seconds: c.period, nanos: 0 } : undefined,
    label: c.label,
    state: CRED_STATE[c.status],
    createdAt: c.createdAt,
    activatedAt: c.activatedAt ?? undefined,
    lastUsedAt: c.lastUsedAt ?? undefined,
    driftSteps: c.driftSteps,
    retiredAt: c.retiredAt ?? undefined,
  });
}

/** EnrollOtp's kind/algorithm/digits, with the proto defaults (SHA1, 6 digits). */
export function enrollmentFromProto(req: identityV1.EnrollOtpRequest): { kind: OtpKind; algorithm: OtpAlgorithm; digits: OtpDigits; label: string } {
  const kind = req.kind === I.OtpKind.OTP_KIND_TOTP ? 'totp' : req.kind === I.OtpKind.OTP_KIND_HOTP ? 'hotp' : undefined;
  if (!kind) throw new InvalidArgumentError('kind', 'must be OTP_KIND_TOTP or OTP_KIND_HOTP');
  const algorithms: Partial<Record<number, OtpAlgorithm>> = {
    [I.OtpAlgorithm.OTP_ALGORITHM_UNSPECIFIED]: 'SHA1',
    [I.OtpAlgorithm.OTP_ALGORITHM_SHA1]: 'SHA1',
    [I.OtpAlgorithm.OTP_ALGORITHM_SHA256]: 'SHA256',
    [I.OtpAlgorithm.OTP_ALGORITHM_SHA512]: 'SHA512',
  };
  const algorithm = algorithms[req.algorithm];
  if (!algorithm) throw new InvalidArgumentError('algorithm', 'must be SHA1, SHA256 or SHA512');
  const digits = req.digits === 0 ? 6 : req.digits;
  if (digits !== 6 && digits !== 8) throw new InvalidArgumentError('digits', 'must be 6 or 8');
  return { kind, algorithm, digits, label: req.label };
}

const STEP: Record<SignInStep, identityV1.SignInStep> = {
  google: I.SignInStep.SIGN_IN_STEP_GOOGLE_ID_TOKEN,
  sms: I.SignInStep.SIGN_IN_STEP_SMS_CODE,
  otp_enrollment: I.SignInStep.SIGN_IN_STEP_OTP_ENROLLMENT,
  otp: I.SignInStep.SIGN_IN_STEP_OTP_CODE,
};

/** A sign-in's progress. */
export function signInToProto(v: SignInView): identityV1.SignInState {
  return I.SignInState.fromPartial({
    signInId: v.signIn.signInId,
    email: v.account.email,
    displayName: v.account.displayName,
    nextStep: v.remaining[0] ? STEP[v.remaining[0]] : I.SignInStep.SIGN_IN_STEP_UNSPECIFIED,
    completedSteps: v.completed.map((s) => STEP[s]),
    remainingSteps: v.remaining.map((s) => STEP[s]),
    expiresAt: v.signIn.expiresAt,
    phoneNumberMask: v.account.phoneMask ?? '',
    otpKind: v.otpKind === 'totp' ? I.OtpKind.OTP_KIND_TOTP : v.otpKind === 'hotp' ? I.OtpKind.OTP_KIND_HOTP : I.OtpKind.OTP_KIND_UNSPECIFIED,
    clientIp: v.signIn.clientIp,
  });
}

const AMR: Record<string, identityV1.AuthMethod> = {
  google: I.AuthMethod.AUTH_METHOD_GOOGLE,
  sms: I.AuthMethod.AUTH_METHOD_SMS,
  totp: I.AuthMethod.AUTH_METHOD_TOTP,
  hotp: I.AuthMethod.AUTH_METHOD_HOTP,
};

/** SessionInfo from a verified token's claims (plus its key id when known). */
export function sessionInfoFromClaims(c: SessionClaims, keyId = ''): identityV1.SessionInfo {
  return I.SessionInfo.fromPartial({
    sessionId: c.sessionId,
    principal: principalOf({ accountId: c.accountId, email: c.email, ...(c.displayName ? { displayName: c.displayName } : {}), roles: c.roles }),
    scope: c.scope === 'full' ? I.SessionScope.SESSION_SCOPE_FULL : I.SessionScope.SESSION_SCOPE_REGISTER_IP_ONLY,
    amr: c.amr.map((m) => AMR[m] ?? I.AuthMethod.AUTH_METHOD_UNSPECIFIED),
    pinnedIp: c.pinnedIp,
    issuedAt: c.issuedAt,
    authTime: c.authTime,
    expiresAt: c.expiresAt,
    environmentAccess: [
      ...(c.env.live ? [{ environment: commonV1.Environment.ENVIRONMENT_LIVE, expiresAt: c.env.live }] : []),
      ...(c.env.staging ? [{ environment: commonV1.Environment.ENVIRONMENT_STAGING, expiresAt: c.env.staging }] : []),
    ],
    keyId,
  });
}

/** SessionInfo from a stored record. */
export function sessionInfoFromRecord(r: SessionRecord): identityV1.SessionInfo {
  return I.SessionInfo.fromPartial({
    ...sessionInfoFromClaims({
      issuer: '',
      audience: '',
      accountId: r.accountId,
      sessionId: r.sessionId,
      issuedAt: r.issuedAt,
      expiresAt: r.expiresAt,
      authTime: r.authTime,
      email: r.email,
      ...(r.displayName ? { displayName: r.displayName } : {}),
      roles: r.roles,
      amr: r.amr,
      pinnedIp: r.pinnedIp,
      scope: r.scope,
      env: { ...(r.liveExpiresAt ? { live: r.liveExpiresAt } : {}), ...(r.stagingExpiresAt ? { staging: r.stagingExpiresAt } : {}) },
    }),
    absoluteExpiresAt: r.absoluteExpiresAt,
    keyId: r.keyId,
  });
}

const SESSION_STATUS: Record<SessionStatus, identityV1.SessionStatus> = {
  active: I.SessionStatus.SESSION_STATUS_ACTIVE,
  expired: I.SessionStatus.SESSION_STATUS_EXPIRED,
  revoked: I.SessionStatus.SESSION_STATUS_REVOKED,
};

/** Session statuses of a ListSessions filter. */
export function sessionStatusesFromProto(statuses: readonly identityV1.SessionStatus[]): SessionStatus[] {
  return statuses.map((p) => {
    const found = (Object.keys(SESSION_STATUS) as SessionStatus[]).find((s) => SESSION_STATUS[s] === p);
    if (!found) throw new InvalidArgumentError('statuses', `${I.sessionStatusToJSON(p)} is not a session status`);
    return found;
  });
}

/** A ListSessions row. */
export function sessionRecordToProto(r: SessionRecord & { status: SessionStatus }): identityV1.SessionRecord {
  return I.SessionRecord.fromPartial({
    info: sessionInfoFromRecord(r),
    status: SESSION_STATUS[r.status],
    lastRefreshedAt: r.lastRefreshedAt ?? undefined,
    revokedAt: r.revokedAt ?? undefined,
    revokedBy: r.revokedBy ? principalOf(r.revokedBy) : undefined,
    revokeReason: r.revokeReason ?? '',
  });
}

const ACTION: Partial<Record<number, AuthorizeAction>> = {
  [I.AuthorizeAction.AUTHORIZE_ACTION_READ_DATA]: 'read_data',
  [I.AuthorizeAction.AUTHORIZE_ACTION_WRITE_DATA]: 'write_data',
  [I.AuthorizeAction.AUTHORIZE_ACTION_ADMINISTER_DATABASE]: 'administer_database',
  [I.AuthorizeAction.AUTHORIZE_ACTION_VIEW_MONITORING]: 'view_monitoring',
  [I.AuthorizeAction.AUTHORIZE_ACTION_DEPLOY]: 'deploy',
};

/** Authorize's action. */
export function actionFromProto(a: identityV1.AuthorizeAction): AuthorizeAction {
  const found = ACTION[a];
  if (!found) throw new InvalidArgumentError('action', 'must be one of READ_DATA, WRITE_DATA, ADMINISTER_DATABASE, VIEW_MONITORING, DEPLOY');
  return found;
}

/** Page tokens are the last row's sort key, base64url JSON; anything else is INVALID_ARGUMENT. */
export function readPageToken<T extends Record<string, string | number>>(token: string, keys: readonly (keyof T & string)[]): T | undefined {
  if (token === '') return undefined;
  try {
    if (token.length > 512) throw new Error('long');
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    for (const k of keys) if (typeof v[k] !== 'string' && typeof v[k] !== 'number') throw new Error('shape');
    return v as T;
  } catch {
    throw new InvalidArgumentError('page_token', 'is not a token this service issued');
  }
}

/** The token for the page after `last`. */
export function writePageToken(last: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(last), 'utf8').toString('base64url');
}

/** page_size: 0 means the default (50), at most 500. */
export function pageSize(n: number): number {
  if (n < 0 || n > 500) throw new InvalidArgumentError('page_size', 'must be from 0 to 500');
  return n === 0 ? 50 : n;
}

const CHANGE_STATE: Record<RoleChangeState, identityV1.RoleChangeState> = {
  pending: I.RoleChangeState.ROLE_CHANGE_STATE_PENDING,
  applied: I.RoleChangeState.ROLE_CHANGE_STATE_APPLIED,
  expired: I.RoleChangeState.ROLE_CHANGE_STATE_EXPIRED,
};

/** Role change states from a ListRoleChanges filter. */
export function roleChangeStatesFromProto(states: readonly identityV1.RoleChangeState[]): RoleChangeState[] {
  return states.map((p) => {
    const found = (Object.keys(CHANGE_STATE) as RoleChangeState[]).find((s) => CHANGE_STATE[s] === p);
    if (!found) throw new InvalidArgumentError('states', `${I.roleChangeStateToJSON(p)} is not a role change state`);
    return found;
  });
}

/** A role change waiting for (or approved by) a second officer, with the account as it is now. */
export function roleChangeToProto(c: RoleChange, account: Account | undefined): identityV1.RoleChange {
  return I.RoleChange.fromPartial({
    changeId: c.changeId,
    account: principalOf(account ?? { accountId: c.accountId, email: '' }),
    kind: c.kind === 'set_roles' ? I.RoleChangeKind.ROLE_CHANGE_KIND_SET_ROLES : I.RoleChangeKind.ROLE_CHANGE_KIND_APPROVE_ACCOUNT,
    roles: rolesToProto(c.roles),
    grantedRoles: rolesToProto(c.grantedRoles),
    reason: c.reason,
    requestedBy: principalOf(c.requestedBy),
    requestedAt: c.requestedAt,
    expiresAt: c.expiresAt,
    state: CHANGE_STATE[c.state],
    approvedBy: c.approvedBy ? principalOf(c.approvedBy) : undefined,
    approvedAt: c.approvedAt,
  });
}
