// The allowlist benchmarks' data set, generated deterministically (seeded PRNG): enumerated CIDRs
// (IPv4 and IPv6, realistic prefix lengths, some nested several levels deep), daily home-worker
// IPs (several per account, a few shared by two accounts), and a pre-generated mix of Check
// queries (hits and misses, IPv4, IPv6, IPv4-mapped IPv6, daily IPs with or without their account).
import { AllowlistIndex } from '../src/domain/allowlist-index.js';
import { cidrFromIp, formatIpv4, formatIpv6, ipFromV4Number, ipFromV6Words, nextCutoff, type Ipv6Words, type ParsedCidr } from '@gatehouse/ip';
import type { AllowlistEntry, DailyIp, EntryScope, Environment } from '../src/domain/model.js';

/** What a query is meant to exercise. */
export type QueryKind = 'v4-entry' | 'v6-entry' | 'mapped-v6-entry' | 'daily-own-account' | 'daily-no-account' | 'daily-other-account' | 'v4-miss' | 'v6-miss';

export interface Query {
  kind: QueryKind;
  ip: string;
  accountId: string | undefined;
  env: Environment;
}

export interface BenchData {
  entries: AllowlistEntry[];
  dailies: DailyIp[];
  queries: Query[];
  /** Entry counts: IPv4, IPv6, nested (inside another entry), expired. */
  stats: { v4: number; v6: number; nested: number; expired: number; sharedDailyIps: number; accounts: number };
}

