import type { KeyObject } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import { UnavailableError, systemClock, type Clock } from '@gatehouse/core';
import { commonV1, type IdentityServiceClient, type identityV1 } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { KEY_ID_RE } from './jws.js';
import { ed25519PublicKey, type KeyValidity, type SessionKeySource } from './key-source.js';

/** Tuning of {@link IdentityKeySource}; the defaults suit production. */
export interface IdentityKeySourceOptions {
  clock?: Clock;
  /** Deadline of each GetSigningKeys call. Default 5 s. */
  deadlineMs?: number;
  /**
   * A token naming a key id we do not hold triggers a refetch at most once per this many
   * seconds, so forged kids cannot make us hammer identity. Default 30 s.
   */
  minRefreshIntervalSeconds?: number;
  /** After a failed fetch, wait this long before the next one. Default 5 s. */
  failureRetrySeconds?: number;
  /** Cache lifetime when identity does not send cache_for. Default 300 s. */
  defaultCacheSeconds?: number;
  /** Upper bound on identity's cache_for. Default 3600 s. */
  maxCacheSeconds?: number;
  /**
   * How long past cache_for the last answer stays usable while identity cannot be reached.
   * Beyond it, verification fails closed with UNAVAILABLE. Default 900 s.
   */
  maxStaleSeconds?: number;
}

interface CachedKey extends KeyValidity {
  key: KeyObject;
  status: commonV1.KeyStatus;
}

const PUBLISHED_STATUSES: ReadonlySet<commonV1.KeyStatus> = new Set([
  commonV1.KeyStatus.KEY_STATUS_NEXT,
  commonV1.KeyStatus.KEY_STATUS_ACTIVE,
  commonV1.KeyStatus.KEY_STATUS_RETIRED,
]);

/** Awaits a promise for its timing only; its failure is handled by whoever started it. */
async function settled(p: Promise<unknown>): Promise<void> {
  await p.then(
    () => undefined,
    () => undefined,
  );
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? (grpcStatus[code] ?? `code ${code}`) : 'no gRPC status';
}

/**
 * Identity's session keys, fetched with GetSigningKeys and cached like a JWKS: refetched when
 * cache_for runs out, and on a token whose kid is unknown (key rotation), but at most once per
 * minRefreshIntervalSeconds. Concurrent lookups share one call. A key is used only inside its
 * not_before..not_after window: a NEXT key from its not_before, a RETIRED key until its
 * not_after (tokens it signed stay valid until then). If identity is unreachable the last
 * answer is used for maxStaleSeconds past its cache_for, then lookups fail closed.
 */
export class IdentityKeySource implements SessionKeySource {
  private readonly clock: Clock;
  private readonly deadlineMs: number;
  private readonly minRefreshMs: number;
  private readonly failureRetryMs: number;
  private readonly defaultCacheMs: number;
  private readonly maxCacheMs: number;
  private readonly maxStaleMs: number;

