/**
 * Strict base64url (RFC 4648 §5, no padding) as JWS compact serialisation requires (RFC 7515
 * §2). Node's own decoder is lenient: it skips unknown characters, accepts padding and ignores
 * stray trailing bits, so two different strings could decode to the same bytes. We accept only
 * the one canonical spelling of each byte string, which keeps a token's text and its meaning in
 * one-to-one correspondence.
 */

const ALPHABET_RE = /^[A-Za-z0-9_-]*$/;

/** Encodes bytes (or a UTF-8 string) as unpadded base64url. */
export function base64urlEncode(data: Uint8Array | string): string {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return buf.toString('base64url');
}

/**
 * Decodes canonical unpadded base64url, or returns undefined for anything else: characters
 * outside the alphabet, padding, an impossible length (4n + 1) or non-zero unused bits.
 */
export function base64urlDecode(text: string): Buffer | undefined {
  if (!ALPHABET_RE.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
