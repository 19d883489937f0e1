import { auditEventV1, type AuditServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import type { AuditSender } from './relay.js';

/**
 * The relay's transport: one AuditService.Append call per batch, with a deadline. Payloads are
 * the events as encoded into the outbox, decoded once more for the generated client, with the
 * outbox's insertion number as causal_counter.
 */
export function grpcAuditSender(client: AuditServiceClient, deadlineMs = 10_000): AuditSender {
  return async (batch) => {
    const events = batch.map((b) => {
      const e = auditEventV1.AuditEvent.decode(b.payload);
      return b.causalCounter === undefined ? e : { ...e, causalCounter: b.causalCounter };
    });
    // waitForReady: right after audit restarts the channel may still be reconnecting.
    const res = await call(client, client.append, { events }, { deadlineMs, waitForReady: true });
    return res.results.map((r) => ({ eventId: r.eventId, sequence: r.sequence }));
  };
}
