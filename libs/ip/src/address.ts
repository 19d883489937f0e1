import { InvalidArgumentError } from '@gatehouse/core';

/**
 * Strict IP address parsing for the allowlist (P7). The contract (allowlist_service.proto,
 * "Addresses") accepts only dotted-quad IPv4 and RFC 4291 IPv6 text; everything an OS resolver
 * would "helpfully" repair (octal or hex octets, short forms, integers, zone ids, whitespace) is
 * refused, because two components that read the same text differently is how allowlists are
 * bypassed. Parsing is done by hand: domain code may not use node:net.
 */

/** An IPv6 address as four unsigned 32-bit words, most significant first (plain numbers: fast to compare). */
export type Ipv6Words = readonly [number, number, number, number];

/** An IPv4 address; `value` is the unsigned 32-bit number (0 .. 2^32-1). */
export interface ParsedIpv4 {
  readonly family: 4;
  readonly value: number;
  /** Dotted quad, e.g. "192.0.2.1". */
  readonly canonical: string;
  /** True when the text was IPv4-mapped IPv6 (`::ffff:a.b.c.d` in any spelling), folded to IPv4. */
  readonly mappedFromV6: boolean;
}

/** An IPv6 address that is not IPv4-mapped (those are always folded to {@link ParsedIpv4}). */
export interface ParsedIpv6 {
  readonly family: 6;
  readonly words: Ipv6Words;
  /** RFC 5952: lower case, no leading zeros, longest zero run (first on a tie, 2+ groups) as `::`, all hexadecimal. */
  readonly canonical: string;
  readonly mappedFromV6: false;
}

/** A parsed address. IPv4-mapped IPv6 is IPv4, so it matches IPv4 entries and nothing else. */
export type ParsedIp = ParsedIpv4 | ParsedIpv6;

/** Longest text ever considered; anything longer is refused before any other work. */
export const MAX_ADDRESS_TEXT_LENGTH = 64;

/** @internal Raw parse result: the v6 words are kept even for mapped addresses (CIDR parsing needs them). */
export type RawAddress = { family: 4; value: number } | { family: 6; words: Ipv6Words };

/** @internal Renders untrusted input for an error message: at most 64 characters, quoted, non-printables escaped. */
export function show(text: string): string {
  const cut = text.length > MAX_ADDRESS_TEXT_LENGTH;
  let out = '"';
  for (let i = 0; i < Math.min(text.length, MAX_ADDRESS_TEXT_LENGTH); i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += '\\' + text[i];
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += text[i];
  }
  return out + (cut ? '…"' : '"');
}

function isWhitespace(c: number): boolean {
  // ASCII whitespace and the Unicode space separators (what /\s/ matches), without a regexp.
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * @internal Checks shared by addresses and CIDRs: present, bounded, no whitespace, printable ASCII,
 * no zone id, no brackets. Returns the problem, or undefined.
 */
export function precheck(text: unknown, what: string): string | undefined {
  if (typeof text !== 'string') return `must be a string`;
  if (text.length === 0) return `is empty`;
  if (text.length > MAX_ADDRESS_TEXT_LENGTH) return `is ${text.length} characters long; ${what} is at most ${MAX_ADDRESS_TEXT_LENGTH}`;
  const n = text.length;
  if (isWhitespace(text.charCodeAt(0)) || isWhitespace(text.charCodeAt(n - 1))) return `leading or trailing whitespace is not allowed`;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (isWhitespace(c)) return `whitespace inside ${what} is not allowed (position ${i + 1})`;
    if (c > 0x7e) return `non-ASCII character at position ${i + 1} is not allowed (only ASCII digits, hex letters, '.', ':' and '/')`;
    if (c < 0x20 || c === 0x7f) return `control character at position ${i + 1} is not allowed`;
  }
  if (text.includes('%')) return `zone ids ('%…') are not allowed`;
  if (text.includes('[') || text.includes(']')) return `brackets are not allowed; give the bare address`;
  return undefined;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Strict dotted quad: exactly four decimal octets 0..255, no leading zeros. Returns the value or the problem. */
function parseV4(s: string): number | string {
  const parts = s.split('.');
  if (parts.length !== 4) {
    if (parts.length === 1) {
      if (/^0[xX]/.test(s)) return `hexadecimal integer form is not allowed; give four dotted decimal octets`;
      if (/^[0-9]+$/.test(s)) return `integer form is not allowed; give four dotted decimal octets`;
      return `is not an IPv4 or IPv6 address`;
    }
    if (parts.length < 4) return `short form with ${parts.length} parts is not allowed; give four dotted decimal octets`;
    return `too many parts (${parts.length}); an IPv4 address has four octets`;
  }
  let value = 0;
  for (const part of parts) {
    if (part.length === 0) return `empty octet (consecutive, leading or trailing '.')`;
    if (part.length > 1 && part[0] === '0' && (part[1] === 'x' || part[1] === 'X')) return `hexadecimal octets are not allowed`;
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      if (!isDigit(c)) return `invalid character '${part[i]}' in an IPv4 address`;
    }
    if (part.length > 1 && part[0] === '0') return `leading zeros are not allowed (octal ambiguity)`;
    if (part.length > 3 || Number(part) > 255) return `octet ${part.length > 3 ? part.slice(0, 3) + '…' : part} is greater than 255`;
    value = value * 256 + Number(part);
  }
  return value;
}

