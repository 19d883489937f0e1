import type { AuditSink, AuditedTransaction, AuditedUnitOfWork, DomainAuditEvent, EventActor, EventSubject } from '@gatehouse/audit-client';

/**
 * What identity audits (DESIGN.md §5), in domain words. The adapter maps each action to
 * audit.v1.Action ACTION_IDENTITY_<NAME>; events carry no code, seed, token or phone number.
 */
export type IdentityAction =
  | 'bootstrap_officer'
  | 'account_request'
  | 'account_approve'
  | 'account_suspend'
  | 'roles_set'
  | 'phone_number_set'
  | 'sign_in_begin'
  | 'sms_send'
  | 'sms_verify'
  | 'otp_verify'
  | 'otp_replay'
  | 'otp_enroll'
  | 'otp_confirm'
  | 'otp_reset'
  | 'hotp_resync'
  | 'account_lock'
  | 'account_unlock'
  | 'session_issue'
  | 'session_refresh'
  | 'session_verify'
  | 'session_revoke'
  | 'sign_in_new_ip'
  | 'authorize'
  | 'signing_key_rotate'
  | 'role_change_request'
  | 'role_change_approve';

/** An identity audit event (action = ACTION_IDENTITY_<ACTION> in lower case). */
export type IdentityEvent = DomainAuditEvent<IdentityAction>;

/** How identity has audit confirm a critical action's intent before it (the outbox sink in the wiring). */
export type IdentityAudit = AuditSink<IdentityAction>;

/**
 * How identity's use cases change state (issue 14): the writes of one use case and the events
 * that record them commit together, or neither does.
 */
export type IdentityUnitOfWork = AuditedUnitOfWork<IdentityAction>;

/** The transaction of one identity use case: pass it to repositories, stage events with `audit()`. */
export type IdentityTx = AuditedTransaction<IdentityAction>;

export type { EventActor, EventSubject };

/** AllowlistService.Check, as sessions need it: is this client IP allowlisted for this account? */
export interface AllowlistCheck {
  /** false when not allowlisted, and also when the allowlist cannot answer (fail closed: the session gets register-ip scope). */
  isAllowlisted(ip: string, accountId: string): Promise<boolean>;
}

export { LIVE_ROLES, reachesLive } from '@gatehouse/session';
