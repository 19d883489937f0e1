import type { Transaction } from '@gatehouse/core';

/**
 * An audit event on its way out: written to the service's own store in the same transaction as
 * the state change it describes (the transactional outbox, DESIGN.md §5), so a committed change
 * always has its event and a rolled-back one never does.
 */
export interface OutboxEvent {
  /** Globally unique and stable: AuditService.Append is idempotent on it, so retries are safe. */
  readonly eventId: string;
  /** The encoded event. Opaque here; it must already be free of secrets. */
  readonly payload: Uint8Array;
  readonly createdAt: Date;
}

/** An outbox entry with its shipping state, as the relay sees it. */
export interface OutboxRecord extends OutboxEvent {
  /**
   * The local insertion number: strictly increasing in the order events were added, persisted
   * (never reused, also after a purge or a restart) and shared by every replica on this store.
   * The relay sends it as the event's causal_counter.
   */
  readonly seq: number;
  /** Failed shipping attempts so far. */
  readonly attempts: number;
  /** Not shipped before this time (back-off after a failure); equals createdAt at first. */
  readonly nextAttemptAt: Date;
  /** The sanitized message of the last failure, if any. */
  readonly lastError?: string;
  /** When audit acknowledged it; unset while pending. */
  readonly shippedAt?: Date;
  /** Audit's log sequence number, once acknowledged. */
  readonly sequence?: number;
}

/** Audit's acknowledgement of one event. */
export interface OutboxAck {
  readonly eventId: string;
  readonly sequence: number;
}

/**
 * The outbox port. Adapters: SqliteOutboxRepository and MongoOutboxRepository, held to the same
 * behaviour by one contract suite. Adding an eventId that is already there keeps the first copy,
 * so a retried state change cannot duplicate its event.
 */
export interface OutboxRepository {
  /** Adds events inside the caller's state-change transaction. */
  add(tx: Transaction, events: readonly OutboxEvent[]): Promise<void>;
  /** Adds events in a transaction of their own (events not tied to a state change). */
  addNow(events: readonly OutboxEvent[]): Promise<void>;
  /** Up to `limit` unshipped events whose nextAttemptAt <= now, oldest insertion first (a far future `now`: every unshipped event, in order). */
  pending(limit: number, now: Date): Promise<OutboxRecord[]>;
  /** Records audit's acknowledgements; an event already shipped keeps its first ack. Returns how many changed. */
  markShipped(acks: readonly OutboxAck[], at: Date): Promise<number>;
  /**
   * Counts a failed attempt for unshipped events and defers them to nextAttemptAt. `error` is
   * stored as given: the caller passes a sanitized message, never a secret. Returns how many changed.
   */
  markFailed(eventIds: readonly string[], error: string, nextAttemptAt: Date): Promise<number>;
  get(eventId: string): Promise<OutboxRecord | undefined>;
  /** Unshipped events, including those waiting for their back-off. */
  countPending(): Promise<number>;
  /** Deletes events shipped before `olderThan` (audit holds them now). Returns how many. */
  purgeShipped(olderThan: Date): Promise<number>;
}

/** Longest eventId accepted; ids are UUIDs or similar, so anything longer is a bug. */
export const MAX_EVENT_ID_LENGTH = 200;
/** Longest stored lastError; the rest is cut off. */
export const MAX_OUTBOX_ERROR_LENGTH = 1_000;

/**
 * Checks an eventId at runtime. Filters are built from it, so it must really be a string (an
 * object such as `{ $ne: null }` from untyped code would become a MongoDB operator).
 */
export function checkEventId(eventId: unknown): asserts eventId is string {
  if (typeof eventId !== 'string') throw new TypeError(`outbox eventId must be a string, got ${eventId === null ? 'null' : typeof eventId}`);
  if (eventId.length === 0 || eventId.length > MAX_EVENT_ID_LENGTH) {
    throw new RangeError(`outbox eventId must be 1..${MAX_EVENT_ID_LENGTH} characters, got ${eventId.length}`);
  }
}

function checkDate(value: unknown, what: string): asserts value is Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeError(`${what} must be a valid Date`);
}

/**
 * Validates events and drops later copies of an eventId within the batch (the first wins, as it
 * does against stored events).
 */
export function checkOutboxEvents(events: readonly OutboxEvent[]): OutboxEvent[] {
  if (!Array.isArray(events)) throw new TypeError('outbox events must be an array');
  const seen = new Set<string>();
  const unique: OutboxEvent[] = [];
  for (const event of events) {
    checkEventId(event.eventId);
    if (!(event.payload instanceof Uint8Array)) throw new TypeError(`outbox event ${event.eventId}: payload must be a Uint8Array`);
    checkDate(event.createdAt, `outbox event ${event.eventId}: createdAt`);
    if (seen.has(event.eventId)) continue;
    seen.add(event.eventId);
    unique.push(event);
  }
  return unique;
}

/** Validates a list of eventIds (for markFailed). */
export function checkEventIds(eventIds: readonly string[]): string[] {
  if (!Array.isArray(eventIds)) throw new TypeError('outbox eventIds must be an array');
  for (const id of eventIds) checkEventId(id);
  return [...new Set(eventIds)];
}

/** Validates acknowledgements: string ids and safe, non-negative integer sequences. */
export function checkAcks(acks: readonly OutboxAck[]): void {
  if (!Array.isArray(acks)) throw new TypeError('outbox acks must be an array');
  for (const ack of acks) {
    checkEventId(ack.eventId);
    if (!Number.isSafeInteger(ack.sequence) || ack.sequence < 0) {
      throw new RangeError(`outbox ack for ${ack.eventId}: sequence must be a non-negative safe integer`);
    }
  }
}

/** Validates pending()'s arguments. */
export function checkPendingArgs(limit: number, now: Date): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`outbox pending limit must be a positive integer, got ${limit}`);
  checkDate(now, 'now');
}

/** Validates a date argument (markShipped's `at`, markFailed's `nextAttemptAt`, purge's cutoff). */
export function checkOutboxDate(value: Date, what: string): void {
  checkDate(value, what);
}

/** Cuts an error message to what the outbox stores. */
export function clipOutboxError(error: string): string {
  const text = String(error);
  return text.length > MAX_OUTBOX_ERROR_LENGTH ? `${text.slice(0, MAX_OUTBOX_ERROR_LENGTH - 1)}…` : text;
}