/** RFC 4291 §2.2 text: 8 groups of 1-4 hex digits, one optional `::`, an optional dotted quad as the last 32 bits. */
function parseV6(s: string): Ipv6Words | string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (hexValue(c) < 0 && c !== 0x3a && c !== 0x2e) return `invalid character '${s[i]}' in an IPv6 address`;
  }
  if (s.includes(':::')) return `':::' is not valid`;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return `more than one '::' is not allowed`;
  if (s[0] === ':' && dbl !== 0) return `starts with a single ':'`;
  if (s[s.length - 1] === ':' && dbl !== s.length - 2) return `ends with a single ':'`;
  const head = dbl === -1 ? s : s.slice(0, dbl);
  const tail = dbl === -1 ? '' : s.slice(dbl + 2);
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === '' ? [] : tail.split(':');
  const all = [...headParts, ...tailParts];
  const groups: number[] = [];
  let v4: number | undefined;
  for (let i = 0; i < all.length; i++) {
    const part = all[i] as string;
    if (part.includes('.')) {
      if (i !== all.length - 1 || (dbl !== -1 && i < headParts.length)) return `an embedded IPv4 address must be the last part`;
      const r = parseV4(part);
      if (typeof r === 'string') return `embedded IPv4 ${r}`;
      v4 = r;
      continue;
    }
    if (part.length === 0) return `empty group`;
    if (part.length > 4) return `group '${part.slice(0, 8)}${part.length > 8 ? '…' : ''}' is longer than 4 hex digits`;
    let g = 0;
    for (let k = 0; k < part.length; k++) g = g * 16 + hexValue(part.charCodeAt(k));
    groups.push(g);
  }
  const count = groups.length + (v4 === undefined ? 0 : 2);
  if (dbl === -1) {
    if (count < 8) return `too few groups (${count} of 8)`;
    if (count > 8) return `too many groups (${count} of 8)`;
  } else if (count > 7) {
    return `too many groups (${count} besides '::', which stands for at least one zero group)`;
  }
  if (v4 !== undefined) groups.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
  const headCount = dbl === -1 ? groups.length : headParts.length;
  const full: number[] = groups.slice(0, headCount);
  for (let i = 0; i < 8 - groups.length; i++) full.push(0);
  full.push(...groups.slice(headCount));
  const g = (i: number) => full[i] as number;
  return [g(0) * 0x10000 + g(1), g(2) * 0x10000 + g(3), g(4) * 0x10000 + g(5), g(6) * 0x10000 + g(7)];
}

/**
 * Fast path for the common case (Check parses every address it is asked about): a strict dotted
 * quad in s[from, to), or -1. Accepts exactly what parseV4 accepts; on -1 the slow parser runs
 * and names the problem.
 */
function fastV4(s: string, from: number, to: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 0x30);
      if (octet > 255) return -1;
      digits++;
    } else if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      dots++;
      octet = 0;
      digits = 0;
    } else return -1;
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

const scratch = new Uint16Array(8);

