import type { KeyObject } from 'node:crypto';
import { UnavailableError } from '@gatehouse/core';
import type { Clock } from '@gatehouse/core';
import { parseJwks } from '../domain/google/index.js';
import type { JwksSource } from '../domain/google/index.js';

/** Google's JWKS endpoint for ID token signing keys (its OIDC discovery `jwks_uri`). */
export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

/** Options of {@link HttpJwksSource}. */
export interface HttpJwksSourceOptions {
  /** Decides freshness and rate limits; the wiring passes systemClock, tests a ManualClock. */
  readonly clock: Clock;
  /** Defaults to the global fetch. */
  readonly fetch?: typeof globalThis.fetch;
  /** At most one fetch per this interval, whatever happens (unknown kids, expiry, errors). Default 30 s. */
  readonly minRefreshIntervalMs?: number;
  /** Lifetime of the keys when the response has no Cache-Control max-age. Default 1 h. */
  readonly defaultMaxAgeMs?: number;
  /** Upper bound on any max-age the server announces. Default 24 h. */
  readonly maxMaxAgeMs?: number;
  /** How long expired keys keep being served while refreshes fail. Default 1 h. */
  readonly staleGraceMs?: number;
  /** Timeout of one fetch. Default 5 s. */
  readonly timeoutMs?: number;
  /** Largest JWKS body accepted. Default 64 KiB (Google's is about 2 KiB). */
  readonly maxBodyBytes?: number;
  /** Told about every failed refresh, for the wiring to log (never contains a secret). */
  readonly onRefreshError?: (error: Error) => void;
}

interface KeySet {
  readonly keys: ReadonlyMap<string, KeyObject>;
  /** Epoch ms after which the keys are stale. */
  readonly expiresAt: number;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * JwksSource over HTTP(S), for Google's signing keys (issue 4 item 2: "a configured URL with
 * caching and key rotation"). Keys are cached for the response's Cache-Control max-age (less
 * its Age). An unknown kid triggers a refresh, but fetches happen at most once per
 * `minRefreshIntervalMs` and concurrent callers share one fetch, so a flood of junk kids costs
 * Google nothing. A successful refresh replaces the whole set (a key Google withdrew is gone
 * at once); a failed one keeps the cached keys, served until their expiry plus `staleGraceMs`.
 * Beyond that, or before any key was ever fetched, `key()` throws UnavailableError.
 */
export class HttpJwksSource implements JwksSource {
  private readonly url: URL;
  private readonly clock: Clock;
  private readonly fetchFn: typeof globalThis.fetch;
  private readonly minRefreshIntervalMs: number;
  private readonly defaultMaxAgeMs: number;
  private readonly maxMaxAgeMs: number;
  private readonly staleGraceMs: number;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly onRefreshError: ((error: Error) => void) | undefined;

  private current: KeySet | undefined;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<boolean> | undefined;
  private fetchCount = 0;

  constructor(url: string | URL, options: HttpJwksSourceOptions) {
    this.url = new URL(url);
    if (this.url.protocol !== 'https:' && !(this.url.protocol === 'http:' && LOOPBACK_HOSTS.has(this.url.hostname))) {
      throw new Error('HttpJwksSource: the JWKS URL must use https (plain http only on loopback)');
    }
    this.clock = options.clock;
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.minRefreshIntervalMs = nonNegative(options.minRefreshIntervalMs, 30_000, 'minRefreshIntervalMs');
    this.defaultMaxAgeMs = nonNegative(options.defaultMaxAgeMs, 3_600_000, 'defaultMaxAgeMs');
    this.maxMaxAgeMs = nonNegative(options.maxMaxAgeMs, 86_400_000, 'maxMaxAgeMs');
    this.staleGraceMs = nonNegative(options.staleGraceMs, 3_600_000, 'staleGraceMs');
    this.timeoutMs = nonNegative(options.timeoutMs, 5_000, 'timeoutMs');
    this.maxBodyBytes = nonNegative(options.maxBodyBytes, 64 * 1024, 'maxBodyBytes');
    this.onRefreshError = options.onRefreshError;
  }

