/**
 * @gatehouse/ip: pure IP building blocks shared by the allowlist (P7) and the secrets service
 * (CIDR-bound releases): strict address and CIDR parsing to canonical form, the in-memory CIDR
 * index Check answers from, and the DST-safe daily cut-off.
 */
export {
  parseIp,
  tryParseIp,
  compareIps,
  compareWords,
  formatIpv4,
  formatIpv6,
  ipFromV4Number,
  ipFromV6Words,
  isMappedWords,
  isUsableUnicast,
  unusableReason,
  assertUsableUnicast,
  MAX_ADDRESS_TEXT_LENGTH,
  type Ipv6Words,
  type ParsedIp,
  type ParsedIpv4,
  type ParsedIpv6,
} from './address.js';
export {
  parseCidr,
  cidrFromIp,
  hostCidr,
  cidrContains,
  cidrsOverlap,
  compareCidrs,
  DEFAULT_MIN_PREFIX_V4,
  DEFAULT_MIN_PREFIX_V6,
  type CidrPolicy,
  type CidrWarning,
  type CidrWarningKind,
  type ParsedCidr,
  type ParsedCidrV4,
  type ParsedCidrV6,
} from './cidr.js';
export { MatchIndex, type MatchEntry } from './match-index.js';
export { nextCutoff, assertTimeZone } from './daily-cutoff.js';
