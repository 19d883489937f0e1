/**
 * Test support for the seal and crypto tests only (not exported from index.ts): an in-memory
 * key file store that round-trips through JSON like the real 0600 file, a deterministic random
 * source, and the test-only scrypt cost.
 */
import type { RandomSource } from '@gatehouse/core';
import type { KeyFile, KeyFileOptions } from './key-file.js';
import type { KeyFileStore } from './seal-manager.js';

/** scrypt N = 2^10 for tests: the production default (2^17) costs ~0.4 s per derivation. */
export const TEST_KEY_FILE_OPTIONS: Readonly<Pick<KeyFileOptions, 'insecureTestScryptN'>> = Object.freeze({ insecureTestScryptN: 2 ** 10 });

/** A passphrase that satisfies the policy. */
export const GOOD_PASSPHRASE = 'correct horse battery staple';

/** A KeyFileStore in memory. It keeps the JSON text, so what is read back is what a file would hold. */
export class InMemoryKeyFileStore implements KeyFileStore {
  #json: string | undefined;
  #failNextWrite: Error | undefined;
  /** Number of successful writes. */
  writes = 0;

  constructor(initial?: KeyFile) {
    if (initial) this.#json = JSON.stringify(initial);
  }

  async read(): Promise<KeyFile | undefined> {
    await Promise.resolve();
    return this.#json === undefined ? undefined : (JSON.parse(this.#json) as KeyFile);
  }

  async write(file: KeyFile): Promise<void> {
    await Promise.resolve();
    const failure = this.#failNextWrite;
    if (failure) {
      this.#failNextWrite = undefined;
      throw failure;
    }
    this.#json = JSON.stringify(file, null, 2);
    this.writes++;
  }

  /** The stored text, as an operator would see the file. */
  get json(): string | undefined {
    return this.#json;
  }

  /** Replaces the stored text (tampering, restoring a backup). */
  set json(text: string | undefined) {
    this.#json = text;
  }

  /** Makes the next write fail with `err` (a full disk, a permission error). */
  failNextWrite(err: Error = new Error('disk full')): void {
    this.#failNextWrite = err;
  }
}

/** A small seeded PRNG (mulberry32): reproducible, never for production. */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { bytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)) };
}

/** A RandomSource that serves `bytes` in order (for hand-derived vectors), then fails loudly. */
export function scriptedRandom(bytes: readonly number[]): RandomSource & { served: number } {
  const source = {
    served: 0,
    bytes(n: number): Uint8Array {
      if (source.served + n > bytes.length) throw new Error('scripted random source exhausted');
      const out = Uint8Array.from(bytes.slice(source.served, source.served + n));
      source.served += n;
      return out;
    },
  };
  return source;
}

/** Wraps a RandomSource and keeps every array it returned (to check they get wiped, or never leak). */
export function recordingRandom(inner: RandomSource): RandomSource & { handedOut: Uint8Array[]; copies: Uint8Array[] } {
  const handedOut: Uint8Array[] = [];
  const copies: Uint8Array[] = [];
  return {
    handedOut,
    copies,
    bytes(n: number): Uint8Array {
      const b = inner.bytes(n);
      handedOut.push(b);
      copies.push(Uint8Array.from(b));
      return b;
    },
  };
}

/** Runs `fn` and returns the error it threw (sync or async); fails if it did not throw. */
export async function caught(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`threw a non-Error: ${String(err)}`);
  }
  throw new Error('expected an error, none was thrown');
}
