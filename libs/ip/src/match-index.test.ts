import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MatchIndex,
  cidrFromIp,
  ipFromV4Number,
  ipFromV6Words,
  parseCidr,
  parseIp,
  type Ipv6Words,
  type MatchEntry,
  type ParsedCidr,
  type ParsedIp,
} from './index.js';

const c = (text: string): ParsedCidr => parseCidr(text, { minPrefixV4: 1, minPrefixV6: 1, normalize: false }).cidr;

function fixture(): MatchIndex<string> {
  return new MatchIndex([
    { cidr: c('10.0.0.0/8'), value: 'A /8' },
    { cidr: c('10.1.2.3/32'), value: 'D /32' },
    { cidr: c('10.1.0.0/16'), value: 'B /16' },
    { cidr: c('192.168.0.0/16'), value: 'E' },
    { cidr: c('10.1.2.0/24'), value: 'C /24' },
    { cidr: c('10.1.0.0/16'), value: 'B2 /16 (same CIDR, added later)' },
    { cidr: c('2001:db8::/32'), value: 'F /32' },
    { cidr: c('2001:db8:1::/48'), value: 'G /48' },
    { cidr: c('10.3.0.0/16'), value: 'H /16' },
  ]);
}

test('nested CIDRs: every containing entry, longest prefix first, same CIDR in insertion order', () => {
  const idx = fixture();
  const at = (t: string) => idx.lookup(parseIp(t));
  assert.deepEqual(at('10.1.2.3'), ['D /32', 'C /24', 'B /16', 'B2 /16 (same CIDR, added later)', 'A /8']);
  assert.deepEqual(at('10.1.2.4'), ['C /24', 'B /16', 'B2 /16 (same CIDR, added later)', 'A /8']);
  assert.deepEqual(at('10.1.2.2'), ['C /24', 'B /16', 'B2 /16 (same CIDR, added later)', 'A /8']);
  assert.deepEqual(at('10.1.3.0'), ['B /16', 'B2 /16 (same CIDR, added later)', 'A /8']);
  assert.deepEqual(at('10.1.1.255'), ['B /16', 'B2 /16 (same CIDR, added later)', 'A /8']);
  assert.deepEqual(at('10.2.0.0'), ['A /8']);
  assert.deepEqual(at('10.3.255.255'), ['H /16', 'A /8']);
  assert.deepEqual(at('10.4.0.0'), ['A /8']);
  assert.deepEqual(at('10.0.0.0'), ['A /8']);
  assert.deepEqual(at('10.255.255.255'), ['A /8']);
  assert.deepEqual(at('9.255.255.255'), []);
  assert.deepEqual(at('11.0.0.0'), []);
  assert.deepEqual(at('192.168.255.255'), ['E']);
  assert.deepEqual(at('192.169.0.0'), []);
  assert.equal(idx.size, 9);
});

test('families never cross: mapped IPv6 matches IPv4 entries, other transition forms match nothing IPv4', () => {
  const idx = fixture();
  const at = (t: string) => idx.lookup(parseIp(t));
  assert.deepEqual(at('::ffff:10.1.2.3'), ['D /32', 'C /24', 'B /16', 'B2 /16 (same CIDR, added later)', 'A /8']);
  assert.deepEqual(at('0:0:0:0:0:ffff:a01:203'), at('10.1.2.3'));
  assert.deepEqual(at('::10.1.2.3'), []);
  assert.deepEqual(at('64:ff9b::10.1.2.3'), []);
  assert.deepEqual(at('2002:a01:203::1'), []);
  assert.deepEqual(at('2001:db8:1::5'), ['G /48', 'F /32']);
  assert.deepEqual(at('2001:db8:1:ffff:ffff:ffff:ffff:ffff'), ['G /48', 'F /32']);
  assert.deepEqual(at('2001:db8:2::'), ['F /32']);
  assert.deepEqual(at('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'), ['F /32']);
  assert.deepEqual(at('2001:db9::'), []);
  assert.deepEqual(at('2001:db7:ffff:ffff:ffff:ffff:ffff:ffff'), []);
  assert.deepEqual(at('::'), []);
  // an IPv6 entry covering ::ffff:0:0/96 never matches IPv4 traffic
  const six = new MatchIndex([{ cidr: c('::/64'), value: 'low v6' }]);
  assert.deepEqual(six.lookup(parseIp('::ffff:10.0.0.1')), []);
  assert.deepEqual(six.lookup(parseIp('::10.0.0.1')), ['low v6']);
});

