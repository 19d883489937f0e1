import { randomUUID } from 'node:crypto';
import { systemClock, UnavailableError, type Clock, type Transaction } from '@gatehouse/core';
import { auditEventV1 } from '@gatehouse/contracts';
import { eventDataFromProto } from './event-data.js';
import { validateEvent } from './event-rules.js';
import type { OutboxRepository } from './outbox-repository.js';
import type { AuditRelay } from './relay.js';

/** An event as a service describes it; the emitter fills in its id and time (unless given), the relay its causal counter. */
export type AuditEventInput = Omit<Partial<auditEventV1.AuditEvent>, 'eventId' | 'causalCounter'> &
  Pick<auditEventV1.AuditEvent, 'service' | 'action' | 'outcome'>;

/** An event audit confirmed: its id and its sequence in the log. */
export interface ConfirmedEvent {
  eventId: string;
  sequence: number;
}

/** Options for {@link AuditEmitter}. */
export interface EmitterOptions {
  outbox: OutboxRepository;
  /** Ships the outbox; critical events go through it too, in order, and it tells when audit acknowledged them. */
  relay: AuditRelay;
  /** Short service name, for error messages. */
  source: string;
  clock?: Clock;
  newId?: () => string;
  /** How long a critical action waits for audit's acknowledgement (default 5 s). */
  confirmTimeoutMs?: number;
}

/**
 * How services emit audit events (DESIGN.md §5). `record` stages events in the same
 * transaction as the state change, so an action and its event commit together or not at all.
 * `emitAndConfirm` is for critical actions: the event is durable *and* acknowledged by audit
 * before the caller goes on, otherwise it throws and the action must not happen (fail closed).
 */
export class AuditEmitter {
  private readonly clock: Clock;
  private readonly newId: () => string;
  private readonly confirmTimeoutMs: number;

  constructor(private readonly opts: EmitterOptions) {
    this.clock = opts.clock ?? systemClock;
    this.newId = opts.newId ?? randomUUID;
    this.confirmTimeoutMs = opts.confirmTimeoutMs ?? 5_000;
  }

  /**
   * Builds, checks and encodes the events. Each must pass the rules AuditService applies
   * (validateEvent, as this service's certificate): a refused event throws InvalidArgumentError
   * here, failing the action that made it, rather than poisoning the outbox batch it would ship in.
   * occurred_at is now (the moment the service records the action) unless the event gives it.
   */
  private prepare(events: AuditEventInput[]) {
    const now = this.clock.now();
    return events.map((e, i) => {
      const event = auditEventV1.AuditEvent.fromPartial({ ...e, occurredAt: e.occurredAt ?? now, eventId: this.newId() });
      validateEvent(i, eventDataFromProto(event), { kind: 'service', name: this.opts.source }, now);
      return { eventId: event.eventId, payload: auditEventV1.AuditEvent.encode(event).finish(), createdAt: now };
    });
  }

  /**
   * Stages events inside the caller's transaction: they are durable exactly when its writes are.
   * Call {@link nudge} once it committed, so the relay ships them now rather than at its next poll.
   * Services do this through an audited unit of work (auditedUnitOfWork), never directly.
   */
  async record(tx: Transaction, ...events: AuditEventInput[]): Promise<string[]> {
    const rows = this.prepare(events);
    await this.opts.outbox.add(tx, rows);
    return rows.map((r) => r.eventId);
  }

  /** Tells the relay there is something new to ship. */
  nudge(): void {
    this.opts.relay.nudge();
  }

  /** The outcome of an unconfirmed intent: tied to no state change (the action did not happen), so in a write of its own. */
  private async recordNow(...events: AuditEventInput[]): Promise<string[]> {
    const rows = this.prepare(events);
    await this.opts.outbox.addNow(rows);
    this.opts.relay.nudge();
    return rows.map((r) => r.eventId);
  }

  /**
   * For critical actions (fail closed, DESIGN.md §5): queues the event durably, has the relay ship
   * it now (after whatever the service recorded before it, so audit's order follows the service's),
   * and resolves once audit appended it. It throws UnavailableError when audit does not confirm
   * within the timeout, and then the caller's action must not happen. The event stays queued and
   * reaches audit later, so it must say only what is true then too: an intent (OUTCOME_ATTEMPTED),
   * never that the action happened. `onUnconfirmed` builds an event queued right after it in that
   * case (e.g. the outcome saying the action was not performed), given the unconfirmed event's id.
   */
  async emitAndConfirm(
    event: AuditEventInput,
    opts: { timeoutMs?: number; signal?: AbortSignal; onUnconfirmed?: (eventId: string) => AuditEventInput } = {},
  ): Promise<ConfirmedEvent> {
    const [row] = this.prepare([event]);
    if (!row) throw new Error('unreachable: one event prepared');
    const timeoutMs = opts.timeoutMs ?? this.confirmTimeoutMs;
    const acked = this.opts.relay.waitFor(row.eventId);
    acked.catch(() => undefined); // a relay stopping rejects it; awaited below or given up on
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new UnavailableError(`audit did not confirm the event within ${timeoutMs} ms; the ${this.opts.source} action was not performed`)),
        timeoutMs,
      );
      opts.signal?.addEventListener('abort', () => reject(new UnavailableError('the call ended before audit confirmed the event')), { once: true });
    });
    gaveUp.catch(() => undefined); // settles after success too (a late abort)
    try {
      await Promise.race([this.opts.outbox.addNow([row]), gaveUp]);
      this.opts.relay.nudge();
      const sequence = await Promise.race([acked, gaveUp]);
      return { eventId: row.eventId, sequence };
    } catch (err) {
      this.opts.relay.forget(row.eventId);
      const unconfirmed = err instanceof UnavailableError ? err : new UnavailableError(`audit could not confirm the event; the ${this.opts.source} action was not performed`);
      if (opts.onUnconfirmed && (await this.opts.outbox.get(row.eventId).catch(() => undefined))) {
        await this.recordNow(opts.onUnconfirmed(row.eventId)).catch(() => undefined);
      }
      throw unconfirmed;
    } finally {
      clearTimeout(timer);
    }
  }
}
