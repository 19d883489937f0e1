import type { ParsedIp } from './address.js';
import type { ParsedCidr } from './cidr.js';

/**
 * The Check hot path's CIDR index (P7): Check must answer from memory, in microseconds, for
 * every connection. Built once per snapshot, never mutated.
 *
 * Design: two CIDRs are either disjoint or nested, so the distinct CIDRs of a family form a
 * forest. A sweep over them (sorted by first address, broader first) cuts the address space
 * into elementary intervals, each owned by the deepest CIDR covering it. A lookup is one binary
 * search over the interval starts (plain numbers in typed arrays; four 32-bit words for IPv6),
 * then a walk up the parent chain: O(log n + matches), whatever the mix of prefix lengths.
 * Memory is O(n).
 */

/** One indexed item: the caller's value under its CIDR. Several values may share a CIDR. */
export interface MatchEntry<T> {
  readonly cidr: ParsedCidr;
  readonly value: T;
}

interface Group<T> {
  readonly cidr: ParsedCidr;
  readonly values: T[];
}

/** The groups of one family and the elementary intervals they cut the address space into. */
interface Table<T> {
  readonly groups: Group<T>[];
  /** Parent of each group (the closest strictly enclosing CIDR), or -1. */
  readonly parents: Int32Array;
  /** Interval starts, ascending: one number each for IPv4, four words each for IPv6. */
  readonly starts: Uint32Array;
  /** Deepest group owning each interval, or -1 for a gap. */
  readonly owners: Int32Array;
}

function maskWord(prefix: number, i: number): number {
  const bits = Math.max(0, Math.min(32, prefix - 32 * i));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Refuses a hand-made ParsedCidr whose ends do not match its prefix: the forest relies on it. */
function assertConsistent(c: ParsedCidr): void {
  const max = c.family === 4 ? 32 : 128;
  let ok = (c.family === 4 || c.family === 6) && Number.isInteger(c.prefix) && c.prefix >= 0 && c.prefix <= max;
  if (ok && c.family === 4) {
    const m = maskWord(c.prefix, 0);
    ok = Number.isInteger(c.first) && c.first >= 0 && c.first <= 0xffffffff && (c.first & ~m) === 0 && c.last === (c.first | ~m) >>> 0;
  } else if (ok && c.family === 6) {
    for (let i = 0; i < 4 && ok; i++) {
      const m = maskWord(c.prefix, i);
      const f = c.first[i] as number;
      ok = Number.isInteger(f) && f >= 0 && f <= 0xffffffff && (f & ~m) === 0 && c.last[i] === (f | ~m) >>> 0;
    }
  }
  if (!ok) throw new RangeError(`inconsistent CIDR (first/last do not match the prefix): ${String(c.canonical).slice(0, 64)}`);
}

/**
 * Groups equal CIDRs (input order kept inside a group) and sorts the groups by first address,
 * broader first, so that an enclosing CIDR always precedes the CIDRs it contains.
 */
function groupSorted<T>(items: MatchEntry<T>[], words: 1 | 4): Group<T>[] {
  const n = items.length;
  const first = new Uint32Array(n * words);
  const prefix = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = (items[i] as MatchEntry<T>).cidr;
    prefix[i] = c.prefix;
    if (c.family === 4) first[i] = c.first;
    else first.set(c.first, i * 4);
  }
  const cmp = (a: number, b: number): number => {
    for (let k = 0; k < words; k++) {
      const d = first[a * words + k]! - first[b * words + k]!;
      if (d !== 0) return d;
    }
    return prefix[a]! - prefix[b]!;
  };
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => cmp(a, b) || a - b);
  const groups: Group<T>[] = [];
  let prev = -1;
  for (const i of order) {
    const item = items[i] as MatchEntry<T>;
    if (prev !== -1 && cmp(prev, i) === 0) (groups[groups.length - 1] as Group<T>).values.push(item.value);
    else groups.push({ cidr: item.cidr, values: [item.value] });
    prev = i;
  }
  return groups;
}

/**
 * The laminar sweep over sorted groups: a stack of open CIDRs; each group's parent is the top
 * of the stack when it opens. Boundaries: a group's first address (owned by the group) and the
 * address after its last (owned by the enclosing group); equal boundaries keep the last owner.
 */
