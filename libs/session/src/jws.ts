import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import { base64urlDecode, base64urlEncode } from './base64url.js';
import { InvalidSessionError } from './errors.js';

/**
 * Compact JWS (RFC 7515 §7.1) for exactly one profile: `alg` EdDSA with Ed25519 (RFC 8037),
 * `typ` JWT, a `kid`, and nothing else. Being narrow is the point: algorithm confusion ("none",
 * HS256 keyed with the public key), embedded or remote keys (`jwk`, `jku`, `x5u`) and critical
 * extensions cannot reach us, because any header that is not this one is refused before a key is
 * even looked up.
 */

/** The only header a session token may carry. */
export interface SessionJwsHeader {
  alg: 'EdDSA';
  typ: 'JWT';
  kid: string;
}

/** A key id: short, printable, safe to log. */
export const KEY_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Ed25519 signatures are always 64 bytes (RFC 8032 §5.1.6). */
const ED25519_SIGNATURE_BYTES = 64;

const HEADER_PARAMS = new Set(['alg', 'typ', 'kid']);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** A token taken apart, with the header checked; the signature is not verified yet. */
export interface ParsedJws {
  header: SessionJwsHeader;
  /** The exact ASCII bytes the signature covers: `base64url(header) "." base64url(payload)`. */
  signingInput: Buffer;
  payload: Buffer;
  signature: Buffer;
}

function malformed(detail: string): never {
  throw new InvalidSessionError('malformed', `session token is malformed: ${detail}`);
}

/** Parses JSON from UTF-8 bytes, refusing invalid UTF-8 rather than replacing it. */
export function jsonOf(bytes: Buffer, what: string): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    malformed(`${what} is not valid UTF-8`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    malformed(`${what} is not valid JSON`);
  }
}

function describeAlg(alg: string): string {
  // The algorithm name comes from the caller; show it only when it cannot carry anything else.
  return /^[A-Za-z0-9+-]{1,16}$/.test(alg) ? `algorithm ${alg}` : 'algorithm';
}

/**
 * Splits a compact JWS and checks its size, encoding and header. Throws
 * {@link InvalidSessionError} naming the first problem; messages never quote the token.
 */
export function parseSessionJws(token: string, maxBytes: number): ParsedJws {
  if (token.length > maxBytes) {
    throw new InvalidSessionError('oversized', `session token is too large (more than ${maxBytes} bytes)`);
  }
  const parts = token.split('.');
  if (parts.length !== 3) malformed('expected three base64url parts separated by dots');
  const [h, p, s] = parts as [string, string, string];
  const headerBytes = h.length > 0 ? base64urlDecode(h) : undefined;
  if (headerBytes === undefined) malformed('header is not base64url');
  const header = jsonOf(headerBytes, 'header');
  if (typeof header !== 'object' || header === null || Array.isArray(header)) malformed('header is not a JSON object');
  const fields = header as Record<string, unknown>;
  const alg = Object.hasOwn(fields, 'alg') ? fields['alg'] : undefined;
  if (typeof alg !== 'string') malformed('header alg is missing or not a string');
  if (alg.toLowerCase() === 'none') {
    throw new InvalidSessionError('algorithm', 'session token is unsigned (alg none); only EdDSA signatures are accepted');
  }
  if (alg !== 'EdDSA') {
    throw new InvalidSessionError('algorithm', `session token ${describeAlg(alg)} is not accepted; only EdDSA is`);
  }
  if (Object.keys(fields).some((k) => !HEADER_PARAMS.has(k))) malformed('header may carry only alg, typ and kid');
  if (fields['typ'] !== 'JWT') malformed('header typ must be JWT');
  const kid = Object.hasOwn(fields, 'kid') ? fields['kid'] : undefined;
  if (kid === undefined) malformed('header has no key id (kid)');
  if (typeof kid !== 'string' || !KEY_ID_RE.test(kid)) malformed('header kid is not a valid key id');
  const payload = p.length > 0 ? base64urlDecode(p) : undefined;
  if (payload === undefined) malformed('payload is not base64url');
  const signature = base64urlDecode(s);
  if (signature === undefined) malformed('signature is not base64url');
  if (signature.length !== ED25519_SIGNATURE_BYTES) malformed('signature is not a 64-byte Ed25519 signature');
  return {
    header: { alg: 'EdDSA', typ: 'JWT', kid },
    signingInput: Buffer.from(`${h}.${p}`, 'ascii'),
    payload,
    signature,
  };
}

/**
 * Serialises and signs a compact JWS with an Ed25519 private key. The header is written exactly
 * as given (in this key order), so tests can also build tokens the verifier must refuse.
 */
export function signCompactJws(header: Readonly<Record<string, unknown>>, payload: unknown, privateKey: KeyObject): string {
  const signingInput = `${base64urlEncode(JSON.stringify(header))}.${base64urlEncode(JSON.stringify(payload))}`;
  const signature = cryptoSign(null, Buffer.from(signingInput, 'ascii'), privateKey);
  return `${signingInput}.${base64urlEncode(signature)}`;
}
