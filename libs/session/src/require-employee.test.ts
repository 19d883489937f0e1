import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, PermissionDeniedError, UnauthenticatedError } from '@gatehouse/core';
import { InvalidSessionError, requireEmployee, requireSession, SessionVerifier, signSessionToken, StaticKeySource, type Role } from './index.js';
import { assertRefused, AUDIENCE, ISSUER, keyPair, sessionClaims, T0 } from './test-support.js';

const signer = keyPair();
const clock = new ManualClock(T0 + 60_000);
const verifier = new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: new StaticKeySource({ k1: signer.publicKey }), clock });

const tokenFor = (overrides: Parameters<typeof sessionClaims>[0] = {}) =>
  signSessionToken(sessionClaims(overrides), { privateKey: signer.privateKey, keyId: 'k1' });
const ctx = (token: string | undefined, peerIp = '203.0.113.7') => ({ bearerToken: () => token, peerIp });

const denied = (message: string) => (err: unknown) => {
  assert.ok(err instanceof PermissionDeniedError, String(err));
  assert.equal(err.kind, 'permission_denied');
  assert.equal(err.message, message);
  return true;
};

describe('requireEmployee', () => {
  test('returns the employee of a valid full session presented from its pinned IP', async () => {
    const employee = await requireEmployee(ctx(tokenFor({ roles: ['manager', 'team_lead'] })), verifier);
    assert.deepEqual(employee, { accountId: 'acc_01HZX3', email: 'maria@example.com', roles: ['manager', 'team_lead'] });
  });

  test('without a session: UNAUTHENTICATED saying how to send one', async () => {
    for (const token of [undefined, '']) {
      await assert.rejects(requireEmployee(ctx(token), verifier), (err: unknown) => {
        assert.ok(err instanceof UnauthenticatedError);
        assert.equal(err.message, 'a session is required: send authorization: Bearer <token>');
        return true;
      });
    }
  });

  test('an expired session, or one from another IP: UNAUTHENTICATED naming the problem', async () => {
    const token = tokenFor({ expiresAt: new Date(T0 + 30_000) });
    await assertRefused(requireEmployee(ctx(token), verifier), token, 'expired', /has expired/);
    const valid = tokenFor();
    await assertRefused(requireEmployee(ctx(valid, '198.51.100.1'), verifier), valid, 'ip_mismatch', /pinned to another IP/);
    await requireEmployee(ctx(valid, '::ffff:203.0.113.7'), verifier);
  });

  test('a register-ip session is refused unless the RPC accepts any scope', async () => {
    const token = tokenFor({ scope: 'register-ip', env: {} });
    await assert.rejects(requireEmployee(ctx(token), verifier), denied("a full session is required; this session may only register today's IP"));
    await assert.rejects(
      requireEmployee(ctx(token), verifier, { scope: 'full', anyOfRoles: ['manager'] }),
      denied("a full session is required; this session may only register today's IP"),
    );
    const employee = await requireEmployee(ctx(token), verifier, { scope: 'any' });
    assert.equal(employee.accountId, 'acc_01HZX3');
  });

  test('role checks: one of the listed roles is enough, none is PERMISSION_DENIED naming them', async () => {
    const officerOrManager: Role[] = ['security_officer', 'manager'];
    await assert.rejects(
      requireEmployee(ctx(tokenFor({ roles: ['developer'] })), verifier, { anyOfRoles: officerOrManager }),
      denied('this action requires one of the roles security_officer, manager'),
    );
    await assert.rejects(
      requireEmployee(ctx(tokenFor({ roles: [] })), verifier, { anyOfRoles: officerOrManager }),
      denied('this action requires one of the roles security_officer, manager'),
    );
    const officer = await requireEmployee(ctx(tokenFor({ roles: ['security_officer'] })), verifier, { anyOfRoles: officerOrManager });
    assert.deepEqual(officer.roles, ['security_officer']);
    const dev = await requireEmployee(ctx(tokenFor({ roles: ['developer'] })), verifier);
    assert.deepEqual(dev.roles, ['developer'], 'no role list: any employee');
  });

  test('an empty role list is a programming error, not "anybody"', async () => {
    await assert.rejects(requireEmployee(ctx(tokenFor()), verifier, { anyOfRoles: [] }), TypeError);
  });

  test('revocationCheck runs after local verification with the token and peer IP, and its refusal stands', async () => {
    const token = tokenFor();
    const seen: Array<[string, string]> = [];
    const revoked = {
      check: async (t: string, ip: string) => {
        seen.push([t, ip]);
        throw new InvalidSessionError('revoked', 'session has been revoked; sign in again');
      },
    };
    await assertRefused(requireEmployee(ctx(token), verifier, { revocationCheck: revoked }), token, 'revoked', /revoked/);
    assert.deepEqual(seen, [[token, '203.0.113.7']]);
    const expired = tokenFor({ expiresAt: new Date(T0 + 1000) });
    await assertRefused(requireEmployee(ctx(expired), verifier, { revocationCheck: revoked }), expired, 'expired', /expired/);
    assert.equal(seen.length, 1, 'identity is not asked about a token that fails locally');
  });

  test('requireSession returns the full claims for handlers that need the session id or environments', async () => {
    const claims = await requireSession(ctx(tokenFor()), verifier, { anyOfRoles: ['manager'] });
    assert.equal(claims.sessionId, 'ses_01HZX4');
    assert.deepEqual(claims.env.live, new Date(T0 + 1800_000));
  });
});
