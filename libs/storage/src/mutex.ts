/**
 * A FIFO async mutex. better-sqlite3 has one connection and synchronous calls, while our
 * repository ports are async: without this lock, two logical operations could interleave at
 * their awaits and one would read (or commit) the other's half-done transaction.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;

  /** Callers queued for the lock (not counting its holder): group commit keeps a batch open while there are some. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Waits for the lock and returns its release function (calling it twice is harmless). */
  lock(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.#tail;
    this.#tail = previous.then(() => held);
    this.#waiting += 1;
    return previous.then(() => {
      this.#waiting -= 1;
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

const turns = new Map<string, { mutex: Mutex; users: number }>();

/**
 * Runs `fn` after every earlier call with the same key in this process has finished. Adapters
 * wrap single-document compare-and-sets in it: a real MongoDB replica set makes each such update
 * atomic across processes, but the jongodb fallback the tests use does not (two concurrent
 * conditional updates of one document could both match), so within one process they are
 * queued per document. Costs nothing measurable: writers of one document conflict anyway.
 */
export async function inTurn<T>(key: string, fn: () => Promise<T>): Promise<T> {
  let entry = turns.get(key);
  if (!entry) turns.set(key, (entry = { mutex: new Mutex(), users: 0 }));
  entry.users += 1;
  try {
    return await entry.mutex.withLock(fn);
  } finally {
    entry.users -= 1;
    if (entry.users === 0) turns.delete(key);
  }
}
