import { generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SESSION_AUDIENCE, DEFAULT_SESSION_ISSUER, rawEd25519PublicKey, reachesLive, signSessionToken, type EnvironmentExpiry, type Role } from '@gatehouse/session';

/** Mints session tokens as identity would, for services tested before or without identity. */
export interface TestSessionIssuer {
  /** A JWK Set file for GATEHOUSE_SESSION_KEYS_FILE. */
  keysFile: string;
  /** A signed token for an employee with these roles, pinned to `ip` (default 127.0.0.1). */
  token(opts: { roles: Role[]; accountId?: string; email?: string; displayName?: string; ip?: string; scope?: 'full' | 'register-ip'; ttlMs?: number; now?: Date; env?: EnvironmentExpiry }): string;
}

/**
 * A test double at the identity boundary: a real Ed25519 key whose public half services trust
 * through GATEHOUSE_SESSION_KEYS_FILE, and real signed session tokens.
 */
export function testSessionIssuer(dir: string): TestSessionIssuer {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyId = `test-${randomUUID().slice(0, 8)}`;
  const keysFile = path.join(dir, 'session-keys.json');
  fs.mkdirSync(dir, { recursive: true });
  const x = Buffer.from(rawEd25519PublicKey(publicKey)).toString('base64url');
  fs.writeFileSync(keysFile, JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', kid: keyId, x }] }));
  return {
    keysFile,
    token: (o) => {
      const now = o.now?.getTime() ?? Date.now();
      const ttl = o.ttlMs ?? 3_600_000;
      return signSessionToken(
        {
          issuer: DEFAULT_SESSION_ISSUER,
          audience: DEFAULT_SESSION_AUDIENCE,
          accountId: o.accountId ?? `acc-${o.roles[0] ?? 'none'}`,
          sessionId: `ses-${randomUUID()}`,
          issuedAt: new Date(now - 1000),
          expiresAt: new Date(now + ttl),
          authTime: new Date(now - 1000),
          email: o.email ?? `${o.roles[0] ?? 'someone'}@example.com`,
          ...(o.displayName ? { displayName: o.displayName } : {}),
          roles: o.roles,
          amr: ['google', 'sms', 'totp'],
          pinnedIp: o.ip ?? '127.0.0.1',
          scope: o.scope ?? 'full',
          // As identity issues them: STAGING for every FULL session, LIVE only for the LIVE roles (P1).
          env: o.env ?? ((o.scope ?? 'full') === 'full' ? { staging: new Date(now + ttl), ...(reachesLive(o.roles) ? { live: new Date(now + ttl) } : {}) } : {}),
        },
        { privateKey, keyId },
      );
    },
  };
}
