import { ManualClock } from '@gatehouse/core';
import type { AuditEventData, LogRecord } from '../event.js';

/**
 * Test support: a synthetic log. The rules engine only reads events, sequences and appendedAt,
 * so tests build LogRecords directly (fake leaf bytes) and move a ManualClock instead of
 * sleeping. Not used by production code.
 */

/** The fields a test cares about; everything else gets a neutral default. */
export interface EventInput {
  action: string;
  outcome?: string;
  service?: string;
  actorId?: string;
  actorKind?: string;
  subjectId?: string;
  subjectKind?: string;
  customerDomain?: string;
  sourceIp?: string;
  environment?: string;
  details?: Record<string, string>;
  hashedDetails?: Record<string, string>;
  /** The emitter's claimed time; defaults to the log clock. */
  occurredAt?: Date;
}

const SERVICE_OF_PREFIX: Array<[string, string]> = [
  ['ACTION_IDENTITY_', 'SERVICE_IDENTITY'],
  ['ACTION_ALLOWLIST_', 'SERVICE_ALLOWLIST'],
  ['ACTION_SECRETS_', 'SERVICE_SECRETS'],
  ['ACTION_IMPERSONATION_', 'SERVICE_IMPERSONATION'],
  ['ACTION_AUDIT_', 'SERVICE_AUDIT'],
  ['ACTION_PRODUCT_BACKEND_', 'SERVICE_PRODUCT_BACKEND'],
  ['ACTION_CLI_', 'SERVICE_CLI'],
];

/** The service an action belongs to (its prefix), as Append enforces. */
export function serviceOf(action: string): string {
  return SERVICE_OF_PREFIX.find(([prefix]) => action.startsWith(prefix))?.[1] ?? 'SERVICE_UNSPECIFIED';
}

/** A log whose appendedAt comes from a ManualClock and whose sequences count up from 1. */
export class SyntheticLog {
  readonly clock: ManualClock;
  readonly records: LogRecord[] = [];
  private nextSequence = 1;

  constructor(start: Date | number = Date.UTC(2026, 0, 1)) {
    this.clock = new ManualClock(start);
  }

  /** Appends one event at the clock's current time. */
  append(input: EventInput): LogRecord {
    const sequence = this.nextSequence++;
    const appendedAt = this.clock.now();
    const subjectId = input.subjectId;
    const event: AuditEventData = {
      eventId: `evt-${sequence.toString().padStart(8, '0')}`,
      occurredAt: input.occurredAt ?? appendedAt,
      service: input.service ?? serviceOf(input.action),
      action: input.action,
      outcome: input.outcome ?? 'OUTCOME_SUCCESS',
      actor: {
        kind: input.actorKind ?? ((input.actorId ?? 'acc-actor') === '' ? 'ACTOR_KIND_ANONYMOUS' : 'ACTOR_KIND_EMPLOYEE'),
        id: input.actorId ?? 'acc-actor',
        displayName: '',
      },
      subject: subjectId === undefined ? undefined : { kind: input.subjectKind ?? 'SUBJECT_KIND_ACCOUNT', id: subjectId, displayName: '' },
      customerDomain: input.customerDomain ?? '',
      sourceIp: input.sourceIp ?? '198.51.100.7',
      environment: input.environment ?? 'ENVIRONMENT_UNSPECIFIED',
      requestId: '',
      details: input.details ?? {},
      hashedDetails: input.hashedDetails ?? {},
    };
    const leafHash = new Uint8Array(32);
    new DataView(leafHash.buffer).setUint32(0, sequence);
    const record: LogRecord = {
      sequence,
      event,
      appendedAt,
      submittedBy: `service:${event.service.replace('SERVICE_', '').toLowerCase()}`,
      leafInput: new TextEncoder().encode(`leaf-${sequence}`),
      leafHash,
    };
    this.records.push(record);
    return record;
  }

  /** Moves the log clock forward. */
  advance(ms: number): this {
    this.clock.advance(ms);
    return this;
  }
}
