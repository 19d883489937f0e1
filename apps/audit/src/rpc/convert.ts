import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { eventDataFromProto } from '@gatehouse/audit-client';
import { auditEventV1, auditV1, commonV1 } from '@gatehouse/contracts';
import type { AuditEventData, LogRecord } from '../domain/event.js';
import type { LeafCodec, StoredCheckpoint } from '../domain/ports.js';
import type { AlertRule, FieldRef } from '../domain/alerts/index.js';

const E = auditEventV1;

/** Bytes as the generated code wants them (a Buffer view, no copy). */
export function buf(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Proto event → domain event. Unknown enum numbers become "UNRECOGNIZED", which validation refuses. */
export const eventFromProto: (e: auditEventV1.AuditEvent) => AuditEventData = eventDataFromProto;

/**
 * Domain event → proto event. Built as the full message (every field, in the generated order)
 * rather than through fromPartial, which would deep-copy it again: this runs for every appended
 * event. The encoded bytes are the same either way (the leaf bytes are what the tree commits to).
 */
export function eventToProto(e: AuditEventData): auditEventV1.AuditEvent {
  return {
    eventId: e.eventId,
    occurredAt: e.occurredAt,
    service: E.serviceFromJSON(e.service),
    action: E.actionFromJSON(e.action),
    outcome: E.outcomeFromJSON(e.outcome),
    actor: { kind: E.actorKindFromJSON(e.actor.kind), id: e.actor.id, displayName: e.actor.displayName },
    subject: e.subject ? { kind: E.subjectKindFromJSON(e.subject.kind), id: e.subject.id, displayName: e.subject.displayName } : undefined,
    customerDomain: e.customerDomain,
    sourceIp: e.sourceIp,
    environment: commonV1.environmentFromJSON(e.environment),
    requestId: e.requestId,
    details: e.details,
    hashedDetails: e.hashedDetails,
    intentEventId: e.intentEventId ?? '',
    causalCounter: e.causalCounter ?? 0,
  };
}

/**
 * One writer for every leaf: finish() copies the bytes out and rewinds it, so a batch of leaves
 * reuses one grown buffer instead of growing a fresh one per leaf. Encoding is synchronous, so
 * no two leaves share it at once; a leaf that fails midway gets the writer replaced.
 */
let leafWriter = new BinaryWriter();

/** LeafData in binary protobuf form: what each Merkle leaf commits to (encoded once, stored as is). */
export const protoLeafCodec: LeafCodec = {
  encode: (leaf) => {
    try {
      return auditV1.LeafData.encode(
        { sequence: leaf.sequence, appendedAt: leaf.appendedAt, submittedBy: leaf.submittedBy, event: eventToProto(leaf.event) },
        leafWriter,
      ).finish();
    } catch (err) {
      leafWriter = new BinaryWriter();
      throw err;
    }
  },
  decode: (bytes) => {
    const d = auditV1.LeafData.decode(bytes);
    return {
      sequence: d.sequence,
      appendedAt: d.appendedAt ?? new Date(0),
      submittedBy: d.submittedBy,
      event: eventFromProto(d.event ?? E.AuditEvent.fromPartial({})),
    };
  },
};

/** A log record as the contract's LogEntry. */
export function entryToProto(r: LogRecord): auditV1.LogEntry {
  return auditV1.LogEntry.fromPartial({
    sequence: r.sequence,
    event: eventToProto(r.event),
    appendedAt: r.appendedAt,
    submittedBy: r.submittedBy,
    leafInput: buf(r.leafInput),
    leafHash: buf(r.leafHash),
  });
}

/** A stored checkpoint as the contract's Checkpoint. */
export function checkpointToProto(c: StoredCheckpoint): auditV1.Checkpoint {
  return auditV1.Checkpoint.fromPartial({
    origin: c.origin,
    treeSize: c.treeSize,
    rootHash: buf(c.rootHash),
    signedAt: c.signedAt,
    keyId: c.keyId,
    signature: buf(c.signature),
  });
}

/** A rule as the contract's AlertRule. */
export function ruleToProto(r: AlertRule): auditV1.AlertRule {
  const ref = (f: FieldRef) => ({ field: auditV1.eventFieldFromJSON(f.field), detailKey: f.detailKey ?? '' });
  return auditV1.AlertRule.fromPartial({
    ruleId: r.ruleId,
    name: r.name,
    description: r.description,
    severity: auditV1.alertSeverityFromJSON(r.severity),
    services: r.services.map(E.serviceFromJSON),
    actions: r.actions.map(E.actionFromJSON),
    outcomes: r.outcomes.map(E.outcomeFromJSON),
    detailMatches: { ...r.detailMatches },
    groupBy: r.groupBy.map(ref),
    aggregation: r.aggregation === 'count' ? auditV1.AlertAggregation.ALERT_AGGREGATION_COUNT : auditV1.AlertAggregation.ALERT_AGGREGATION_DISTINCT_COUNT,
    distinctField: r.distinctField ? ref(r.distinctField) : undefined,
    window: { seconds: Math.floor(r.windowMs / 1000), nanos: (r.windowMs % 1000) * 1_000_000 },
    threshold: r.threshold,
    enabled: r.enabled,
    builtIn: r.builtIn,
    environments: r.environments.map(commonV1.environmentFromJSON),
  });
}
