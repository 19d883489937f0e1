import { MatchIndex, parseCidr, tryParseIp } from '@gatehouse/ip';
import type { AllowlistEntry, DailyIp, EntryScope, Environment } from './model.js';

/** Why Check decided as it did (allowlist.v1.CheckReason). */
export type CheckReason = 'enumerated_entry' | 'daily_entry' | 'no_match' | 'malformed_ip' | 'expired' | 'environment_mismatch' | 'other_account';

/** A Check answer. */
export interface CheckResult {
  allow: boolean;
  reason: CheckReason;
  /** The canonical form of the IP asked about ('' when malformed). */
  canonicalIp: string;
  entry?: AllowlistEntry;
  daily?: DailyIp;
  /** When the matching entry stops matching (null: never). */
  expiresAt: Date | null;
}

/** A decision and the interval in which it stays exactly what a fresh evaluation would give. */
interface CachedDecision {
  result: CheckResult;
  validFrom: number;
  validUntil: number;
}

/** The cached decisions for one IP: without an account, and per account. */
interface CacheSlot {
  anonymous?: CachedDecision;
  byAccount?: Map<string, CachedDecision>;
}

/** Most cached IPs per environment before the cache starts over (bounds memory under scans). */
const DECISION_CACHE_LIMIT = 100_000;

function scopeCovers(scope: EntryScope, env: Environment): boolean {
  return scope === 'all' || scope === env;
}

/**
 * The Check hot path (issue 5 item 4): an immutable in-memory snapshot of every active
 * enumerated entry (a prefix index per address family) and every unexpired daily IP (a map
 * by canonical IP). Check never reads the store; the refresher swaps in a new snapshot when the
 * change version moves. Expiry is compared with the clock at each Check, so an expired entry
 * denies from its first second, whatever the rebuild cadence or the store's TTL does.
 */
export class AllowlistIndex {
  private readonly cidrs: MatchIndex<AllowlistEntry>;
  private readonly daily = new Map<string, DailyIp[]>();
  private readonly liveCache = new Map<string, CacheSlot>();
  private readonly stagingCache = new Map<string, CacheSlot>();

  constructor(entries: readonly AllowlistEntry[], dailies: readonly DailyIp[]) {
    const items = [];
    for (const e of entries) {
      // Stored entries were validated when added; the minimum prefix is not re-applied here.
      const parsed = parseCidr(e.cidr, { minPrefixV4: 1, minPrefixV6: 1, normalize: false });
      items.push({ cidr: parsed.cidr, value: e });
    }
    this.cidrs = new MatchIndex(items);
    for (const d of dailies) {
      const list = this.daily.get(d.ip);
      if (list) list.push(d);
      else this.daily.set(d.ip, [d]);
    }
  }

  /** Every enumerated entry whose CIDR contains `ip` (any scope, expired included): overlaps and ListEntries' contains_ip. */
  entriesContaining(ip: string): AllowlistEntry[] {
    const parsed = tryParseIp(ip);
    return parsed ? this.cidrs.lookup(parsed) : [];
  }

  /** Number of enumerated entries and daily IPs in the snapshot. */
  get size(): { entries: number; daily: number } {
    let daily = 0;
    for (const l of this.daily.values()) daily += l.length;
    return { entries: this.cidrs.size, daily };
  }

  /**
   * Check(ip, account?, environment): ALLOW on an unexpired enumerated entry of that
   * environment, or on an unexpired daily IP (the named account's own when an account is given);
   * otherwise DENY with the most telling reason (expired > environment mismatch > other
   * account > no match). A malformed IP is an answer, not an error.
   */
  check(ip: string, accountId: string | undefined, env: Environment, now: Date): CheckResult {
    // Edge callers ask about the same addresses again and again: a decision is reused from the
    // instant it was made until the first instant any entry it looked at expires (the snapshot itself never changes; a change
    // builds a new snapshot with an empty cache), so the answer is exactly what a fresh
    // evaluation would give.
    const t = now.getTime();
    const cache = env === 'live' ? this.liveCache : this.stagingCache;
    // Keyed by IP, then account ('' for none): no string building on the hot path.
    let slot = cache.get(ip);
    const hit = accountId === undefined ? slot?.anonymous : slot?.byAccount?.get(accountId);
    if (hit !== undefined && t >= hit.validFrom && t < hit.validUntil) return hit.result;
    const validity = { until: Infinity };
    const result = this.evaluate(ip, accountId, env, t, validity);
    const decision: CachedDecision = { result, validFrom: t, validUntil: validity.until };
    if (!slot) {
      if (cache.size >= DECISION_CACHE_LIMIT) cache.clear();
      slot = {};
      cache.set(ip, slot);
    }
    if (accountId === undefined) slot.anonymous = decision;
    else (slot.byAccount ??= new Map()).set(accountId, decision);
    return result;
  }

  private evaluate(ip: string, accountId: string | undefined, env: Environment, t: number, validity: { until: number }): CheckResult {
    const parsed = tryParseIp(ip);
    if (!parsed) return { allow: false, reason: 'malformed_ip', canonicalIp: '', expiresAt: null };
    const seen = (at: Date | null) => {
      if (at !== null && at.getTime() > t && at.getTime() < validity.until) validity.until = at.getTime();
    };
    const canonicalIp = parsed.canonical;
    let sawExpired = false;
    let sawOtherEnv = false;
    let best: AllowlistEntry | undefined;
    for (const e of this.cidrs.lookup(parsed)) {
      seen(e.expiresAt);
      if (e.expiresAt !== null && e.expiresAt.getTime() <= t) {
        sawExpired = true;
        continue;
      }
      if (!scopeCovers(e.scope, env)) {
        sawOtherEnv = true;
        continue;
      }
      // Of several matches, report the one that lasts longest (null = forever).
      if (!best || (best.expiresAt !== null && (e.expiresAt === null || e.expiresAt > best.expiresAt))) best = e;
    }
    if (best) return { allow: true, reason: 'enumerated_entry', canonicalIp, entry: best, expiresAt: best.expiresAt };

    let sawOtherAccount = false;
    let daily: DailyIp | undefined;
    for (const d of this.daily.get(canonicalIp) ?? []) {
      seen(d.expiresAt);
      if (d.expiresAt.getTime() <= t) {
        sawExpired = true;
        continue;
      }
      if (!scopeCovers(d.scope, env)) {
        sawOtherEnv = true;
        continue;
      }
      if (accountId !== undefined && d.accountId !== accountId) {
        sawOtherAccount = true;
        continue;
      }
      if (!daily || d.expiresAt > daily.expiresAt) daily = d;
    }
    if (daily) return { allow: true, reason: 'daily_entry', canonicalIp, daily, expiresAt: daily.expiresAt };
    const reason: CheckReason = sawExpired ? 'expired' : sawOtherEnv ? 'environment_mismatch' : sawOtherAccount ? 'other_account' : 'no_match';
    return { allow: false, reason, canonicalIp, expiresAt: null };
  }
}