function buildTable<T>(groups: Group<T>[], words: 1 | 4): Table<T> {
  const g = groups.length;
  const first = new Uint32Array(g * words);
  const last = new Uint32Array(g * words);
  for (let i = 0; i < g; i++) {
    const c = (groups[i] as Group<T>).cidr;
    if (c.family === 4) {
      first[i] = c.first;
      last[i] = c.last;
    } else {
      first.set(c.first, i * 4);
      last.set(c.last, i * 4);
    }
  }
  const parents = new Int32Array(g);
  const starts = new Uint32Array(2 * g * words);
  const owners = new Int32Array(2 * g);
  let m = 0;
  const at = new Uint32Array(words);
  const emit = (owner: number) => {
    if (m > 0) {
      let same = true;
      for (let k = 0; k < words && same; k++) same = starts[(m - 1) * words + k] === at[k];
      if (same) {
        owners[m - 1] = owner;
        return;
      }
    }
    starts.set(at, m * words);
    owners[m++] = owner;
  };
  /** Emits the boundary after group t's last address, unless t ends at the top of the space. */
  const close = (t: number, owner: number) => {
    let carry = true;
    for (let k = words - 1; k >= 0; k--) {
      const w = last[t * words + k]!;
      if (carry) {
        carry = w === 0xffffffff;
        at[k] = carry ? 0 : w + 1;
      } else at[k] = w;
    }
    if (!carry) emit(owner);
  };
  /** True if group a ends before group b starts. */
  const endsBefore = (a: number, b: number): boolean => {
    for (let k = 0; k < words; k++) {
      const x = last[a * words + k]!;
      const y = first[b * words + k]!;
      if (x !== y) return x < y;
    }
    return false;
  };
  const stack = new Int32Array(words === 1 ? 34 : 130);
  let depth = 0;
  for (let i = 0; i < g; i++) {
    while (depth > 0 && endsBefore(stack[depth - 1]!, i)) {
      const t = stack[--depth]!;
      close(t, depth > 0 ? stack[depth - 1]! : -1);
    }
    parents[i] = depth > 0 ? stack[depth - 1]! : -1;
    for (let k = 0; k < words; k++) at[k] = first[i * words + k]!;
    emit(i);
    stack[depth++] = i;
  }
  while (depth > 0) {
    const t = stack[--depth]!;
    close(t, depth > 0 ? stack[depth - 1]! : -1);
  }
  return { groups, parents, starts: starts.slice(0, m * words), owners: owners.slice(0, m) };
}

/**
 * An immutable index of values by CIDR. `lookup(ip)` returns every value whose CIDR contains
 * the address, longest prefix first (values of one CIDR in input order), so the caller can
 * apply "longest prefix wins" or any other rule. IPv4 CIDRs only ever match IPv4 addresses
 * (IPv4-mapped IPv6 arrives here already folded to IPv4), IPv6 only IPv6.
 */
export class MatchIndex<T> {
  /** Number of values indexed. */
  readonly size: number;
  private readonly v4: Table<T>;
  private readonly v6: Table<T>;

  /** Builds the index in O(n log n). @throws RangeError for a CIDR whose ends do not match its prefix. */
  constructor(entries: ReadonlyArray<MatchEntry<T>>) {
    const e4: MatchEntry<T>[] = [];
    const e6: MatchEntry<T>[] = [];
    for (const e of entries) {
      assertConsistent(e.cidr);
      (e.cidr.family === 4 ? e4 : e6).push(e);
    }
    this.size = e4.length + e6.length;
    this.v4 = buildTable(groupSorted(e4, 1), 1);
    this.v6 = buildTable(groupSorted(e6, 4), 4);
    Object.freeze(this);
  }

  /** The deepest group containing `ip` in its family's table, or -1. */
  private static deepest<T>(table: Table<T>, ip: ParsedIp): number {
    const s = table.starts;
    let lo = 0;
    let hi = table.owners.length - 1;
    let found = -1;
    if (ip.family === 4) {
      const v = ip.value;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (s[mid]! <= v) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
    } else {
      const [w0, w1, w2, w3] = ip.words;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const b = mid * 4;
        const a0 = s[b]!;
        let le: boolean;
        if (a0 !== w0) le = a0 < w0;
        else {
          const a1 = s[b + 1]!;
          if (a1 !== w1) le = a1 < w1;
          else {
            const a2 = s[b + 2]!;
            le = a2 !== w2 ? a2 < w2 : s[b + 3]! <= w3;
          }
        }
        if (le) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
    }
    return found === -1 ? -1 : table.owners[found]!;
  }

  /** Every value whose CIDR contains `ip`, longest prefix first; a new array (empty when none). */
  lookup(ip: ParsedIp): T[] {
    const table = ip.family === 4 ? this.v4 : this.v6;
    const out: T[] = [];
    for (let g = MatchIndex.deepest(table, ip); g !== -1; g = table.parents[g]!) {
      for (const v of table.groups[g]!.values) out.push(v);
    }
    return out;
  }

  /** The first value, longest prefix first, that `accept` takes; undefined when none. Allocates nothing. */
  lookupFirst(ip: ParsedIp, accept: (value: T, cidr: ParsedCidr) => boolean): T | undefined {
    const table = ip.family === 4 ? this.v4 : this.v6;
    for (let g = MatchIndex.deepest(table, ip); g !== -1; g = table.parents[g]!) {
      const group = table.groups[g]!;
      for (const v of group.values) if (accept(v, group.cidr)) return v;
    }
    return undefined;
  }

  /** True if any CIDR contains `ip`. */
  has(ip: ParsedIp): boolean {
    return MatchIndex.deepest(ip.family === 4 ? this.v4 : this.v6, ip) !== -1;
  }
}
