import type { RateLimitConfig } from './config.js';

/** A token bucket's parameters: steady rate and how many calls may arrive at once. */
export interface RateRule {
  ratePerSec: number;
  burst: number;
}

/** Outcome of taking a token: allowed, or denied with when to come back. */
export type TakeResult = { allowed: true } | { allowed: false; retryAfterMs: number; limitedBy: 'caller' | 'ip' };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Defaults apply when config names no limit: generous for humans, a wall for floods. */
export const DEFAULT_RATE_RULE: RateRule = { ratePerSec: 100, burst: 200 };

/**
 * Per-caller defaults of the hot-path RPCs a product fleet calls on every request (issue 17
 * item 3): one backend identity may make this many calls per second before it is refused.
 * A method rule in config overrides them; the global perCaller does not lower them.
 */
export const HOT_PATH_RATE_RULES: Readonly<Record<string, RateRule>> = Object.freeze({
  Check: { ratePerSec: 20_000, burst: 40_000 },
  VerifySession: { ratePerSec: 20_000, burst: 40_000 },
  VerifyImpersonationToken: { ratePerSec: 20_000, burst: 40_000 },
  RecordAccess: { ratePerSec: 5_000, burst: 10_000 },
});

/**
 * Token buckets per (method, caller identity) for callers with a Gatehouse certificate, and
 * per (method, peer IP) for callers without one (health probes, plaintext dev) — the first line
 * against floods (P8a). An authenticated caller is limited by its own identity only, so
 * backends behind one NAT never deny each other service; an unauthenticated one by its IP.
 * State is bounded: the oldest idle buckets are dropped first, so a spray of source addresses
 * cannot exhaust memory.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly config: RateLimitConfig = {},
    private readonly now: () => number = () => performance.now(),
    private readonly maxBuckets = 100_000,
  ) {}

  /** The rules in force for one RPC (short name or full path may be configured). */
  rulesFor(rpc: string, path: string): { perCaller: RateRule; perIp: RateRule } {
    const m = this.config.methods?.[rpc] ?? this.config.methods?.[path];
    return {
      perCaller: m?.perCaller ?? HOT_PATH_RATE_RULES[rpc] ?? this.config.perCaller ?? DEFAULT_RATE_RULE,
      perIp: m?.perIp ?? this.config.perIp ?? DEFAULT_RATE_RULE,
    };
  }

  /** Takes one token from the caller's bucket, or from the IP's when there is no authenticated caller. */
  take(rpc: string, path: string, callerKey: string | undefined, ip: string): TakeResult {
    const rules = this.rulesFor(rpc, path);
    const t = this.now();
    const key = callerKey === undefined ? `${path}\u0000ip\u0000${ip}` : `${path}\u0000caller\u0000${callerKey}`;
    const wait = this.peek(key, callerKey === undefined ? rules.perIp : rules.perCaller, t);
    if (wait > 0) return { allowed: false, retryAfterMs: Math.ceil(wait), limitedBy: callerKey === undefined ? 'ip' : 'caller' };
    this.consume(key);
    return { allowed: true };
  }

  /** Refills the bucket and returns 0 if a token is available, else the ms until one is. */
  private peek(key: string, rule: RateRule, t: number): number {
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: rule.burst, updatedAt: t };
      this.buckets.set(key, b);
      if (this.buckets.size > this.maxBuckets) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    } else {
      b.tokens = Math.min(rule.burst, b.tokens + ((t - b.updatedAt) / 1000) * rule.ratePerSec);
      b.updatedAt = t;
      // Move to the back: Map order is our LRU order.
      this.buckets.delete(key);
      this.buckets.set(key, b);
    }
    return b.tokens >= 1 ? 0 : ((1 - b.tokens) / rule.ratePerSec) * 1000;
  }

  private consume(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens -= 1;
  }
}