  /** How many HTTP fetches were started: for metrics and tests. */
  get fetches(): number {
    return this.fetchCount;
  }

  async key(kid: string): Promise<KeyObject | undefined> {
    const now = this.clock.now().getTime();
    const set = this.current;
    if (set && now < set.expiresAt && set.keys.has(kid)) return set.keys.get(kid);

    // Stale, empty or missing this kid: refresh if the rate limit allows (or join the fetch
    // already under way), then decide on whatever we have.
    const refreshed = await this.refreshIfAllowed();
    const after = this.current;
    const at = this.clock.now().getTime();
    if (!after) throw new UnavailableError('Google signing keys are unavailable: the JWKS could not be fetched');
    if (at >= after.expiresAt + this.staleGraceMs) {
      throw new UnavailableError('Google signing keys are unavailable: the cached JWKS expired and could not be refreshed');
    }
    const key = after.keys.get(kid);
    if (!key && refreshed === false) {
      // We tried to learn this kid and could not reach the JWKS: say so rather than call a
      // possibly genuine token's key unknown.
      throw new UnavailableError('Google signing keys are unavailable: the JWKS could not be refreshed');
    }
    return key;
  }

  /**
   * Fetches now unless a fetch happened within the minimum interval. Lets the wiring warm the
   * cache at start; failures are reported through onRefreshError, not thrown.
   */
  async refresh(): Promise<void> {
    await this.refreshIfAllowed();
  }

  /** true: fetched; false: the fetch failed; undefined: rate-limited, nothing attempted. */
  private refreshIfAllowed(): Promise<boolean | undefined> {
    if (this.inFlight) return this.inFlight;
    const now = this.clock.now().getTime();
    if (now - this.lastAttemptAt < this.minRefreshIntervalMs) return Promise.resolve(undefined);
    this.lastAttemptAt = now;
    this.fetchCount++;
    const attempt = this.fetchOnce().then(
      (set) => {
        this.current = set;
        return true;
      },
      (err: unknown) => {
        this.onRefreshError?.(err instanceof Error ? err : new Error(String(err)));
        return false;
      },
    );
    this.inFlight = attempt.finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetchOnce(): Promise<KeySet> {
    const response = await this.fetchFn(this.url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`JWKS fetch from ${this.url.origin} failed: HTTP ${response.status}`);
    }
    const text = await readCapped(response, this.maxBodyBytes);
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new Error(`JWKS from ${this.url.origin} is not valid JSON`);
    }
    const { keys } = parseJwks(document);
    // An empty set would make every token fail; keep what we have and treat it as an error.
    if (keys.size === 0) throw new Error(`JWKS from ${this.url.origin} holds no usable RS256 signing key`);
    const fetchedAt = this.clock.now().getTime();
    return { keys, expiresAt: fetchedAt + this.freshnessMs(response.headers) };
  }

  /** Cache-Control max-age minus Age (RFC 9111 §4.2), capped; no-store / no-cache mean 0. */
  private freshnessMs(headers: Headers): number {
    const cacheControl = headers.get('cache-control') ?? '';
    const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim());
    if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
    let maxAgeMs = this.defaultMaxAgeMs;
    for (const d of directives) {
      const m = /^max-age\s*=\s*"?(\d{1,10})"?$/.exec(d);
      if (m?.[1] !== undefined) {
        maxAgeMs = Number(m[1]) * 1000;
        const age = /^\d{1,10}$/.exec((headers.get('age') ?? '').trim());
        if (age) maxAgeMs -= Number(age[0]) * 1000;
        break;
      }
    }
    return Math.min(Math.max(maxAgeMs, 0), this.maxMaxAgeMs);
  }
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`HttpJwksSource: ${name} must be a non-negative number`);
  return v;
}

/** Reads the body as UTF-8, refusing more than `max` bytes without buffering them first. */
async function readCapped(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 'NaN');
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`JWKS response is too large (${declared} bytes, limit ${max})`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`JWKS response is too large (over ${max} bytes)`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
