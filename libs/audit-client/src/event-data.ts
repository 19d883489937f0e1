import { auditEventV1, commonV1 } from '@gatehouse/contracts';
import type { AuditEventData } from './event-rules.js';

const E = auditEventV1;

/** A proto event as plain values (enums by name), the form the event rules check. */
export function eventDataFromProto(e: auditEventV1.AuditEvent): AuditEventData {
  return {
    eventId: e.eventId,
    occurredAt: e.occurredAt ?? new Date(0),
    service: E.serviceToJSON(e.service),
    action: E.actionToJSON(e.action),
    outcome: E.outcomeToJSON(e.outcome),
    actor: {
      kind: E.actorKindToJSON(e.actor?.kind ?? E.ActorKind.ACTOR_KIND_UNSPECIFIED),
      id: e.actor?.id ?? '',
      displayName: e.actor?.displayName ?? '',
    },
    subject: e.subject ? { kind: E.subjectKindToJSON(e.subject.kind), id: e.subject.id, displayName: e.subject.displayName } : undefined,
    customerDomain: e.customerDomain,
    sourceIp: e.sourceIp,
    environment: commonV1.environmentToJSON(e.environment),
    requestId: e.requestId,
    details: { ...e.details },
    hashedDetails: { ...e.hashedDetails },
    intentEventId: e.intentEventId,
    causalCounter: e.causalCounter,
  };
}
