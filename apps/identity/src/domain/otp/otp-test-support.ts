/**
 * Test support for the OTP tests only (not exported from index.ts): a fixed keyring, a
 * deterministic random source, credentials built from known seeds, and in-memory stores whose
 * compare-and-set follows the contracts of ports.ts, with seeded scheduling jitter so that
 * concurrent requests really interleave between their reads and their writes.
 */
import type { RandomSource, Transaction } from '@gatehouse/core';
import { INITIAL_THROTTLE_STATE, throttleStatesEqual } from './account-throttle.js';
import type { ThrottleState } from './account-throttle.js';
import { matchesOtpCasGuard } from './otp-credential.js';
import { OtpSeed } from './otp-seed.js';
import type { OtpCredentialCasStore, ThrottleCasStore } from './ports.js';
import { SeedCipher } from './seed-cipher.js';
import type { SeedKeyring } from './seed-cipher.js';
import type { OtpAlgorithm, OtpCasGuard, OtpCredential, OtpDigits, OtpKind } from './otp-types.js';

/** A keyring with fixed keys; `rotate` makes another key current. */
export class TestKeyring implements SeedKeyring {
  private readonly keys = new Map<string, Uint8Array>();
  private currentId: string;
  constructor(keyId = 'k1', key: Uint8Array = new Uint8Array(32).fill(7)) {
    this.keys.set(keyId, key);
    this.currentId = keyId;
  }
  current(): { keyId: string; key: Uint8Array } {
    return { keyId: this.currentId, key: this.keys.get(this.currentId) as Uint8Array };
  }
  byId(keyId: string): Uint8Array | undefined {
    return this.keys.get(keyId);
  }
  rotate(keyId: string, key: Uint8Array): void {
    this.keys.set(keyId, key);
    this.currentId = keyId;
  }
}

/** A small seeded PRNG (mulberry32), for reproducible interleavings. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic RandomSource (never for production): bytes from a seeded PRNG. */
export function seededRandom(seed: number): RandomSource {
  const next = prng(seed);
  return { bytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)) };
}

/** Yields to the event loop 0..3 times, chosen by `rand`, so concurrent calls interleave. */
export async function jitter(rand: () => number): Promise<void> {
  const ticks = Math.floor(rand() * 4);
  for (let i = 0; i < ticks; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** An active (or given-status) credential around a known seed, its seed encrypted with `cipher`. */
export function credentialFor(
  seedBytes: Uint8Array,
  cipher: SeedCipher,
  opts: { kind?: OtpKind; algorithm?: OtpAlgorithm; digits?: OtpDigits; status?: OtpCredential['status']; credentialId?: string; accountId?: string; counter?: number; now?: Date } = {},
): OtpCredential {
  const credentialId = opts.credentialId ?? 'cred-1';
  const accountId = opts.accountId ?? 'acc-1';
  const seed = OtpSeed.fromBytes(seedBytes);
  const now = opts.now ?? new Date(Date.UTC(2026, 0, 1));
  const status = opts.status ?? 'active';
  try {
    return {
      credentialId,
      accountId,
      kind: opts.kind ?? 'totp',
      algorithm: opts.algorithm ?? 'SHA1',
      digits: opts.digits ?? 6,
      period: 30,
      label: 'phone',
      encryptedSeed: cipher.encrypt(seed, { credentialId, accountId }),
      status,
      createdAt: now,
      confirmBy: status === 'pending' ? new Date(now.getTime() + 10 * 60_000) : null,
      activatedAt: status === 'active' ? now : null,
      lastUsedAt: null,
      retiredAt: null,
      lastAcceptedStep: -1,
      counter: opts.counter ?? 0,
      driftSteps: 0,
    };
  } finally {
    seed.destroy();
  }
}

/** The transaction the in-memory stores take (they have none: each CAS is one synchronous block). */
export const NO_TX: Transaction = Object.freeze({ backend: 'sqlite' as const });

/** Applies a transition's `next` to a credential, as the repository would after a won CAS. */
export function applyNext(cred: OtpCredential, next: Partial<OtpCredential>): OtpCredential {
  return { ...cred, ...next };
}

/** The OTP credential store of ports.ts in memory: the CAS is one synchronous block, as a single-document update is. */
export class MemoryOtpStore implements OtpCredentialCasStore {
  readonly rows = new Map<string, OtpCredential>();
  writes = 0;
  /** Compare-and-sets refused because the row had changed: proof that calls really raced. */
  casMisses = 0;
  constructor(private readonly rand: () => number) {}
  async get(credentialId: string): Promise<OtpCredential | undefined> {
    await jitter(this.rand);
    const row = this.rows.get(credentialId);
    return row && structuredClone(row);
  }
  async compareAndSet(_tx: Transaction, guard: OtpCasGuard, next: Partial<OtpCredential>): Promise<boolean> {
    await jitter(this.rand);
    const row = this.rows.get(guard.credentialId);
    if (!row || !matchesOtpCasGuard(row, guard)) {
      this.casMisses++;
      return false;
    }
    this.rows.set(guard.credentialId, { ...row, ...structuredClone(next) });
    this.writes++;
    await jitter(this.rand);
    return true;
  }
}

/** The throttle store of ports.ts in memory. */
export class MemoryThrottleStore implements ThrottleCasStore {
  readonly rows = new Map<string, ThrottleState>();
  /** Compare-and-sets refused because the state had changed: proof that calls really raced. */
  casMisses = 0;
  constructor(private readonly rand: () => number) {}
  async get(accountId: string): Promise<ThrottleState> {
    await jitter(this.rand);
    return structuredClone(this.rows.get(accountId) ?? { ...INITIAL_THROTTLE_STATE });
  }
  async compareAndSet(_tx: Transaction, accountId: string, guard: ThrottleState, next: ThrottleState): Promise<boolean> {
    await jitter(this.rand);
    const stored = this.rows.get(accountId) ?? INITIAL_THROTTLE_STATE;
    if (!throttleStatesEqual(stored, guard)) {
      this.casMisses++;
      return false;
    }
    this.rows.set(accountId, structuredClone(next));
    await jitter(this.rand);
    return true;
  }
  async resetIfUnlocked(_tx: Transaction, accountId: string, next: ThrottleState): Promise<boolean> {
    await jitter(this.rand);
    const stored = this.rows.get(accountId) ?? INITIAL_THROTTLE_STATE;
    if (stored.lockedAt !== null) return false;
    this.rows.set(accountId, structuredClone(next));
    return true;
  }
}

/** The RFC 4226 / RFC 6238 seeds (ASCII digits, 20/32/64 bytes). */
export const RFC_SEEDS: Record<OtpAlgorithm, Uint8Array> = {
  SHA1: new TextEncoder().encode('12345678901234567890'),
  SHA256: new TextEncoder().encode('12345678901234567890123456789012'),
  SHA512: new TextEncoder().encode('1234567890123456789012345678901234567890123456789012345678901234'),
};

/** A cipher over a fresh TestKeyring. */
export function testCipher(): SeedCipher {
  return new SeedCipher(new TestKeyring());
}
