import { UnauthenticatedError } from '@gatehouse/core';

/**
 * Strict parsing of a JWS in compact serialization (RFC 7515 §7.1). Everything here is hostile
 * input, so the parser accepts exactly one spelling of each part: canonical unpadded base64url,
 * UTF-8 that decodes without replacement, a JSON object with no duplicate member names. Nothing
 * is trusted yet; the verifier checks the signature and claims afterwards.
 */

/** A JSON object as parsed from a token part; read members with {@link member}. */
export type JsonObject = Record<string, unknown>;

/** The three parts of a compact JWS, decoded but NOT verified. */
export interface CompactJws {
  /** The protected header. */
  readonly header: JsonObject;
  /** The payload, when it is a JSON object (a JWT claims set). */
  readonly payload: JsonObject;
  /** The bytes that were signed: ASCII(base64url(header) '.' base64url(payload)). */
  readonly signingInput: Buffer;
  /** The raw signature bytes. */
  readonly signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Why a token was refused; the message names the problem and never echoes the token. */
function refuse(message: string): never {
  throw new UnauthenticatedError(`ID token ${message}`);
}

/**
 * Decodes canonical unpadded base64url, because Node's decoder silently skips junk characters
 * and accepts non-zero padding bits, which would let many strings stand for one token.
 */
export function decodeBase64UrlStrict(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/**
 * Throws if any JSON object in `text` repeats a member name (after unescaping, so `"alg"` and
 * `"\u0061lg"` collide). JSON.parse keeps the last one, but a token whose header says two
 * different things is refused outright. `text` must already be valid JSON.
 */
function assertNoDuplicateMembers(text: string, part: string): void {
  type Frame = { keys: Set<string>; expectKey: boolean } | undefined; // undefined = array
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const top = stack[stack.length - 1];
      if (top?.expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(key)) refuse(`is malformed: the ${part} has duplicate member names`);
        top.keys.add(key);
        top.expectKey = false;
      }
    } else if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push(undefined);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = true;
    }
  }
}

/** Decodes one base64url part into a JSON object, refusing anything else. */
function decodeJsonObject(encoded: string, part: string): JsonObject {
  const bytes = decodeBase64UrlStrict(encoded);
  if (!bytes) refuse(`is malformed: the ${part} is not valid base64url`);
  let text: string;
  let value: unknown;
  try {
    text = UTF8.decode(bytes);
    value = JSON.parse(text);
  } catch {
    refuse(`is malformed: the ${part} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    refuse(`is malformed: the ${part} is not a JSON object`);
  }
  assertNoDuplicateMembers(text, part);
  return value as JsonObject;
}

/** Reads an own member only, so nothing ever comes from Object.prototype. */
export function member(obj: JsonObject, name: string): unknown {
  return Object.hasOwn(obj, name) ? obj[name] : undefined;
}

/**
 * Splits and decodes a compact JWS. `checkHeader` runs on the decoded header before the
 * payload and signature are looked at, so that e.g. `alg: none` with an empty signature is
 * refused for its alg rather than reported as a malformed signature.
 */
export function parseCompactJws(token: string, checkHeader: (header: JsonObject) => void): CompactJws {
  const parts = token.split('.');
  if (parts.length !== 3) refuse('is malformed: expected three dot-separated base64url parts');
  const [h, p, s] = parts as [string, string, string];
  if (h.length === 0 || p.length === 0) refuse('is malformed: expected three dot-separated base64url parts');
  const header = decodeJsonObject(h, 'header');
  checkHeader(header);
  const payload = decodeJsonObject(p, 'payload');
  if (s.length === 0) refuse('is not signed (empty signature)');
  const signature = decodeBase64UrlStrict(s);
  if (!signature) refuse('is malformed: the signature is not valid base64url');
  return { header, payload, signingInput: Buffer.from(`${h}.${p}`, 'ascii'), signature };
}
