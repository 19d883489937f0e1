import net from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { CallerIdentity } from '@gatehouse/pki';
import type { Logger } from './logger.js';

/**
 * What a handler knows about the call besides its message. Handlers pass the parts the domain
 * needs (caller, peer IP, deadline, signal) as plain values; the domain never sees gRPC.
 */
export interface RequestContext {
  /** Full method path, e.g. /gatehouse.audit.v1.AuditService/Append. */
  readonly method: string;
  /** Short RPC name, e.g. Append. */
  readonly rpc: string;
  readonly requestId: string;
  /** The TCP peer's IP address (IPv4-mapped IPv6 folded to IPv4). Proxies are not trusted here. */
  readonly peerIp: string;
  /** The calling service or backend, from its client certificate; undefined only in plaintext dev mode. */
  readonly caller: CallerIdentity | undefined;
  /** When the call must be answered: the earlier of the client's deadline and the server cap. */
  readonly deadline: Date;
  /** Aborted when the client cancels, the deadline passes or the server shuts down. */
  readonly signal: AbortSignal;
  readonly metadata: grpc.Metadata;
  readonly log: Logger;
  /** The employee's session token from `authorization: Bearer …`, if any. Never log it. */
  bearerToken(): string | undefined;
}

/** Parses grpc-js peer strings (`ipv4:1.2.3.4:5`, `[::1]:5`, `1.2.3.4:5`) to a bare IP. */
export function peerIpOf(peer: string): string {
  // The peer string is per connection, and this runs twice per call: parse each one once.
  let ip = peerIps.get(peer);
  if (ip === undefined) {
    ip = parsePeerIp(peer);
    if (peerIps.size >= 10_000) peerIps.clear();
    peerIps.set(peer, ip);
  }
  return ip;
}

const peerIps = new Map<string, string>();

function parsePeerIp(peer: string): string {
  let p = peer.replace(/^(ipv4|ipv6|unix):/, '');
  if (p.startsWith('[')) {
    p = p.slice(1, p.indexOf(']'));
  } else if (p.split(':').length === 2) {
    p = p.slice(0, p.lastIndexOf(':'));
  }
  const mapped = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(p);
  return mapped?.[1] ?? p;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{8,128}$/;

/** Uses the caller's x-request-id when it is well-formed, so one id follows a request across services. */
export function requestIdFrom(metadata: grpc.Metadata, fallback: () => string): string {
  const v = metadata.get('x-request-id')[0];
  return typeof v === 'string' && REQUEST_ID_RE.test(v) ? v : fallback();
}

/** Reads `authorization: Bearer <token>`; anything else is treated as absent. */
export function bearerFrom(metadata: grpc.Metadata): string | undefined {
  const v = metadata.get('authorization')[0];
  if (typeof v !== 'string') return undefined;
  const m = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/.exec(v);
  return m?.[1];
}

/** Metadata a trusted backend uses to name the end user's IP (a browser behind it). */
export const CLIENT_IP_HEADER = 'x-gatehouse-client-ip';

/**
 * The IP of the person behind a call: the peer's own IP, unless the caller is a backend named
 * in `trustedProxies` (by certificate name). Such a proxy names the end user with one
 * well-formed `x-gatehouse-client-ip`, or with `x-forwarded-for`, of which the right-most
 * address counts (the one the trusted proxy itself saw; addresses further left were supplied
 * by the client and prove nothing). Anyone else's headers are ignored, so a client cannot pick
 * the IP its session is pinned to or its daily IP.
 */
export function clientIpOf(ctx: Pick<RequestContext, 'peerIp' | 'caller' | 'metadata'>, trustedProxies: readonly string[]): string {
  if (ctx.caller?.kind !== 'backend' || !trustedProxies.includes(ctx.caller.name)) return ctx.peerIp;
  const explicit = ctx.metadata.get(CLIENT_IP_HEADER);
  if (explicit.length > 0) return explicit.length === 1 ? (bareIp(explicit[0]) ?? ctx.peerIp) : ctx.peerIp;
  const forwarded = ctx.metadata.get('x-forwarded-for');
  if (forwarded.length === 0) return ctx.peerIp;
  const last = String(forwarded[forwarded.length - 1]).split(',').pop();
  return bareIp(last?.trim()) ?? ctx.peerIp;
}

/**
 * The client IP a request FIELD names (VerifySession's and Authorize's `client_ip`), honoured
 * only from callers trusted to relay it: a backend named in `trustedProxies`, or a Gatehouse
 * service (a `service` certificate of the Gatehouse CA) asking for the employee it serves.
 * From anyone else, or when the field is empty, it is the IP clientIpOf finds (for them, the
 * peer IP), so a caller holding a stolen token cannot claim the IP the token is pinned to
 * (issue 13 item 3). The value is passed on as given; the session check parses it.
 */
export function relayedClientIpOf(ctx: Pick<RequestContext, 'peerIp' | 'caller' | 'metadata'>, trustedProxies: readonly string[], claimed: string | undefined): string {
  const trusted = ctx.caller?.kind === 'service' || (ctx.caller?.kind === 'backend' && trustedProxies.includes(ctx.caller.name));
  return trusted && claimed !== undefined && claimed !== '' ? claimed : clientIpOf(ctx, trustedProxies);
}

function bareIp(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length > 64 || net.isIP(v) === 0) return undefined;
  return peerIpOf(v.includes(':') ? `[${v}]:0` : `${v}:0`);
}
