import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, UnavailableError } from '@gatehouse/core';
import { IdentityServiceClient, IdentityServiceService, identityV1, SERVICE_NAMES } from '@gatehouse/contracts';
import { dial, unary, type RunningServer } from '@gatehouse/service-kit';
import { startFakeService } from '@gatehouse/testing';
import { RemoteSessionChecker, requireEmployee, SessionVerifier, signSessionToken, StaticKeySource } from './index.js';
import { assertRefused, AUDIENCE, ISSUER, keyPair, sessionClaims, T0 } from './test-support.js';

const Reason = identityV1.SessionInvalidReason;
const signer = keyPair();
const token = signSessionToken(sessionClaims(), { privateKey: signer.privateKey, keyId: 'k1' });

describe('RemoteSessionChecker against a real gRPC IdentityService', () => {
  const state = { answer: { valid: true, reason: Reason.SESSION_INVALID_REASON_UNSPECIFIED } as identityV1.VerifySessionResponse, down: false };
  const requests: identityV1.VerifySessionRequest[] = [];
  let server: RunningServer;
  let client: IdentityServiceClient;

  before(async () => {
    server = await startFakeService({
      name: SERVICE_NAMES.identity,
      definition: IdentityServiceService,
      handlers: {
        VerifySession: unary<identityV1.VerifySessionRequest, identityV1.VerifySessionResponse>(async (req) => {
          requests.push(req);
          if (state.down) throw new UnavailableError('identity is down');
          return state.answer;
        }),
      },
    });
    client = dial(IdentityServiceClient, server.address, { mode: 'insecure-loopback' });
  });
  after(async () => {
    client.close();
    await server.shutdown();
  });

  test('sends the token and the canonical client IP, and resolves when identity says valid', async () => {
    requests.length = 0;
    state.answer = { valid: true, reason: Reason.SESSION_INVALID_REASON_UNSPECIFIED };
    await new RemoteSessionChecker(client).check(token, '::ffff:203.0.113.7');
    assert.deepEqual(requests, [{ sessionToken: token, clientIp: '203.0.113.7' }]);
  });

  test('an invalid answer becomes UNAUTHENTICATED with the reason identity gave', async () => {
    const checker = new RemoteSessionChecker(client);
    const cases: Array<[identityV1.SessionInvalidReason, Parameters<typeof assertRefused>[2], RegExp]> = [
      [Reason.SESSION_INVALID_REASON_REVOKED, 'revoked', /^session has been revoked; sign in again$/],
      [Reason.SESSION_INVALID_REASON_EXPIRED, 'expired', /has expired/],
      [Reason.SESSION_INVALID_REASON_IP_MISMATCH, 'ip_mismatch', /pinned to another IP/],
      [Reason.SESSION_INVALID_REASON_BAD_SIGNATURE, 'bad_signature', /signature does not verify/],
      [Reason.SESSION_INVALID_REASON_UNKNOWN_KEY, 'unknown_key', /unknown key/],
      [Reason.SESSION_INVALID_REASON_NOT_YET_VALID, 'not_yet_valid', /not valid yet/],
      [Reason.SESSION_INVALID_REASON_MALFORMED, 'malformed', /malformed \(refused by identity\)/],
      [Reason.SESSION_INVALID_REASON_UNSPECIFIED, 'malformed', /refused by identity/],
    ];
    for (const [reason, expected, message] of cases) {
      state.answer = { valid: false, reason };
      await assertRefused(checker.check(token, '203.0.113.7'), token, expected, message);
    }
  });

  test('identity failing is UNAVAILABLE: the critical action does not happen', async () => {
    state.down = true;
    try {
      await assert.rejects(
        new RemoteSessionChecker(client).check(token, '203.0.113.7'),
        (err: unknown) => err instanceof UnavailableError && /identity could not confirm the session \(UNAVAILABLE\)/.test(err.message),
      );
    } finally {
      state.down = false;
    }
  });

  test('as requireEmployee revocationCheck: a session revoked at identity is refused although it verifies locally', async () => {
    const verifier = new SessionVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: new StaticKeySource({ k1: signer.publicKey }),
      clock: new ManualClock(T0 + 5_000),
    });
    const ctx = { bearerToken: () => token, peerIp: '203.0.113.7' };
    const revocationCheck = new RemoteSessionChecker(client);
    state.answer = { valid: true, reason: Reason.SESSION_INVALID_REASON_UNSPECIFIED };
    assert.equal((await requireEmployee(ctx, verifier, { revocationCheck })).accountId, 'acc_01HZX3');
    state.answer = { valid: false, reason: Reason.SESSION_INVALID_REASON_REVOKED };
    await assertRefused(requireEmployee(ctx, verifier, { revocationCheck }), token, 'revoked', /revoked/);
  });
});
