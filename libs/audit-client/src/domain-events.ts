import { auditEventV1, commonV1 } from '@gatehouse/contracts';
import type { AuditEmitter, AuditEventInput } from './emitter.js';

/** Who did it: an employee (account id), nobody known, the service itself, or a calling service. */
export interface EventActor {
  kind: 'employee' | 'anonymous' | 'system' | 'service';
  id: string;
  displayName?: string;
}

/** What it was done to, by audit.v1.SubjectKind in lower case (`account`, `allowlist_entry`, …). */
export interface EventSubject {
  kind:
    | 'account'
    | 'sign_in'
    | 'session'
    | 'otp_credential'
    | 'signing_key'
    | 'allowlist_entry'
    | 'daily_ip'
    | 'ip_address'
    | 'seal'
    | 'secret'
    | 'release'
    | 'impersonation_grant'
    | 'customer_user'
    | 'anomaly'
    | 'customer_domain';
  id: string;
  displayName?: string;
}

/**
 * An audit event in a service's domain words, free of generated types: `action` is the
 * lower-case tail of audit.v1.Action after `ACTION_<SERVICE>_` (`sign_in_begin`,
 * `entry_add`). `details` hold only non-secret facts; audit's event rules refuse the rest.
 */
export interface DomainAuditEvent<A extends string = string> {
  action: A;
  /** 'attempted' only on an intent, which AuditSink.confirm makes (an event that says nothing happened yet). */
  outcome: 'success' | 'failure' | 'denied' | 'error' | 'attempted';
  actor: EventActor;
  subject?: EventSubject;
  sourceIp?: string;
  environment?: 'live' | 'staging';
  customerDomain?: string;
  requestId?: string;
  details?: Record<string, string>;
  /** Personal data (e.g. `customer_user_id`): audit keeps only a keyed hash, searchable but not readable. */
  hashedDetails?: Record<string, string>;
  /** On the outcome of a critical action: the intent it concludes (AuditIntent.intentId). */
  intentId?: string;
  /** When the action happened, if the domain knows it (e.g. the state change's own time); default: when recorded. */
  occurredAt?: Date;
}

/** A critical action's confirmed intent: its outcome event names it (DomainAuditEvent.intentId). */
export interface AuditIntent {
  readonly intentId: string;
}

/**
 * The port a service's domain uses for fail-closed confirmation of critical actions. Recording
 * what happened is not here: events are staged in the use case's own unit of work
 * (AuditedTransaction.audit), so they commit exactly with the state they record.
 */
export interface AuditSink<A extends string = string> {
  /**
   * For critical actions, before the action: records `event` as an intent (outcome ATTEMPTED,
   * whatever `event.outcome` says) and resolves once audit confirmed it, else throws
   * UnavailableError and the action must not happen (fail closed; an intent that reaches audit
   * late then reads "attempted", followed by an ERROR outcome saying it was not performed).
   * After the action, stage its outcome with `intentId` set (success, or failure/error) in the
   * unit of work that performs it.
   */
  confirm(event: DomainAuditEvent<A>): Promise<AuditIntent>;
}

const E = auditEventV1;

const OUTCOME: Record<DomainAuditEvent['outcome'], auditEventV1.Outcome> = {
  success: E.Outcome.OUTCOME_SUCCESS,
  failure: E.Outcome.OUTCOME_FAILURE,
  denied: E.Outcome.OUTCOME_DENIED,
  error: E.Outcome.OUTCOME_ERROR,
  attempted: E.Outcome.OUTCOME_ATTEMPTED,
};

const ACTOR: Record<EventActor['kind'], auditEventV1.ActorKind> = {
  employee: E.ActorKind.ACTOR_KIND_EMPLOYEE,
  anonymous: E.ActorKind.ACTOR_KIND_ANONYMOUS,
  system: E.ActorKind.ACTOR_KIND_SYSTEM,
  service: E.ActorKind.ACTOR_KIND_SERVICE,
};

/** A domain event as audit.v1.AuditEvent of `service` (`identity`, `allowlist`, …). */
export function toAuditEventInput(service: string, e: DomainAuditEvent): AuditEventInput {
  const upper = service.toUpperCase();
  const action = E.actionFromJSON(`ACTION_${upper}_${e.action.toUpperCase()}`);
  if (action === E.Action.UNRECOGNIZED || action === E.Action.ACTION_UNSPECIFIED) throw new Error(`no audit action ACTION_${upper}_${e.action.toUpperCase()}`);
  const subjectKind = e.subject ? E.subjectKindFromJSON(`SUBJECT_KIND_${e.subject.kind.toUpperCase()}`) : undefined;
  return {
    service: E.serviceFromJSON(`SERVICE_${upper}`),
    action,
    outcome: OUTCOME[e.outcome],
    actor: { kind: ACTOR[e.actor.kind], id: e.actor.id, displayName: e.actor.displayName ?? '' },
    ...(e.subject && subjectKind !== undefined ? { subject: { kind: subjectKind, id: e.subject.id, displayName: e.subject.displayName ?? '' } } : {}),
    sourceIp: e.sourceIp ?? '',
    customerDomain: e.customerDomain ?? '',
    requestId: e.requestId ?? '',
    environment:
      e.environment === 'live' ? commonV1.Environment.ENVIRONMENT_LIVE : e.environment === 'staging' ? commonV1.Environment.ENVIRONMENT_STAGING : commonV1.Environment.ENVIRONMENT_UNSPECIFIED,
    details: e.details ?? {},
    hashedDetails: e.hashedDetails ?? {},
    intentEventId: e.intentId ?? '',
    ...(e.occurredAt ? { occurredAt: e.occurredAt } : {}),
  };
}

/**
 * An AuditSink over the service's outbox: `confirm` queues the intent durably, waits for audit's
 * acknowledgement and throws UNAVAILABLE otherwise.
 */
export function outboxAuditSink<A extends string>(service: string, emitter: AuditEmitter): AuditSink<A> {
  return {
    async confirm(event) {
      const intent: DomainAuditEvent = { ...event, outcome: 'attempted', intentId: undefined, occurredAt: undefined };
      const notPerformed = (intentId: string): DomainAuditEvent => ({
        ...intent,
        outcome: 'error',
        intentId,
        details: { ...event.details, error: 'audit did not confirm the intent in time: not performed' },
      });
      const confirmed = await emitter.emitAndConfirm(toAuditEventInput(service, intent), { onUnconfirmed: (id) => toAuditEventInput(service, notPerformed(id)) });
      return { intentId: confirmed.eventId };
    },
  };
}
