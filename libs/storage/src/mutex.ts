/**
 * A FIFO async mutex. better-sqlite3 has one connection and synchronous calls, while our
 * repository ports are async: without this lock, two logical operations could interleave at
 * their awaits and one would read (or commit) the other's half-done transaction.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  /** Waits for the lock and returns its release function (calling it twice is harmless). */
  lock(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.#tail;
    this.#tail = previous.then(() => held);
    return previous.then(() => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    });
  }

  /** Runs fn while holding the lock. */
  async withLock<T>(fn: () => T | Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
