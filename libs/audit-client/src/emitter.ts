import { randomUUID } from 'node:crypto';
import { systemClock, UnavailableError, type Clock, type Transaction } from '@gatehouse/core';
import { auditEventV1 } from '@gatehouse/contracts';
import { eventDataFromProto } from './event-data.js';
import { validateEvent } from './event-rules.js';
import type { OutboxRepository } from './outbox-repository.js';
import type { AuditRelay, AuditSender } from './relay.js';

/** An event as a service describes it; the emitter fills in its id and time. */
export type AuditEventInput = Omit<Partial<auditEventV1.AuditEvent>, 'eventId'> &
  Pick<auditEventV1.AuditEvent, 'service' | 'action' | 'outcome'>;

/** Options for {@link AuditEmitter}. */
export interface EmitterOptions {
  outbox: OutboxRepository;
  relay: AuditRelay;
  /** The transport critical events go through directly (the relay's sender). */
  send: AuditSender;
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
   */
  private prepare(events: AuditEventInput[]) {
    const now = this.clock.now();
    return events.map((e, i) => {
      const event = auditEventV1.AuditEvent.fromPartial({ occurredAt: now, ...e, eventId: this.newId() });
      validateEvent(i, eventDataFromProto(event), { kind: 'service', name: this.opts.source }, now);
      return { eventId: event.eventId, payload: auditEventV1.AuditEvent.encode(event).finish(), createdAt: now };
    });
  }

  /** Stages events inside the caller's transaction; they ship after it commits. */
  async record(tx: Transaction, ...events: AuditEventInput[]): Promise<string[]> {
    const rows = this.prepare(events);
    await this.opts.outbox.add(tx, rows);
    this.opts.relay.nudge();
    return rows.map((r) => r.eventId);
  }

  /** Queues events not tied to a state change, durably, in a write of their own (they ship after it resolves). */
  async recordNow(...events: AuditEventInput[]): Promise<string[]> {
    const rows = this.prepare(events);
    await this.opts.outbox.addNow(rows);
    this.opts.relay.nudge();
    return rows.map((r) => r.eventId);
  }

  /**
   * For critical actions (fail closed, DESIGN.md §5): sends the event to AuditService now and
   * resolves with its sequence once audit has appended it. It throws UnavailableError when audit
   * does not confirm within the timeout, and then the caller's action must not happen. The event
   * is not queued: an action that did not happen leaves no event behind (audit could only hold
   * it if it appended the event and the answer was lost in transit).
   */
  async emitAndConfirm(event: AuditEventInput, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number> {
    const [row] = this.prepare([event]);
    if (!row) throw new Error('unreachable: one event prepared');
    const timeoutMs = opts.timeoutMs ?? this.confirmTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new UnavailableError(`audit did not confirm the event within ${timeoutMs} ms; the ${this.opts.source} action was not performed`)),
        timeoutMs,
      );
      opts.signal?.addEventListener('abort', () => reject(new UnavailableError('the call ended before audit confirmed the event')), { once: true });
    });
    try {
      const acks = await Promise.race([this.opts.send([{ eventId: row.eventId, payload: row.payload }]), timedOut]);
      const ack = acks.find((a) => a.eventId === row.eventId);
      if (!ack) throw new UnavailableError(`audit did not acknowledge the event; the ${this.opts.source} action was not performed`);
      return ack.sequence;
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      throw new UnavailableError(`audit could not confirm the event; the ${this.opts.source} action was not performed`);
    } finally {
      clearTimeout(timer);
    }
  }
}
