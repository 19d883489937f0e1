/**
 * The sliding-window state of one (rule, group). Each keeps at most `capacity` (= the rule's
 * threshold) entries: whether the aggregate over the window reaches the threshold depends only
 * on the `threshold` most recent entries, so older ones can go. This bounds a group's memory
 * whatever the event rate, at the price of reporting `threshold` as the count when more events
 * than that fell in the window.
 */
export interface WindowState {
  /** The aggregate over the entries kept (count, or distinct count). */
  readonly size: number;
  /** Adds an occurrence at event time `time` (non-decreasing) with its log sequence. */
  add(time: number, sequence: number, distinctValue: string): void;
  /** Forgets entries whose event time is at or before `cutoff` (they left the window). */
  pruneThrough(cutoff: number): void;
  /** Forgets entries up to and including `sequence` (an alert stored for them already fired). */
  dropThroughSequence(sequence: number): void;
  /** Sequence of the oldest entry kept: the first event counted. */
  firstSequence(): number;
  clear(): void;
}

/** COUNT: a FIFO of (time, sequence), in arrival order. */
export class CountWindow implements WindowState {
  private times: number[] = [];
  private seqs: number[] = [];
  private head = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.times.length - this.head;
  }

  add(time: number, sequence: number): void {
    this.times.push(time);
    this.seqs.push(sequence);
    if (this.size > this.capacity) this.head++;
    this.compact();
  }

  pruneThrough(cutoff: number): void {
    while (this.head < this.times.length && (this.times[this.head] ?? Infinity) <= cutoff) this.head++;
    this.compact();
  }

  dropThroughSequence(sequence: number): void {
    while (this.head < this.seqs.length && (this.seqs[this.head] ?? Infinity) <= sequence) this.head++;
    this.compact();
  }

  firstSequence(): number {
    return this.seqs[this.head] ?? 0;
  }

  clear(): void {
    this.times = [];
    this.seqs = [];
    this.head = 0;
  }

  /** Drops consumed slots once they are the larger part, so shifting stays O(1) amortised. */
  private compact(): void {
    if (this.head === this.times.length) {
      this.clear();
    } else if (this.head > 16 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * DISTINCT_COUNT: each distinct value with its latest occurrence. A Map iterates in insertion
 * order, and a value is re-inserted on every occurrence, so the front is always the value seen
 * least recently: pruning and capping work from the front.
 */
export class DistinctWindow implements WindowState {
  private readonly latest = new Map<string, { time: number; sequence: number }>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.latest.size;
  }

  add(time: number, sequence: number, distinctValue: string): void {
    this.latest.delete(distinctValue);
    this.latest.set(distinctValue, { time, sequence });
    if (this.latest.size > this.capacity) this.dropFirst();
  }

  pruneThrough(cutoff: number): void {
    for (const [value, entry] of this.latest) {
      if (entry.time > cutoff) break;
      this.latest.delete(value);
    }
  }

  dropThroughSequence(sequence: number): void {
    for (const [value, entry] of this.latest) {
      if (entry.sequence > sequence) break;
      this.latest.delete(value);
    }
  }

  /** The oldest latest-occurrence kept: each value counts by its most recent event. */
  firstSequence(): number {
    for (const entry of this.latest.values()) return entry.sequence;
    return 0;
  }

  clear(): void {
    this.latest.clear();
  }

  private dropFirst(): void {
    for (const value of this.latest.keys()) {
      this.latest.delete(value);
      return;
    }
  }
}