/** Fast path of parseV6: the words, or undefined for anything parseV6 would refuse (it then names the problem). */
function fastV6(s: string): Ipv6Words | undefined {
  const n = s.length;
  const g = scratch;
  let count = 0;
  let dbl = -1;
  let i = 0;
  if (n < 2) return undefined;
  if (s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a || s.charCodeAt(2) === 0x3a) return undefined;
    dbl = 0;
    i = 2;
  }
  while (i < n) {
    let j = i;
    let v = 0;
    for (; j < n; j++) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      v = v * 16 + h;
    }
    if (j < n && s.charCodeAt(j) === 0x2e) {
      if (count > 6) return undefined;
      const v4 = fastV4(s, i, n);
      if (v4 < 0) return undefined;
      g[count++] = v4 >>> 16;
      g[count++] = v4 & 0xffff;
      break;
    }
    if (j === i || j - i > 4 || count === 8) return undefined;
    g[count++] = v;
    if (j === n) break;
    if (s.charCodeAt(j) !== 0x3a) return undefined;
    if (s.charCodeAt(j + 1) === 0x3a) {
      if (dbl !== -1) return undefined;
      dbl = count;
      i = j + 2;
      if (s.charCodeAt(i) === 0x3a) return undefined;
    } else {
      i = j + 1;
      if (i === n) return undefined;
    }
  }
  if (dbl === -1 ? count !== 8 : count > 7) return undefined;
  const full = [0, 0, 0, 0, 0, 0, 0, 0];
  if (dbl === -1) for (let k = 0; k < 8; k++) full[k] = g[k]!;
  else {
    for (let k = 0; k < dbl; k++) full[k] = g[k]!;
    const tail = count - dbl;
    for (let k = 0; k < tail; k++) full[8 - tail + k] = g[dbl + k]!;
  }
  return [full[0]! * 0x10000 + full[1]!, full[2]! * 0x10000 + full[3]!, full[4]! * 0x10000 + full[5]!, full[6]! * 0x10000 + full[7]!];
}

/** @internal The reference parser (slow, names every problem). Kept separate so tests can check the fast path against it. */
export function parseRawAddressSlow(s: string): RawAddress | string {
  if (s.includes(':')) {
    const w = parseV6(s);
    return typeof w === 'string' ? w : { family: 6, words: w };
  }
  const v = parseV4(s);
  return typeof v === 'string' ? v : { family: 4, value: v };
}

/** @internal Parses either family, keeping IPv4-mapped IPv6 as IPv6 words. Returns the problem as a string. */
export function parseRawAddress(s: string): RawAddress | string {
  if (s.includes(':')) {
    const w = fastV6(s);
    if (w !== undefined) return { family: 6, words: w };
  } else {
    const v = fastV4(s, 0, s.length);
    if (v >= 0) return { family: 4, value: v };
  }
  return parseRawAddressSlow(s);
}

/** True for `::ffff:0:0/96`, the IPv4-mapped range (RFC 4291 §2.5.5.2). */
export function isMappedWords(w: Ipv6Words): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
}

/** Dotted quad of an unsigned 32-bit value. */
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** RFC 5952 text of an IPv6 address (hexadecimal only; mapped addresses are never IPv6 here). */
export function formatIpv6(w: Ipv6Words): string {
  const g = [w[0] >>> 16, w[0] & 0xffff, w[1] >>> 16, w[1] & 0xffff, w[2] >>> 16, w[2] & 0xffff, w[3] >>> 16, w[3] & 0xffff];
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (RFC 5952 §4.2.2)
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out.length > 0 && i !== bestStart + bestLen) out += ':';
    out += g[i]!.toString(16);
  }
  return out;
}

/** An IPv4 {@link ParsedIp} from its 32-bit value (for callers holding numbers, e.g. range ends). */
export function ipFromV4Number(value: number, mappedFromV6 = false): ParsedIpv4 {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`not a 32-bit unsigned value: ${value}`);
  return { family: 4, value, canonical: formatIpv4(value), mappedFromV6 };
}

/** A {@link ParsedIp} from IPv6 words; IPv4-mapped words fold to IPv4, as when parsed from text. */
export function ipFromV6Words(words: Ipv6Words): ParsedIp {
  for (const x of words) if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new RangeError(`not a 32-bit unsigned word: ${x}`);
  if (isMappedWords(words)) return ipFromV4Number(words[3], true);
  const copy: Ipv6Words = [words[0], words[1], words[2], words[3]];
  return { family: 6, words: copy, canonical: formatIpv6(copy), mappedFromV6: false };
}

function v4Ip(value: number, mappedFromV6: boolean): ParsedIpv4 {
  return { family: 4, value, canonical: formatIpv4(value), mappedFromV6 };
}

