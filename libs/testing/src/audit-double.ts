import { eventDataFromProto, validateBatch } from '@gatehouse/audit-client';
import { AuditServiceService, SERVICE_NAMES, type auditEventV1, type auditV1 } from '@gatehouse/contracts';
import { UnavailableError, type Clock } from '@gatehouse/core';
import { unary, type RunningServer, type TransportSecurity } from '@gatehouse/service-kit';
import { startFakeService } from './fake-service.js';

/** A recording AuditService for a service's own tests. */
export interface AuditDouble {
  server: RunningServer;
  /** Every event appended, in order (deduplicated by event id, as audit does). */
  events: auditEventV1.AuditEvent[];
  /** Makes Append answer UNAVAILABLE (true) or work again (false); returns the previous setting. */
  fail(fail: boolean): boolean;
  /** Makes Append never answer (true: a hung audit, to hold a critical action in flight) or answer again (false). */
  hang(hang: boolean): void;
  stop(): Promise<void>;
}

/**
 * A double of AuditService.Append for a service's own tests: it applies audit's real event
 * rules (validateBatch, as `service` appends), records what it accepts, is idempotent by event
 * id, and can be told to fail (to test fail-closed actions). The real audit service is used by
 * the e2e suite; this one lets a service test inspect exactly what it emitted.
 */
export async function startAuditDouble(opts: { security: TransportSecurity; service: string; clock?: Clock }): Promise<AuditDouble> {
  const events: auditEventV1.AuditEvent[] = [];
  // By id, so the duplicate check is not a scan of everything recorded (a bench records ~10^5).
  const seen = new Set<string>();
  let failing = false;
  let hung: { promise: Promise<void>; release: () => void } | undefined;
  let sequence = 0;
  const server = await startFakeService({
    name: SERVICE_NAMES.audit,
    definition: AuditServiceService,
    security: opts.security,
    handlers: {
      Append: unary<auditV1.AppendRequest, auditV1.AppendResponse>(async (req) => {
        if (hung) await hung.promise;
        if (failing) throw new UnavailableError('audit double is down');
        validateBatch(req.events.map(eventDataFromProto), { kind: 'service', name: opts.service }, opts.clock?.now() ?? new Date());
        const results = req.events.map((e) => {
          const dup = seen.has(e.eventId);
          if (!dup) {
            seen.add(e.eventId);
            events.push(e);
          }
          return { eventId: e.eventId, sequence: dup ? 0 : sequence++, duplicate: dup, appendedAt: new Date() };
        });
        return { results };
      }),
    },
  });
  return {
    server,
    events,
    fail(f) {
      const was = failing;
      failing = f;
      return was;
    },
    hang(h) {
      if (h && !hung) {
        let release = () => {};
        const promise = new Promise<void>((resolve) => (release = resolve));
        hung = { promise, release };
      } else if (!h && hung) {
        hung.release();
        hung = undefined;
      }
    },
    stop: () => {
      hung?.release();
      hung = undefined;
      return server.shutdown('test over');
    },
  };
}
