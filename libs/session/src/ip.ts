import { isIP, isIPv4 } from 'node:net';

/**
 * Canonical text form of an IP address, so that a pinned IP and a presented IP compare equal
 * exactly when they are the same address: IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as dual-stack
 * sockets report IPv4 peers) folds to IPv4, and IPv6 is lower-cased and zero-compressed the
 * one way (RFC 5952). Returns undefined for anything that is not an IP address.
 */
export function normalizeIp(ip: string): string | undefined {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = isIP(bare);
  if (family === 4) return bare;
  if (family !== 6) return undefined;
  if (bare.includes('%')) return bare.toLowerCase(); // zone ids (fe80::1%eth0): no URL form; compare as written
  let canonical: string;
  try {
    canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped?.[1] !== undefined && mapped[2] !== undefined) {
    const hi = parseInt(mapped[1], 16);
    const lo = parseInt(mapped[2], 16);
    const v4 = `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
    if (isIPv4(v4)) return v4;
  }
  return canonical;
}
