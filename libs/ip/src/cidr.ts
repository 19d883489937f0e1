import { InvalidArgumentError } from '@gatehouse/core';
import {
  compareWords,
  formatIpv4,
  formatIpv6,
  isMappedWords,
  parseRawAddress,
  precheck,
  show,
  type Ipv6Words,
  type ParsedIp,
} from './address.js';

/**
 * CIDR entries of the allowlist (P7). AddEntry refuses what would allow more than the officer
 * meant: /0, prefixes broader than the configured minimum, host bits silently dropped (unless
 * the officer asked to normalise), and IPv4-mapped IPv6 spans that reach beyond the mapped range.
 */

/** An IPv4 CIDR; `first`/`last` are the unsigned 32-bit ends of the range. */
export interface ParsedCidrV4 {
  readonly family: 4;
  readonly prefix: number;
  readonly first: number;
  readonly last: number;
  /** Network address with host bits clear, e.g. "10.1.0.0/16". */
  readonly canonical: string;
}

/** An IPv6 CIDR; `first`/`last` are the ends of the range as 32-bit words. */
export interface ParsedCidrV6 {
  readonly family: 6;
  readonly prefix: number;
  readonly first: Ipv6Words;
  readonly last: Ipv6Words;
  /** RFC 5952 network address with host bits clear, e.g. "2001:db8::/48". */
  readonly canonical: string;
}

/** A CIDR in canonical form (host bits clear, IPv4-mapped IPv6 folded to IPv4). */
export type ParsedCidr = ParsedCidrV4 | ParsedCidrV6;

/** The non-fatal remarks parseCidr can make (allowlist.v1.EntryWarningKind). */
export type CidrWarningKind = 'host_bits_cleared' | 'ipv4_mapped_converted';

/** A non-fatal remark naming the original and the resulting values. */
export interface CidrWarning {
  readonly kind: CidrWarningKind;
  readonly message: string;
}

/** How strict parseCidr is. The minimums come from configuration (defaults below). */
export interface CidrPolicy {
  /** Broadest IPv4 prefix accepted (1..32). */
  minPrefixV4: number;
  /** Broadest IPv6 prefix accepted (1..128). */
  minPrefixV6: number;
  /** Clear host bits (with a warning) instead of refusing. */
  normalize: boolean;
  /** Request field named in errors. Default 'cidr'. */
  field?: string;
}

/** The contract's default minimum IPv4 prefix (AddEntry). */
export const DEFAULT_MIN_PREFIX_V4 = 16;
/** The contract's default minimum IPv6 prefix (AddEntry). */
export const DEFAULT_MIN_PREFIX_V6 = 48;