function ipFromTrustedWords(w: Ipv6Words): ParsedIp {
  if (isMappedWords(w)) return v4Ip(w[3], true);
  return { family: 6, words: w, canonical: formatIpv6(w), mappedFromV6: false };
}

function parseOrProblem(text: string): ParsedIp | string {
  // Fast path: printable ASCII without '%', '[', ']'; note ':' and '/' on the way.
  let colon = false;
  let slash = false;
  let plain = typeof text === 'string' && text.length > 0 && text.length <= MAX_ADDRESS_TEXT_LENGTH;
  if (plain) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c <= 0x20 || c >= 0x7f || c === 0x25 || c === 0x5b || c === 0x5d) {
        plain = false;
        break;
      }
      if (c === 0x3a) colon = true;
      else if (c === 0x2f) slash = true;
    }
  }
  if (!plain) {
    const pre = precheck(text, 'an address');
    if (pre !== undefined) return pre;
    colon = text.includes(':');
    slash = text.includes('/');
  }
  if (slash) return `a '/' prefix length is not allowed in an address`;
  if (colon) {
    const w = fastV6(text);
    if (w !== undefined) return ipFromTrustedWords(w);
  } else {
    const v = fastV4(text, 0, text.length);
    if (v >= 0) return v4Ip(v, false);
  }
  const raw = parseRawAddressSlow(text);
  if (typeof raw === 'string') return raw;
  return raw.family === 4 ? v4Ip(raw.value, false) : ipFromTrustedWords(raw.words);
}

/**
 * Parses an IP address strictly (see the contract's "Addresses"). IPv4-mapped IPv6 in any
 * spelling comes back as IPv4 with `mappedFromV6`; other transition forms stay IPv6.
 * @throws InvalidArgumentError(field, "<what is wrong>: <input, quoted, at most 64 chars>")
 */
export function parseIp(text: string, field = 'ip'): ParsedIp {
  const r = parseOrProblem(text);
  if (typeof r !== 'string') return r;
  const long = typeof text === 'string' && text.length > MAX_ADDRESS_TEXT_LENGTH;
  throw new InvalidArgumentError(field, typeof text === 'string' && !long && text.length > 0 ? `${r}: ${show(text)}` : r);
}

/** Like {@link parseIp} but returns undefined for malformed input: Check answers MALFORMED_IP without an exception. */
export function tryParseIp(text: string): ParsedIp | undefined {
  const r = parseOrProblem(text);
  return typeof r === 'string' ? undefined : r;
}

/** Orders addresses: IPv4 before IPv6, then numerically. */
export function compareIps(a: ParsedIp, b: ParsedIp): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.family === 4) return a.value - (b as ParsedIpv4).value;
  return compareWords(a.words, (b as ParsedIpv6).words);
}

/** Lexicographic (= numeric) order of IPv6 words. */
export function compareWords(a: Ipv6Words, b: Ipv6Words): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3];
}

/**
 * Why `ip` cannot be a daily entry, or undefined when it can. RegisterDailyIp registers the
 * caller's peer address; an unspecified, multicast, broadcast or reserved source is spoofed or
 * misconfigured, never an employee's connection. Loopback, private and link-local ranges are
 * usable (development, offices).
 */
export function unusableReason(ip: ParsedIp): string | undefined {
  if (ip.family === 4) {
    const v = ip.value;
    if (v === 0) return 'the unspecified address';
    if (v >>> 24 === 0) return 'in 0.0.0.0/8 ("this network")';
    if (v === 0xffffffff) return 'the limited broadcast address';
    if (v >>> 28 === 0xe) return 'multicast (224.0.0.0/4)';
    if (v >>> 28 === 0xf) return 'reserved (240.0.0.0/4)';
    return undefined;
  }
  const w = ip.words;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0) return 'the unspecified address';
  if (w[0] >>> 24 === 0xff) return 'multicast (ff00::/8)';
  return undefined;
}

/** True if RegisterDailyIp may register `ip` (see {@link unusableReason}). */
export function isUsableUnicast(ip: ParsedIp): boolean {
  return unusableReason(ip) === undefined;
}

/** Throws InvalidArgumentError(field) naming why `ip` is not a usable unicast address. */
export function assertUsableUnicast(ip: ParsedIp, field = 'ip'): void {
  const why = unusableReason(ip);
  if (why !== undefined) throw new InvalidArgumentError(field, `${ip.canonical} is not a usable unicast address: ${why}`);
}