test('lookupFirst returns the longest-prefix value the caller accepts, and has() any match', () => {
  const idx = fixture();
  const ip = parseIp('10.1.2.3');
  assert.equal(
    idx.lookupFirst(ip, (v) => v.startsWith('B')),
    'B /16',
  );
  assert.equal(
    idx.lookupFirst(ip, (v) => v.includes('/8')),
    'A /8',
  );
  assert.equal(
    idx.lookupFirst(ip, () => false),
    undefined,
  );
  const seen: string[] = [];
  idx.lookupFirst(ip, (v, cidr) => {
    seen.push(`${v}@${cidr.canonical}`);
    return false;
  });
  assert.deepEqual(seen, ['D /32@10.1.2.3/32', 'C /24@10.1.2.0/24', 'B /16@10.1.0.0/16', 'B2 /16 (same CIDR, added later)@10.1.0.0/16', 'A /8@10.0.0.0/8']);
  assert.equal(idx.has(ip), true);
  assert.equal(idx.has(parseIp('11.0.0.0')), false);
  assert.equal(idx.has(parseIp('2001:db8::')), true);
});

test('the ends of the address space and /0 entries', () => {
  const idx = new MatchIndex([
    { cidr: cidrFromIp(parseIp('0.0.0.0'), 0), value: 'all v4' },
    { cidr: c('255.255.0.0/16'), value: 'top /16' },
    { cidr: c('255.255.255.255/32'), value: 'top /32' },
    { cidr: c('0.0.0.0/32'), value: 'bottom /32' },
    { cidr: c('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128'), value: 'top v6' },
    { cidr: c('ffff::/16'), value: 'top v6 /16' },
    { cidr: c('::/128'), value: 'bottom v6' },
  ]);
  const at = (t: string) => idx.lookup(parseIp(t));
  assert.deepEqual(at('255.255.255.255'), ['top /32', 'top /16', 'all v4']);
  assert.deepEqual(at('255.255.255.254'), ['top /16', 'all v4']);
  assert.deepEqual(at('255.254.255.255'), ['all v4']);
  assert.deepEqual(at('0.0.0.0'), ['bottom /32', 'all v4']);
  assert.deepEqual(at('0.0.0.1'), ['all v4']);
  assert.deepEqual(at('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), ['top v6', 'top v6 /16']);
  assert.deepEqual(at('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe'), ['top v6 /16']);
  assert.deepEqual(at('fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), []);
  assert.deepEqual(at('::'), ['bottom v6']);
  assert.deepEqual(at('::1'), []);
});

test('an empty index matches nothing', () => {
  const idx = new MatchIndex<string>([]);
  assert.equal(idx.size, 0);
  assert.deepEqual(idx.lookup(parseIp('10.0.0.1')), []);
  assert.deepEqual(idx.lookup(parseIp('2001:db8::1')), []);
  assert.equal(
    idx.lookupFirst(parseIp('10.0.0.1'), () => true),
    undefined,
  );
});

test('the index is immutable: neither the input array nor a returned array can change later answers', () => {
  const entries: MatchEntry<string>[] = [{ cidr: c('10.0.0.0/8'), value: 'A' }];
  const idx = new MatchIndex(entries);
  entries.push({ cidr: c('11.0.0.0/8'), value: 'B' });
  assert.deepEqual(idx.lookup(parseIp('11.0.0.1')), []);
  const got = idx.lookup(parseIp('10.0.0.1'));
  got.push('injected');
  got.length = 0;
  assert.deepEqual(idx.lookup(parseIp('10.0.0.1')), ['A']);
  assert.ok(Object.isFrozen(idx));
});

test('a hand-made CIDR whose ends disagree with its prefix is refused at build time', () => {
  const good = c('10.1.0.0/16');
  assert.throws(() => new MatchIndex([{ cidr: { ...good, first: 0x0a010203 } as ParsedCidr, value: 1 }]), RangeError);
  assert.throws(() => new MatchIndex([{ cidr: { ...good, last: 0x0affffff } as ParsedCidr, value: 1 }]), RangeError);
  assert.throws(() => new MatchIndex([{ cidr: { ...good, prefix: 33 } as ParsedCidr, value: 1 }]), RangeError);
  const g6 = c('2001:db8::/48');
  assert.throws(() => new MatchIndex([{ cidr: { ...g6, first: [0x20010db8, 0, 0, 1] } as ParsedCidr, value: 1 }]), RangeError);
});

// ---- Randomised cross-check against a brute-force scan (independent big-integer arithmetic). ----

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const V6_MAX = (1n << 128n) - 1n;
const toBig = (w: Ipv6Words) => (BigInt(w[0]) << 96n) | (BigInt(w[1]) << 64n) | (BigInt(w[2]) << 32n) | BigInt(w[3]);
const fromBig = (b: bigint): Ipv6Words => [Number((b >> 96n) & 0xffffffffn), Number((b >> 64n) & 0xffffffffn), Number((b >> 32n) & 0xffffffffn), Number(b & 0xffffffffn)];

interface Oracle {
  family: 4 | 6;
  lo: bigint;
  hi: bigint;
  prefix: number;
  order: number;
}

test('10,000 random nested/overlapping entries agree with a brute-force scan on 20,000 addresses, boundaries included', () => {
  const rnd = prng(20260329);
  const pick = <X>(xs: readonly X[]) => xs[rnd() % xs.length] as X;
  // Anchors make entries cluster, so nesting, duplicates and shared boundaries are frequent.
  const anchors4 = Array.from({ length: 40 }, () => rnd());
  const anchors6: Ipv6Words[] = Array.from({ length: 40 }, () => [0x20010db8 + (rnd() % 4), rnd() % 8, rnd(), rnd()]);
  anchors6.push([0, 0, 0, 0], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0, 0, 0, 0x10000]);
  anchors4.push(0, 0xffffffff);

  const entries: MatchEntry<number>[] = [];
  const oracle: Oracle[] = [];
  for (let i = 0; i < 10_000; i++) {
    let cidr: ParsedCidr;
    if (i > 0 && rnd() % 20 === 0) {
      cidr = (entries[rnd() % entries.length] as MatchEntry<number>).cidr; // same CIDR again
    } else if (rnd() % 2 === 0) {
      const prefix = rnd() % 500 === 0 ? 4 + (rnd() % 4) : 8 + (rnd() % 25);
      const noise = rnd() >>> (rnd() % 33 === 32 ? 0 : (rnd() % 32) + 1);
      cidr = cidrFromIp(ipFromV4Number((pick(anchors4) ^ (noise & (rnd() % 2 ? 0xffff : 0xff))) >>> 0), prefix);
    } else {
      const prefix = rnd() % 500 === 0 ? 8 + (rnd() % 24) : 32 + (rnd() % 97);
      const a = pick(anchors6);
      const words: Ipv6Words = [a[0], (a[1] ^ (rnd() % 3 === 0 ? rnd() % 16 : 0)) >>> 0, (a[2] ^ (rnd() % 2 ? rnd() % 256 : 0)) >>> 0, (a[3] ^ (rnd() % 2 ? rnd() % 65536 : 0)) >>> 0];
      const ip = ipFromV6Words(words);
      // mapped words fold to IPv4; keep the IPv6 share high by skipping those
      if (ip.family === 4) {
        i--;
        continue;
      }
      cidr = cidrFromIp(ip, prefix);
    }
    entries.push({ cidr, value: i });
    const lo = cidr.family === 4 ? BigInt(cidr.first) : toBig(cidr.first);
    const span = (1n << BigInt((cidr.family === 4 ? 32 : 128) - cidr.prefix)) - 1n;
    oracle.push({ family: cidr.family, lo, hi: lo + span, prefix: cidr.prefix, order: entries.length - 1 });
  }
  // Sanity of the fixture itself: it must really contain nesting and duplicates.
  const idx = new MatchIndex(entries);
  assert.equal(idx.size, 10_000);

  const probes: ParsedIp[] = [];
  const v4At = (b: bigint) => (b >= 0n && b <= 0xffffffffn ? probes.push(ipFromV4Number(Number(b))) : 0);
  const v6At = (b: bigint) => {
    if (b < 0n || b > V6_MAX) return;
    const ip = ipFromV6Words(fromBig(b));
    if (ip.family === 6) probes.push(ip);
  };
  while (probes.length < 20_000) {
    const kind = rnd() % 10;
    const o = oracle[rnd() % oracle.length] as Oracle;
    const at = o.family === 4 ? v4At : v6At;
    if (kind < 6) {
      // boundaries: first, last, first-1, last+1, and one inside
      at(o.lo);
      at(o.hi);
      at(o.lo - 1n);
      at(o.hi + 1n);
      const span = o.hi - o.lo + 1n;
      at(o.lo + (BigInt(rnd()) * BigInt(rnd())) % span);
    } else if (kind < 8) {
      v4At(BigInt(rnd()));
    } else {
      v6At(toBig([rnd(), rnd(), rnd(), rnd()]));
      v6At(toBig(pick(anchors6)) ^ BigInt(rnd() % 4096));
    }
  }

  const oracle4 = oracle.filter((o) => o.family === 4);
  const oracle6 = oracle.filter((o) => o.family === 6);
  let matched = 0;
  let nestedHits = 0;
  let checked = 0;
  for (const ip of probes) {
    const b = ip.family === 4 ? BigInt(ip.value) : toBig(ip.words);
    const expected = (ip.family === 4 ? oracle4 : oracle6)
      .filter((o) => o.lo <= b && b <= o.hi)
      .sort((x, y) => y.prefix - x.prefix || x.order - y.order)
      .map((o) => o.order);
    const got = idx.lookup(ip);
    assert.deepEqual(got, expected, `lookup(${ip.canonical})`);
    const want = expected.find((v) => v % 3 === 0);
    assert.equal(
      idx.lookupFirst(ip, (v) => v % 3 === 0),
      want,
      `lookupFirst(${ip.canonical})`,
    );
    if (expected.length > 0) matched++;
    if (new Set(expected.map((v) => oracle[v]?.prefix)).size > 1) nestedHits++;
    checked++;
  }
  assert.ok(checked >= 20_000);
  // The probes exercised both outcomes and real nesting (not a vacuous pass).
  assert.ok(matched > 5_000 && checked - matched > 2_000, `matched ${matched} of ${checked}`);
  assert.ok(nestedHits > 1_000, `nested hits ${nestedHits}`);
});
