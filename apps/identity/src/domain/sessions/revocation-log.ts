import type { Clock, Transaction } from '@gatehouse/core';

/** What a revocation covers (identity.v1.RevocationKind). */
export type RevocationKind = 'session' | 'account_sessions' | 'account_suspended' | 'account_locked';

/**
 * One entry of the revocation log: what other services need to refuse a revoked session without
 * asking identity on every call. Account-wide kinds revoke every session whose sign-in
 * (`auth_time`) is at or before `revokedAt`.
 */
export interface RevocationEntry {
  sequence: number;
  kind: RevocationKind;
  /** The session, for kind `session`; null for the account-wide kinds. */
  sessionId: string | null;
  accountId: string;
  revokedAt: Date;
  /** No token the entry covers can be valid after this: verifiers (and the log) may forget it. */
  forgetAfter: Date;
}

/** The log's port: append-only, sequence-ordered, pruned once entries can no longer matter. */
export interface RevocationLog {
  /** Appends one entry and returns it with its sequence (greater than every earlier one on this backend). */
  append(tx: Transaction, entry: Omit<RevocationEntry, 'sequence'>): Promise<RevocationEntry>;
  /** Entries with sequence > `after` still worth knowing at `now`, ascending, at most `limit`. */
  after(after: number, now: Date, limit: number): Promise<RevocationEntry[]>;
  /**
   * Entries revoked at or after `since`, ascending: the poller's look-back for entries whose
   * sequence was allocated before, but committed after, a later one (MongoDB replicas allocate
   * sequences and insert in two steps).
   */
  revokedSince(since: Date, limit: number): Promise<RevocationEntry[]>;
  /** The highest sequence (0 for an empty log). */
  head(): Promise<number>;
  /** Deletes entries forgotten before `now`; returns how many. */
  prune(now: Date): Promise<number>;
}

/** A subscriber's callback: new entries, in sequence order, each sent once per subscriber. */
export type RevocationListener = (entries: RevocationEntry[]) => void;

/** How the hub polls the log. */
export interface RevocationHubOptions {
  /** How often the log is re-read for revocations made by other replicas (default 100 ms). */
  pollMs?: number;
  /** How far back each poll re-reads by time, for late-committed sequences (default 10 s). */
  lookBackMs?: number;
  onError?: (err: unknown) => void;
}

const PAGE = 1000;

/**
 * Fans identity's revocation log out to WatchRevocations streams. Revocations made by this
 * replica are pushed at once (`nudge`); those made by other replicas are found by polling the
 * shared log every `pollMs`, which is what bounds how late a service hears of a revocation.
 */
export class RevocationHub {
  private readonly listeners = new Set<RevocationListener>();
  private readonly seen = new Map<number, number>();
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private again = false;
  private lastPrune = 0;
  private readonly pollMs: number;
  private readonly lookBackMs: number;

  constructor(
    private readonly log: RevocationLog,
    private readonly clock: Clock,
    private readonly opts: RevocationHubOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 100;
    this.lookBackMs = opts.lookBackMs ?? 10_000;
  }

  /** Starts polling from the log's current head (subscribers replay older entries themselves). */
  async start(): Promise<void> {
    this.cursor = await this.log.head();
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  /** A revocation was just appended on this replica: poll now rather than at the next tick. */
  nudge(): void {
    void this.poll();
  }

  /** The highest sequence this hub has delivered. */
  get headSequence(): number {
    return this.cursor;
  }

  /**
   * Calls `listener` with every entry discovered from now on. Returns the unsubscribe function.
   * Callers replay older entries with {@link replay} first; an entry found in both is harmless,
   * since applying a revocation twice changes nothing.
   */
  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every retained entry after `after`, in pages, for a stream's catch-up. */
  async *replay(after: number): AsyncGenerator<RevocationEntry[]> {
    let from = after;
    for (;;) {
      const page = await this.log.after(from, this.clock.now(), PAGE);
      if (page.length > 0) yield page;
      if (page.length < PAGE) return;
      from = page[page.length - 1]!.sequence;
    }
  }

  private poll(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return this.polling;
    }
    this.polling = (async () => {
      do {
        this.again = false;
        try {
          await this.pollOnce();
        } catch (err) {
          this.opts.onError?.(err);
        }
      } while (this.again);
    })().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const now = this.clock.now();
    if (now.getTime() - this.lastPrune >= 60_000) {
      this.lastPrune = now.getTime();
      await this.log.prune(now);
    }
    const found = new Map<number, RevocationEntry>();
    for (const e of await this.log.revokedSince(new Date(now.getTime() - this.lookBackMs), PAGE)) found.set(e.sequence, e);
    for (;;) {
      const page = await this.log.after(this.cursor, now, PAGE);
      for (const e of page) found.set(e.sequence, e);
      if (page.length > 0) this.cursor = Math.max(this.cursor, page[page.length - 1]!.sequence);
      if (page.length < PAGE) break;
    }
    const fresh = [...found.values()].filter((e) => !this.seen.has(e.sequence)).sort((a, b) => a.sequence - b.sequence);
    const horizon = now.getTime() - 2 * this.lookBackMs;
    for (const [seq, at] of this.seen) if (at < horizon) this.seen.delete(seq);
    if (fresh.length === 0) return;
    for (const e of fresh) {
      this.seen.set(e.sequence, e.revokedAt.getTime());
      this.cursor = Math.max(this.cursor, e.sequence);
    }
    for (const l of this.listeners) {
      try {
        l(fresh);
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
  }
}
