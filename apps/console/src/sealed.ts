import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Seals small JSON values (cookies, the dev authorization code) with AES-256-GCM under the
 * console's cookie key, bound to a purpose and an expiry: a value sealed as one thing cannot be
 * replayed as another, a stale one is refused, and the browser can neither read nor forge it.
 * Every console replica holds the same key, so any replica can open what another sealed.
 */
export class Sealer {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the console cookie key must be 32 bytes');
  }

  seal(purpose: string, value: unknown, ttlMs: number, now = Date.now()): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([c.update(JSON.stringify({ v: value, exp: now + ttlMs }), 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
  }

  /** The value, or undefined when it is malformed, forged, sealed for another purpose or expired. */
  open<T>(purpose: string, sealed: string | undefined, now = Date.now()): T | undefined {
    if (!sealed || sealed.length > 8192) return undefined;
    try {
      const raw = Buffer.from(sealed, 'base64url');
      if (raw.length < 29) return undefined;
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(purpose));
      d.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
      const parsed = JSON.parse(text) as { v: T; exp: number };
      return typeof parsed.exp === 'number' && parsed.exp > now ? parsed.v : undefined;
    } catch {
      return undefined;
    }
  }
}
