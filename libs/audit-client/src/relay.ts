import { systemClock, type Clock } from '@gatehouse/core';
import type { Logger } from '@gatehouse/service-kit';
import type { OutboxRepository } from './outbox-repository.js';

/** Audit's acknowledgement of one event: the sequence number it holds in the log. */
export interface AuditAck {
  eventId: string;
  sequence: number;
}

/**
 * Ships a batch of encoded events to AuditService.Append; resolves with one ack per event.
 * `causalCounter` (the outbox's insertion number) goes into the event's causal_counter.
 */
export type AuditSender = (events: ReadonlyArray<{ eventId: string; payload: Uint8Array; causalCounter?: number }>) => Promise<AuditAck[]>;

/** Past any nextAttemptAt: pending() with it returns every unshipped event, oldest first. */
const EVERY_PENDING = new Date(8.64e15);

/** Tuning for {@link AuditRelay}; defaults suit a service's steady trickle of events. */
export interface RelayOptions {
  outbox: OutboxRepository;
  send: AuditSender;
  log: Logger;
  clock?: Clock;
  batchSize?: number;
  /** How often the relay looks at the outbox when nobody nudges it. */
  pollMs?: number;
  backoff?: { initialMs: number; maxMs: number };
}

interface Waiter {
  resolve(sequence: number): void;
  reject(err: unknown): void;
}

/**
 * Moves events from the local outbox to AuditService, in order, with retry and exponential
 * backoff. Events keep their ids across retries, so Append deduplicates a batch that was
 * delivered but whose acknowledgement was lost (a crash between ship and mark).
 *
 * Order: each batch is the oldest unshipped events, whatever their back-off (the back-off only
 * spaces the loop's retries), so an event never reaches audit before one recorded earlier: a
 * critical action's confirmed intent, which also goes through here, follows what the service
 * recorded before it (issue 13 item 9).
 */
export class AuditRelay {
  private readonly clock: Clock;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private inFlight: Promise<ShipResult> | undefined;
  private failures = 0;
  /** Set by nudge(): something was added since the last read of the outbox, so look again before sleeping. */
  private dirty = false;
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(private readonly opts: RelayOptions) {
    this.clock = opts.clock ?? systemClock;
    this.batchSize = opts.batchSize ?? 100;
    this.pollMs = opts.pollMs ?? 1_000;
    this.backoff = opts.backoff ?? { initialMs: 200, maxMs: 30_000 };
  }

  /** Starts the background loop (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops the loop after the batch in flight; pending events stay in the outbox for next time. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    for (const [id, ws] of this.waiters) for (const w of ws) w.reject(new Error(`audit relay stopped before ${id} was acknowledged`));
    this.waiters.clear();
  }

  /** Asks the loop to ship now rather than at the next poll (also when a batch is in flight: it looks again right after). */
  nudge(): void {
    this.dirty = true;
    this.wake?.();
  }

  /** Delay before the next attempt after `failures` consecutive failures (exponential, with jitter). */
  delayAfter(failures: number): number {
    if (failures <= 0) return 0;
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (failures - 1));
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  /**
   * Ships one batch of due events. Single-flight: a call while a batch is in flight waits for
   * that batch instead of sending the same events twice.
   */
  shipOnce(): Promise<ShipResult> {
    this.inFlight ??= this.ship().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Resolves with the event's audit sequence once it is acknowledged; rejects if a batch holding it failed. */
  waitFor(eventId: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const list = this.waiters.get(eventId) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(eventId, list);
    });
  }

  /** Forgets waiters of an event (a caller that gave up). */
  forget(eventId: string): void {
    this.waiters.delete(eventId);
  }

  private async ship(): Promise<ShipResult> {
    this.dirty = false;
    const batch = await this.opts.outbox.pending(this.batchSize, EVERY_PENDING);
    if (batch.length === 0) {
      await this.settleFromStore();
      return { shipped: 0, failed: 0, more: false };
    }
    try {
      const acks = await this.opts.send(batch.map((r) => ({ eventId: r.eventId, payload: r.payload, causalCounter: r.seq })));
      const byId = new Map(acks.map((a) => [a.eventId, a]));
      const missing = batch.filter((r) => !byId.has(r.eventId));
      if (missing.length > 0) throw new Error(`audit acknowledged ${acks.length} of ${batch.length} events`);
      // Audit's acknowledgement is the confirmation: the event is durable in the log. A waiting
      // critical action goes on now; marking the rows shipped is this outbox's own bookkeeping and
      // is not on its path (a crash before the mark re-sends them, and Append dedups by event id).
      for (const a of acks) {
        for (const w of this.waiters.get(a.eventId) ?? []) w.resolve(a.sequence);
        this.waiters.delete(a.eventId);
      }
      await this.opts.outbox.markShipped(acks, this.clock.now());
      this.failures = 0;
      if (batch.length < this.batchSize) await this.settleFromStore();
      return { shipped: batch.length, failed: 0, more: batch.length === this.batchSize };
    } catch (err) {
      this.failures += 1;
      const delay = this.delayAfter(this.failures);
      const reason = describe(err);
      await this.opts.outbox.markFailed(
        batch.map((r) => r.eventId),
        reason,
        new Date(this.clock.now().getTime() + delay),
      );
      // A critical action waiting on one of these fails closed now rather than at its timeout; the event stays queued.
      for (const r of batch) {
        for (const w of this.waiters.get(r.eventId) ?? []) w.reject(err);
        this.waiters.delete(r.eventId);
      }
      this.opts.log.warn({ events: batch.length, failures: this.failures, retryInMs: delay, reason }, 'audit relay: shipping failed; will retry');
      return { shipped: 0, failed: batch.length, more: false };
    }
  }

  /**
   * Resolves waiters whose event another replica shipped (replicas on one store share the
   * outbox): the store then holds its sequence though this relay never saw the ack.
   */
  private async settleFromStore(): Promise<void> {
    for (const id of [...this.waiters.keys()]) {
      const sequence = (await this.opts.outbox.get(id))?.sequence;
      if (sequence === undefined) continue;
      for (const w of this.waiters.get(id) ?? []) w.resolve(sequence);
      this.waiters.delete(id);
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let result: ShipResult;
      try {
        result = await this.shipOnce();
      } catch (err) {
        this.opts.log.error({ err }, 'audit relay: outbox unavailable');
        result = { shipped: 0, failed: 1, more: false };
      }
      if (!this.running) break;
      if (result.more || (this.dirty && result.failed === 0)) continue;
      const wait = result.failed > 0 ? this.delayAfter(this.failures) : this.pollMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

/** Outcome of one shipping attempt. */
export interface ShipResult {
  shipped: number;
  failed: number;
  more: boolean;
}

/** A short, secret-free reason for the outbox row: the gRPC status and its details, never a payload. */
function describe(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; details?: unknown; message?: unknown };
    if (typeof e.code === 'number' && typeof e.details === 'string') return `gRPC ${e.code}: ${e.details}`.slice(0, 300);
    if (typeof e.message === 'string') return e.message.slice(0, 300);
  }
  return 'unknown error';
}