  private keys = new Map<string, CachedKey>();
  private freshUntil = -Infinity;
  private usableUntil = -Infinity;
  private lastAttemptAt = -Infinity;
  private lastError: UnavailableError | undefined;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly client: IdentityServiceClient,
    opts: IdentityKeySourceOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.deadlineMs = opts.deadlineMs ?? 5_000;
    this.minRefreshMs = (opts.minRefreshIntervalSeconds ?? 30) * 1000;
    this.failureRetryMs = (opts.failureRetrySeconds ?? 5) * 1000;
    this.defaultCacheMs = (opts.defaultCacheSeconds ?? 300) * 1000;
    this.maxCacheMs = (opts.maxCacheSeconds ?? 3600) * 1000;
    this.maxStaleMs = (opts.maxStaleSeconds ?? 900) * 1000;
    for (const [name, v] of Object.entries({ deadlineMs: this.deadlineMs, minRefreshIntervalSeconds: this.minRefreshMs })) {
      if (!Number.isFinite(v) || v <= 0) throw new TypeError(`IdentityKeySource: ${name} must be positive`);
    }
  }

  async key(keyId: string): Promise<KeyObject | undefined> {
    if (!KEY_ID_RE.test(keyId)) return undefined;
    await this.ensureFresh();
    if (!this.keys.has(keyId)) {
      // Rotation: identity may have a key we have not seen. Join a fetch under way, or start one
      // if the last was long enough ago; otherwise the kid is simply unknown.
      if (this.inflight) await settled(this.inflight);
      else if (this.now() - this.lastAttemptAt >= this.minRefreshMs) await this.fetch();
    }
    const entry = this.keys.get(keyId);
    return entry !== undefined && this.usableNow(entry) ? entry.key : undefined;
  }

  validity(keyId: string): KeyValidity | undefined {
    const entry = this.keys.get(keyId);
    if (entry === undefined) return undefined;
    const window: KeyValidity = {};
    if (entry.notBefore) window.notBefore = entry.notBefore;
    if (entry.notAfter) window.notAfter = entry.notAfter;
    return window;
  }

  /**
   * Fetches the keys now (for start-up, so a misconfigured identity address shows at once).
   * Throws UnavailableError when identity cannot be reached.
   */
  async prefetch(): Promise<void> {
    await this.fetch();
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private usableNow(entry: CachedKey): boolean {
    const now = this.now();
    if (entry.notBefore && now < entry.notBefore.getTime()) return false;
    if (entry.notAfter && now > entry.notAfter.getTime()) return false;
    return true;
  }

  /** Refreshes an expired cache (respecting the failure back-off); fails closed past maxStale. */
  private async ensureFresh(): Promise<void> {
    const now = this.now();
    if (now < this.freshUntil) return;
    if (this.inflight) await settled(this.inflight);
    else if (this.lastError === undefined || now - this.lastAttemptAt >= this.failureRetryMs) await settled(this.fetch());
    if (this.now() >= this.usableUntil) {
      throw this.lastError ?? new UnavailableError("identity's session signing keys are not available yet");
    }
  }

  private fetch(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.lastAttemptAt = this.now();
    const p = call(this.client, this.client.getSigningKeys, {}, { deadlineMs: this.deadlineMs })
      .then(
        (res) => this.install(res),
        (err: unknown) => {
          this.lastError = new UnavailableError(`identity's session signing keys could not be fetched (${codeOf(err)})`);
          throw this.lastError;
        },
      )
      .finally(() => {
        this.inflight = undefined;
      });
    this.inflight = p;
    return p;
  }

  private install(res: identityV1.GetSigningKeysResponse): void {
    const keys = new Map<string, CachedKey>();
    const ambiguous = new Set<string>();
    for (const k of res.keys) {
      if (!KEY_ID_RE.test(k.keyId)) continue;
      if (k.algorithm !== commonV1.KeyAlgorithm.KEY_ALGORITHM_ED25519 || !PUBLISHED_STATUSES.has(k.status)) continue;
      if (keys.has(k.keyId)) {
        ambiguous.add(k.keyId); // two keys under one kid: trust neither
        continue;
      }
      let key: KeyObject;
      try {
        key = ed25519PublicKey(k.publicKey);
      } catch {
        continue;
      }
      const entry: CachedKey = { key, status: k.status };
      if (k.notBefore) entry.notBefore = k.notBefore;
      if (k.notAfter) entry.notAfter = k.notAfter;
      keys.set(k.keyId, entry);
    }
    for (const kid of ambiguous) keys.delete(kid);
    const cacheFor = res.cacheFor ? res.cacheFor.seconds * 1000 + Math.floor(res.cacheFor.nanos / 1e6) : 0;
    const cacheMs = cacheFor > 0 ? Math.min(cacheFor, this.maxCacheMs) : this.defaultCacheMs;
    const now = this.now();
    this.keys = keys;
    this.lastError = undefined;
    this.freshUntil = now + cacheMs;
    this.usableUntil = now + cacheMs + this.maxStaleMs;
  }
}
