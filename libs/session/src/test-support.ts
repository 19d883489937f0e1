/**
 * Shared fixtures of this library's tests (not exported from index.ts): real Ed25519 keys and a
 * typical session, so every test states only what it changes.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { UnauthenticatedError } from '@gatehouse/core';
import type { SessionClaims } from './claims.js';
import { InvalidSessionError, type SessionRejection } from './errors.js';

export const ISSUER = 'gatehouse-identity';
export const AUDIENCE = 'gatehouse';
/** Issue time of the standard session: a whole second, so NumericDates round-trip exactly. */
export const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function keyPair(): KeyPair {
  return generateKeyPairSync('ed25519');
}

/** A full session of a manager, issued at T0 for one hour from 203.0.113.7. */
export function sessionClaims(overrides: Partial<SessionClaims> = {}): SessionClaims {
  return {
    issuer: ISSUER,
    audience: AUDIENCE,
    accountId: 'acc_01HZX3',
    sessionId: 'ses_01HZX4',
    issuedAt: new Date(T0),
    expiresAt: new Date(T0 + 3600_000),
    authTime: new Date(T0 - 120_000),
    email: 'maria@example.com',
    roles: ['manager'],
    amr: ['google', 'sms', 'totp'],
    pinnedIp: '203.0.113.7',
    scope: 'full',
    env: { live: new Date(T0 + 1800_000), staging: new Date(T0 + 3600_000) },
    ...overrides,
  };
}

/**
 * Asserts that `promise` rejects with an InvalidSessionError (an UnauthenticatedError) of this
 * reason and message, and that the message quotes no part of the token.
 */
export async function assertRefused(promise: Promise<unknown>, token: string, reason: SessionRejection, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InvalidSessionError, `expected InvalidSessionError, got ${String(err)}`);
    assert.ok(err instanceof UnauthenticatedError);
    assert.equal(err.kind, 'unauthenticated');
    assert.equal(err.reason, reason);
    assert.match(err.message, message);
    for (const part of token.split('.')) {
      for (let i = 0; i + 12 <= part.length; i += 12) {
        assert.ok(!err.message.includes(part.slice(i, i + 12)), `message quotes the token: ${err.message}`);
      }
    }
    return true;
  });
}
