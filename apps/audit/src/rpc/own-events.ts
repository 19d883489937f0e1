import { randomUUID } from 'node:crypto';
import type { Clock } from '@gatehouse/core';
import { LogWritesRefusedError, type AuditLog } from '../domain/audit-log.js';
import type { Acknowledger } from '../domain/alert-store.js';
import type { AlertRecorder } from '../domain/alert-service.js';
import type { AuditEventData, LogRecord } from '../domain/event.js';

const SELF = { kind: 'service', name: 'audit' } as const;

/** What the audit service records about itself, in its own log (P10: everything logged). */
export interface OwnEvents {
  /** Alert changes and their log entries, one unit each (AlertService's recorder). */
  recorder: AlertRecorder;
  exported(by: string, peerIp: string, requestId: string, range: { from: number; to: number }): Promise<void>;
  hashed(by: Acknowledger, peerIp: string, requestId: string): Promise<void>;
  /** Records appended at or after `cutoff` (server time), oldest first: the alert replay's input. */
  recentRecords(cutoff: Date): Promise<LogRecord[]>;
}

/** Records the audit service's own actions through the same validated append path as anyone's. */
export function ownEvents(log: AuditLog, clock: Clock, onError: (err: unknown) => void): OwnEvents {
  const base = (action: string, eventId: string): AuditEventData => ({
    eventId,
    occurredAt: clock.now(),
    service: 'SERVICE_AUDIT',
    action,
    outcome: 'OUTCOME_SUCCESS',
    actor: { kind: 'ACTOR_KIND_SYSTEM', id: 'audit', displayName: 'audit service' },
    customerDomain: '',
    sourceIp: '',
    environment: 'ENVIRONMENT_UNSPECIFIED',
    requestId: '',
    details: {},
    hashedDetails: {},
  });
  // A read (export, hash) is still served while the log refuses writes after an integrity
  // failure: the officer investigates with them. Its event then goes to the service log only.
  const appendUnlessRefused = async (events: AuditEventData[]) => {
    try {
      await log.append(events, SELF);
    } catch (err) {
      if (!(err instanceof LogWritesRefusedError)) throw err;
      onError(err);
    }
  };
  const employee = (by: Acknowledger) => ({ kind: 'ACTOR_KIND_EMPLOYEE', id: by.accountId, displayName: by.email });
  return {
    recorder: {
      unit: async (write, events) => {
        const { result } = await log.appendWithin(SELF, async (tx) => {
          const result = await write(tx);
          return { events: events(result), result };
        });
        return result;
      },
      raised: (changes) =>
        changes.map((c) => ({
          ...base('ACTION_AUDIT_ALERT_RAISE', `alert-raise-${c.alert.alertId}`),
          subject: { kind: 'SUBJECT_KIND_ALERT', id: c.alert.alertId, displayName: c.alert.ruleName },
          details: { rule_id: c.alert.ruleId, severity: c.alert.severity, first_sequence: String(c.alert.firstSequence), last_sequence: String(c.alert.lastSequence) },
        })),
      acknowledged: (alert, by, source) => [
        {
          ...base('ACTION_AUDIT_ALERT_ACKNOWLEDGE', `alert-ack-${alert.alertId}`),
          actor: employee(by),
          subject: { kind: 'SUBJECT_KIND_ALERT', id: alert.alertId, displayName: alert.ruleName },
          sourceIp: source.peerIp,
          requestId: source.requestId,
          details: { rule_id: alert.ruleId },
        },
      ],
    },
    exported: async (by, peerIp, requestId, range) => {
      await appendUnlessRefused(
        [
          {
            ...base('ACTION_AUDIT_EXPORT', `audit-export-${randomUUID()}`),
            actor: { kind: 'ACTOR_KIND_SERVICE', id: by, displayName: by },
            sourceIp: peerIp,
            requestId,
            details: { from_sequence: String(range.from), to_tree_size: String(range.to) },
          },
        ],
      );
    },
    hashed: async (by, peerIp, requestId) => {
      await appendUnlessRefused([{ ...base('ACTION_AUDIT_HASH_VALUE', `audit-hash-${randomUUID()}`), actor: employee(by), sourceIp: peerIp, requestId }]);
    },
    recentRecords: async (cutoff) => {
      const out: LogRecord[] = [];
      let after: number | undefined;
      for (;;) {
        const page = await log.query({}, { after, limit: 1000, descending: true });
        for (const r of page) {
          if (r.appendedAt < cutoff) return out.reverse();
          out.push(r);
        }
        const last = page[page.length - 1];
        if (!last || page.length < 1000) return out.reverse();
        after = last.sequence;
      }
    },
  };
}