/** Query mix (weights sum to 1). */
const MIX: ReadonlyArray<[QueryKind, number]> = [
  ['v4-entry', 0.33],
  ['v6-entry', 0.2],
  ['mapped-v6-entry', 0.05],
  ['daily-own-account', 0.12],
  ['daily-no-account', 0.03],
  ['daily-other-account', 0.02],
  ['v4-miss', 0.15],
  ['v6-miss', 0.1],
];

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function maskWord(prefix: number, i: number): number {
  const bits = Math.max(0, Math.min(32, prefix - 32 * i));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Picks from weighted choices. */
function pick<T>(rand: () => number, choices: ReadonlyArray<readonly [T, number]>): T {
  let r = rand() * choices.reduce((a, [, w]) => a + w, 0);
  for (const [v, w] of choices) {
    r -= w;
    if (r < 0) return v;
  }
  return (choices[choices.length - 1] as readonly [T, number])[0];
}

export function generate(opts: { entries: number; dailies: number; queries: number; now: Date; seed?: number }): BenchData {
  const rand = prng(opts.seed ?? 20240611);
  const u32 = () => Math.floor(rand() * 4294967296) >>> 0;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const now = opts.now.getTime();
  const DAY = 86_400_000;

  /** A random IPv4 address in 1.0.0.0–223.255.255.255 (unicast space). */
  const randomV4 = () => ((int(1, 223) << 24) | (u32() & 0xffffff)) >>> 0;
  /** A random global unicast IPv6 address (2000::/3), never IPv4-mapped. */
  const randomV6 = (): Ipv6Words => [((0x2000_0000 | (u32() & 0x1fffffff)) >>> 0) as number, u32(), u32(), u32()];
  /** A random address inside a CIDR. */
  const inside = (c: ParsedCidr): { v4?: number; v6?: Ipv6Words } => {
    if (c.family === 4) return { v4: (c.first + Math.floor(rand() * (c.last - c.first + 1))) >>> 0 };
    const w = [0, 1, 2, 3].map((i) => ((c.first[i] as number) | (u32() & ~maskWord(c.prefix, i))) >>> 0);
    return { v6: w as unknown as Ipv6Words };
  };
  const cidrOf = (a: { v4?: number; v6?: Ipv6Words }, prefix: number): ParsedCidr =>
    a.v4 !== undefined ? cidrFromIp(ipFromV4Number(a.v4), prefix) : cidrFromIp(ipFromV6Words(a.v6 as Ipv6Words), prefix);

  // --- Enumerated CIDRs: 60% IPv4, 40% IPv6. Some broad parents (/16–/22, /48) with entries
  // nested inside them (and inside each other), the rest standalone at the usual prefixes.
  const cidrs: ParsedCidr[] = [];
  const seen = new Set<string>();
  let nested = 0;
  const count = { 4: 0, 6: 0 };
  const add = (c: ParsedCidr, isNested: boolean): boolean => {
    if (seen.has(c.canonical)) return false;
    seen.add(c.canonical);
    cidrs.push(c);
    count[c.family]++;
    if (isNested) nested++;
    return true;
  };
  const n4 = Math.round(opts.entries * 0.6);
  const n6 = opts.entries - n4;
  const parents4: ParsedCidr[] = [];
  const parents6: ParsedCidr[] = [];
  while (parents4.length < Math.max(1, Math.round(n4 * 0.035))) {
    const c = cidrOf({ v4: randomV4() }, pick(rand, [[16, 0.3], [18, 0.2], [20, 0.25], [22, 0.25]] as const));
    if (add(c, false)) parents4.push(c);
  }
  while (parents6.length < Math.max(1, Math.round(n6 * 0.025))) {
    const c = cidrOf({ v6: randomV6() }, 48);
    if (add(c, false)) parents6.push(c);
  }
  // Nested: a third of each family, inside a parent or inside an earlier nested entry (deeper chains).
  const nestedPool4 = [...parents4];
  const nestedPool6 = [...parents6];
  for (let target = count[4] + Math.round(n4 * 0.33); count[4] < target; ) {
    const parent = nestedPool4[int(0, nestedPool4.length - 1)] as ParsedCidr;
    if (parent.prefix >= 32) continue;
    const prefix = Math.min(32, parent.prefix + pick(rand, [[2, 0.2], [4, 0.3], [8, 0.3], [32, 0.2]] as const));
    const c = cidrOf(inside(parent), prefix);
    if (add(c, true) && c.prefix < 32) nestedPool4.push(c);
  }
  for (let target = count[6] + Math.round(n6 * 0.3); count[6] < target; ) {
    const parent = nestedPool6[int(0, nestedPool6.length - 1)] as ParsedCidr;
    if (parent.prefix >= 128) continue;
    const prefix = Math.min(128, parent.prefix + pick(rand, [[8, 0.3], [16, 0.35], [48, 0.1], [80, 0.25]] as const));
    const c = cidrOf(inside(parent), prefix);
    if (add(c, true) && c.prefix < 128) nestedPool6.push(c);
  }
  while (count[4] < n4) {
    const prefix = pick(rand, [[16, 0.02], [20, 0.05], [22, 0.08], [24, 0.3], [27, 0.07], [28, 0.08], [30, 0.05], [32, 0.35]] as const);
    add(cidrOf({ v4: randomV4() }, prefix), false);
  }
  while (count[6] < n6) {
    const prefix = pick(rand, [[48, 0.2], [56, 0.2], [64, 0.35], [96, 0.05], [112, 0.05], [128, 0.15]] as const);
    add(cidrOf({ v6: randomV6() }, prefix), false);
  }

  let expired = 0;
  const entries: AllowlistEntry[] = cidrs.map((c, i) => {
    const scope = pick<EntryScope>(rand, [['all', 0.4], ['live', 0.4], ['staging', 0.2]]);
    const e = rand();
    const expiresAt = e < 0.03 ? new Date(now - int(1, 10 * 24) * 3_600_000) : e < 0.28 ? new Date(now + int(1, 90) * DAY) : null;
    if (expiresAt && expiresAt.getTime() <= now) expired++;
    return {
      entryId: `ent_bench${String(i).padStart(11, '0')}`,
      cidr: c.canonical,
      label: `bench ${c.family === 4 ? 'office' : 'vpn'} ${i}`,
      scope,
      expiresAt,
      createdBy: { accountId: 'acc_officer', email: 'officer@bank.example' },
      reason: 'benchmark data set',
      createdAt: new Date(now - int(1, 400) * DAY),
      removedAt: null,
      removedBy: null,
      removeReason: null,
      activeKey: `${c.canonical}|${scope}`,
    };
  });

  // --- Daily IPs: three per account (slots 1..3), 75% IPv4; 5% reuse another account's IP
  // (a shared home or a carrier NAT), so some IPs carry two registrations.
  const cutoff = nextCutoff(new Date(now + 2 * 3_600_000), 'UTC', 4);
  const accounts = Math.ceil(opts.dailies / 3);
  const dailies: DailyIp[] = [];
  const dailyIps = new Set<string>();
  let shared = 0;
  for (let k = 0; k < opts.dailies; k++) {
    const a = Math.floor(k / 3);
    let ip: string;
    if (k > 6 && rand() < 0.05) {
      ip = (dailies[int(0, Math.max(0, (a - 1) * 3 - 1))] as DailyIp).ip;
      shared++;
    } else {
      do ip = rand() < 0.75 ? formatIpv4(randomV4()) : formatIpv6(randomV6());
      while (dailyIps.has(ip));
    }
    dailyIps.add(ip);
    dailies.push({
      dailyIpId: `dip_bench${String(k).padStart(11, '0')}`,
      ip,
      accountId: `acc_${String(a).padStart(5, '0')}`,
      email: `employee${a}@bank.example`,
      scope: a % 3 === 0 ? 'all' : 'staging',
      registeredAt: new Date(now - int(0, 8 * 3600) * 1000),
      expiresAt: cutoff,
      slot: (k % 3) + 1,
    });
  }

  // --- Queries.
  const index = new AllowlistIndex(entries, []);
  const v4 = cidrs.filter((c) => c.family === 4);
  const v6 = cidrs.filter((c) => c.family === 6);
  const anyAccount = () => `acc_${String(int(0, accounts - 1)).padStart(5, '0')}`;
  const maybeAccount = () => (rand() < 0.5 ? anyAccount() : undefined);
  const isMiss = (ip: string) => index.entriesContaining(ip).length === 0 && !dailyIps.has(ip);
  const queries: Query[] = [];
  for (let i = 0; i < opts.queries; i++) {
    const kind = pick(rand, MIX);
    const env: Environment = rand() < 0.7 ? 'live' : 'staging';
    switch (kind) {
      case 'v4-entry':
      case 'mapped-v6-entry': {
        const text = formatIpv4(inside(v4[int(0, v4.length - 1)] as ParsedCidr).v4 as number);
        queries.push({ kind, ip: kind === 'v4-entry' ? text : `::ffff:${text}`, accountId: maybeAccount(), env });
        break;
      }
      case 'v6-entry':
        queries.push({ kind, ip: formatIpv6(inside(v6[int(0, v6.length - 1)] as ParsedCidr).v6 as Ipv6Words), accountId: maybeAccount(), env });
        break;
      case 'daily-own-account':
      case 'daily-no-account':
      case 'daily-other-account': {
        const d = dailies[int(0, dailies.length - 1)] as DailyIp;
        let accountId: string | undefined;
        if (kind === 'daily-own-account') accountId = d.accountId;
        else if (kind === 'daily-other-account') do accountId = anyAccount();
        while (accountId === d.accountId);
        queries.push({ kind, ip: d.ip, accountId, env });
        break;
      }
      case 'v4-miss':
      case 'v6-miss': {
        let ip: string;
        do ip = kind === 'v4-miss' ? formatIpv4(randomV4()) : formatIpv6(randomV6());
        while (!isMiss(ip));
        queries.push({ kind, ip, accountId: maybeAccount(), env });
        break;
      }
    }
  }
  return { entries, dailies, queries, stats: { v4: v4.length, v6: v6.length, nested, expired, sharedDailyIps: shared, accounts } };
}
