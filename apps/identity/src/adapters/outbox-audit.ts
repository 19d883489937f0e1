import { auditEventV1, commonV1 } from '@gatehouse/contracts';
import type { AuditEmitter, AuditEventInput } from '@gatehouse/audit-client';
import type { OpenedStore } from '@gatehouse/storage';
import type { IdentityAudit, IdentityEvent } from '../domain/ports.js';

const E = auditEventV1;

const OUTCOME: Record<IdentityEvent['outcome'], auditEventV1.Outcome> = {
  success: E.Outcome.OUTCOME_SUCCESS,
  failure: E.Outcome.OUTCOME_FAILURE,
  denied: E.Outcome.OUTCOME_DENIED,
  error: E.Outcome.OUTCOME_ERROR,
};

const ACTOR: Record<IdentityEvent['actor']['kind'], auditEventV1.ActorKind> = {
  employee: E.ActorKind.ACTOR_KIND_EMPLOYEE,
  anonymous: E.ActorKind.ACTOR_KIND_ANONYMOUS,
  system: E.ActorKind.ACTOR_KIND_SYSTEM,
  service: E.ActorKind.ACTOR_KIND_SERVICE,
};

const SUBJECT: Record<NonNullable<IdentityEvent['subject']>['kind'], auditEventV1.SubjectKind> = {
  account: E.SubjectKind.SUBJECT_KIND_ACCOUNT,
  sign_in: E.SubjectKind.SUBJECT_KIND_SIGN_IN,
  session: E.SubjectKind.SUBJECT_KIND_SESSION,
  otp_credential: E.SubjectKind.SUBJECT_KIND_OTP_CREDENTIAL,
  signing_key: E.SubjectKind.SUBJECT_KIND_SIGNING_KEY,
};

/** A domain event as audit.v1.AuditEvent: ACTION_IDENTITY_<ACTION>, service IDENTITY. */
export function toAuditEvent(e: IdentityEvent): AuditEventInput {
  const action = E.actionFromJSON(`ACTION_IDENTITY_${e.action.toUpperCase()}`);
  if (action === E.Action.UNRECOGNIZED || action === E.Action.ACTION_UNSPECIFIED) throw new Error(`no audit action for ${e.action}`);
  return {
    service: E.Service.SERVICE_IDENTITY,
    action,
    outcome: OUTCOME[e.outcome],
    actor: { kind: ACTOR[e.actor.kind], id: e.actor.id, displayName: e.actor.displayName ?? '' },
    ...(e.subject ? { subject: { kind: SUBJECT[e.subject.kind], id: e.subject.id, displayName: e.subject.displayName ?? '' } } : {}),
    sourceIp: e.sourceIp ?? '',
    requestId: e.requestId ?? '',
    environment:
      e.environment === 'live' ? commonV1.Environment.ENVIRONMENT_LIVE : e.environment === 'staging' ? commonV1.Environment.ENVIRONMENT_STAGING : commonV1.Environment.ENVIRONMENT_UNSPECIFIED,
    details: e.details ?? {},
  };
}

/**
 * IdentityAudit over the transactional outbox: `record` commits the events to the service's own
 * store (they ship to AuditService by the relay, retried until acknowledged); `confirm` waits
 * for audit's acknowledgement and throws UNAVAILABLE otherwise (critical actions fail closed).
 */
export function outboxAudit(store: OpenedStore, emitter: AuditEmitter): IdentityAudit {
  return {
    async record(...events) {
      if (events.length === 0) return;
      const inputs = events.map(toAuditEvent);
      await store.store.run((tx) => emitter.record(tx, ...inputs));
    },
    async confirm(event) {
      await emitter.emitAndConfirm(toAuditEvent(event));
    },
  };
}
