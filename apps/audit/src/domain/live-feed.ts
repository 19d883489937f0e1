/**
 * Wakes streaming readers when something new is committed. Readers always re-read the store
 * (the source of truth), so a missed wake-up costs at most one poll interval, never a gap; the
 * poll also covers entries appended by another replica.
 */
export class LiveFeed {
  private waiters = new Set<() => void>();

  /** Something changed: wake every waiting reader. */
  notify(): void {
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w();
  }

  /** Resolves on the next notify, after `pollMs`, or when `signal` aborts. */
  wait(pollMs: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