/** Network mask word `i` (0..3) of an IPv6 prefix, or the IPv4 mask for i = 0 and bits ≤ 32. */
function maskWord(prefix: number, i: number): number {
  const bits = Math.max(0, Math.min(32, prefix - 32 * i));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function v4Cidr(address: number, prefix: number): ParsedCidrV4 {
  const mask = maskWord(prefix, 0);
  const first = (address & mask) >>> 0;
  const last = (first | ~mask) >>> 0;
  return { family: 4, prefix, first, last, canonical: `${formatIpv4(first)}/${prefix}` };
}

function v6Cidr(w: Ipv6Words, prefix: number): ParsedCidrV6 {
  const m = [maskWord(prefix, 0), maskWord(prefix, 1), maskWord(prefix, 2), maskWord(prefix, 3)] as const;
  const first: Ipv6Words = [(w[0] & m[0]) >>> 0, (w[1] & m[1]) >>> 0, (w[2] & m[2]) >>> 0, (w[3] & m[3]) >>> 0];
  const last: Ipv6Words = [(first[0] | ~m[0]) >>> 0, (first[1] | ~m[1]) >>> 0, (first[2] | ~m[2]) >>> 0, (first[3] | ~m[3]) >>> 0];
  return { family: 6, prefix, first, last, canonical: `${formatIpv6(first)}/${prefix}` };
}

/**
 * The CIDR of `prefix` bits around `ip`, host bits cleared. For callers holding numbers (a
 * daily entry is `cidrFromIp(ip, 32 | 128)`); no policy is applied.
 */
export function cidrFromIp(ip: ParsedIp, prefix: number): ParsedCidr {
  const max = ip.family === 4 ? 32 : 128;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new RangeError(`prefix must be an integer 0..${max}, got ${prefix}`);
  return ip.family === 4 ? v4Cidr(ip.value, prefix) : v6Cidr(ip.words, prefix);
}

/** The /32 or /128 of one address: what a daily entry matches (CheckResponse.matched_cidr). */
export function hostCidr(ip: ParsedIp): ParsedCidr {
  return cidrFromIp(ip, ip.family === 4 ? 32 : 128);
}

function checkPolicy(opts: CidrPolicy): void {
  const ok = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
  if (!ok(opts.minPrefixV4, 32)) throw new RangeError(`minPrefixV4 must be an integer 1..32, got ${opts.minPrefixV4}`);
  if (!ok(opts.minPrefixV6, 128)) throw new RangeError(`minPrefixV6 must be an integer 1..128, got ${opts.minPrefixV6}`);
}

/** Parses the prefix length text: decimal digits only, no sign, no leading zeros. */
function parsePrefix(s: string): number | string {
  if (s.length === 0) return `prefix length is missing after '/'`;
  if (s[0] === '+' || s[0] === '-') return `prefix length must not have a sign`;
  if (!/^[0-9]+$/.test(s)) return `prefix length must be decimal digits`;
  if (s.length > 1 && s[0] === '0') return `prefix length must not have leading zeros`;
  if (s.length > 3) return `prefix length /${s.slice(0, 3)}… is too long`;
  return Number(s);
}

/**
 * Parses an AddEntry CIDR ("203.0.113.0/24", "2001:db8::/48", or a bare address = /32 or
 * /128) into canonical form, applying the contract's refusals: /0 always, prefixes broader
 * than the policy minimum, host bits set unless `normalize`, IPv4-mapped spans below /96.
 * IPv4-mapped IPv6 becomes IPv4 (with a warning) so it matches IPv4 traffic.
 * @throws InvalidArgumentError(field, "<what is wrong>: <input>")
 * @throws RangeError for a policy out of range (a configuration bug, not the caller's input)
 */
export function parseCidr(text: string, opts: CidrPolicy): { cidr: ParsedCidr; warnings: CidrWarning[] } {
  checkPolicy(opts);
  const field = opts.field ?? 'cidr';
  const fail = (problem: string): never => {
    throw new InvalidArgumentError(field, `${problem}: ${show(text)}`);
  };
  const pre = precheck(text, 'a CIDR');
  if (pre !== undefined) {
    if (typeof text === 'string' && text.length > 0 && text.length <= 64) fail(pre);
    throw new InvalidArgumentError(field, pre);
  }
  const slash = text.indexOf('/');
  if (slash !== -1 && text.indexOf('/', slash + 1) !== -1) fail(`more than one '/'`);
  const addrText = slash === -1 ? text : text.slice(0, slash);
  if (addrText.length === 0) fail(`the address is missing before '/'`);
  const raw = parseRawAddress(addrText);
  if (typeof raw === 'string') return fail(raw);

  let prefix: number;
  if (slash === -1) {
    prefix = raw.family === 4 ? 32 : 128;
  } else {
    const p = parsePrefix(text.slice(slash + 1));
    if (typeof p === 'string') return fail(p);
    prefix = p;
  }
  if (prefix === 0) fail(`a /0 prefix is never allowed (it would match every address)`);
  const max = raw.family === 4 ? 32 : 128;
  if (prefix > max) fail(`prefix /${prefix} is longer than ${max}, the ${raw.family === 4 ? 'IPv4' : 'IPv6'} maximum`);

  const warnings: CidrWarning[] = [];
  let cidr: ParsedCidr;
  let hostBits: boolean;
  if (raw.family === 6 && isMappedWords(raw.words)) {
    if (prefix < 96) fail(`an IPv4-mapped IPv6 CIDR needs a prefix of at least /96 (/${prefix} would cover non-mapped IPv6 space)`);
    const v4Prefix = prefix - 96;
    if (v4Prefix === 0) fail(`a /0 prefix is never allowed (::ffff:0:0/96 is all of IPv4)`);
    cidr = v4Cidr(raw.words[3], v4Prefix);
    hostBits = cidr.first !== raw.words[3];
    warnings.push({
      kind: 'ipv4_mapped_converted',
      message: `the IPv4-mapped IPv6 CIDR ${text} was stored as IPv4 ${cidr.canonical}`,
    });
  } else if (raw.family === 4) {
    cidr = v4Cidr(raw.value, prefix);
    hostBits = cidr.first !== raw.value;
  } else {
    cidr = v6Cidr(raw.words, prefix);
    hostBits = compareWords(cidr.first, raw.words) !== 0;
  }

  const min = cidr.family === 4 ? opts.minPrefixV4 : opts.minPrefixV6;
  if (cidr.prefix < min) {
    const fam = cidr.family === 4 ? 'IPv4' : 'IPv6';
    const asV4 = raw.family === 6 && cidr.family === 4 ? ` (${cidr.canonical} as IPv4)` : '';
    fail(`prefix /${cidr.prefix}${asV4} is broader than the minimum /${min} for ${fam}`);
  }
  if (hostBits) {
    if (!opts.normalize) fail(`host bits are set (the network is ${cidr.canonical}); set normalize to clear them`);
    warnings.unshift({ kind: 'host_bits_cleared', message: `host bits were cleared: ${text} became ${cidr.canonical}` });
  }
  return { cidr, warnings };
}

/** True if `ip` is inside `cidr`. IPv4 (including mapped-folded) never matches IPv6 and vice versa. */
export function cidrContains(cidr: ParsedCidr, ip: ParsedIp): boolean {
  if (cidr.family === 4) return ip.family === 4 && ip.value >= cidr.first && ip.value <= cidr.last;
  return ip.family === 6 && compareWords(ip.words, cidr.first) >= 0 && compareWords(ip.words, cidr.last) <= 0;
}

/** True if the two CIDRs share an address (CIDRs overlap only by nesting): AddEntry's OVERLAPS_EXISTING. */
export function cidrsOverlap(a: ParsedCidr, b: ParsedCidr): boolean {
  if (a.family === 4) return b.family === 4 && a.first <= b.last && b.first <= a.last;
  return b.family === 6 && compareWords(a.first, b.last) <= 0 && compareWords(b.first, a.last) <= 0;
}

/** ListEntries order (contract): IPv4 before IPv6, then by network address, then by prefix length (broader first). */
export function compareCidrs(a: ParsedCidr, b: ParsedCidr): number {
  if (a.family !== b.family) return a.family - b.family;
  const byAddress = a.family === 4 ? a.first - (b as ParsedCidrV4).first : compareWords(a.first, (b as ParsedCidrV6).first);
  return byAddress || a.prefix - b.prefix;
}
