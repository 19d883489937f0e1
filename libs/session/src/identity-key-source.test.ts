import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock, UnavailableError } from '@gatehouse/core';
import { commonV1, IdentityServiceClient, IdentityServiceService, SERVICE_NAMES, type identityV1 } from '@gatehouse/contracts';
import { dial, unary, type RunningServer } from '@gatehouse/service-kit';
import { startFakeService } from '@gatehouse/testing';
import {
  IdentityKeySource,
  rawEd25519PublicKey,
  RemoteSessionChecker,
  SessionVerifier,
  signSessionToken,
  type IdentityKeySourceOptions,
} from './index.js';
import { assertRefused, AUDIENCE, ISSUER, keyPair, sessionClaims, T0, type KeyPair } from './test-support.js';

const { KeyStatus, KeyAlgorithm } = commonV1;

const k1 = keyPair();
const k2 = keyPair();

function published(
  keyId: string,
  pair: KeyPair,
  status: commonV1.KeyStatus,
  window: { notBefore?: Date; notAfter?: Date } = {},
): commonV1.SigningKey {
  return {
    keyId,
    algorithm: KeyAlgorithm.KEY_ALGORITHM_ED25519,
    publicKey: rawEd25519PublicKey(pair.publicKey),
    status,
    notBefore: window.notBefore,
    notAfter: window.notAfter,
  };
}

const tokenBy = (pair: KeyPair, keyId: string, overrides: Parameters<typeof sessionClaims>[0] = {}) =>
  signSessionToken(sessionClaims(overrides), { privateKey: pair.privateKey, keyId });

/**
 * A real gRPC IdentityService on 127.0.0.1 with only GetSigningKeys implemented, counting its
 * calls; it can be slowed down or taken down.
 */
async function fakeIdentity() {
  const state = {
    keys: [] as commonV1.SigningKey[],
    cacheForSeconds: 300 as number | undefined,
    calls: 0,
    down: false,
    delayMs: 0,
  };
  const server = await startFakeService({
    name: SERVICE_NAMES.identity,
    definition: IdentityServiceService,
    handlers: {
      GetSigningKeys: unary<identityV1.GetSigningKeysRequest, identityV1.GetSigningKeysResponse>(async () => {
        state.calls++;
        if (state.delayMs > 0) await sleep(state.delayMs);
        if (state.down) throw new UnavailableError('identity is down');
        return {
          issuer: ISSUER,
          audience: AUDIENCE,
          keys: state.keys,
          cacheFor: state.cacheForSeconds === undefined ? undefined : { seconds: state.cacheForSeconds, nanos: 0 },
        };
      }),
    },
  });
  server.setServing('SERVING');
  return { server, state };
}

describe('IdentityKeySource against a real gRPC IdentityService', () => {
  let identity: Awaited<ReturnType<typeof fakeIdentity>>;
  let server: RunningServer;
  let client: IdentityServiceClient;

  before(async () => {
    identity = await fakeIdentity();
    server = identity.server;
    client = dial(IdentityServiceClient, server.address, { mode: 'insecure-loopback' });
  });
  after(async () => {
    client.close();
    await server.shutdown();
  });
  beforeEach(() => {
    Object.assign(identity.state, {
      keys: [published('k1', k1, KeyStatus.KEY_STATUS_ACTIVE)],
      cacheForSeconds: 300,
      calls: 0,
      down: false,
      delayMs: 0,
    });
  });

  const setup = (opts: IdentityKeySourceOptions = {}) => {
    const clock = new ManualClock(T0 + 10_000);
    const keys = new IdentityKeySource(client, { clock, ...opts });
    const verifier = new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys, clock });
    return { clock, keys, verifier };
  };

  test('fetches the keys once and serves later tokens from its cache, concurrent ones included', async () => {
    const { verifier } = setup();
    const token = tokenBy(k1, 'k1');
    const claims = await verifier.verify(token, { presentedIp: '203.0.113.7' });
    assert.equal(claims.accountId, 'acc_01HZX3');
    for (let i = 0; i < 10; i++) await verifier.verify(token);
    await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    assert.equal(identity.state.calls, 1);
  });

  test('a cold start under concurrent load makes a single call', async () => {
    identity.state.delayMs = 50;
    const { verifier } = setup();
    await Promise.all(Array.from({ length: 30 }, () => verifier.verify(tokenBy(k1, 'k1'))));
    assert.equal(identity.state.calls, 1);
  });

  test('refetches when cache_for runs out (and uses a default when identity sends none)', async () => {
    identity.state.cacheForSeconds = 60;
    const { verifier, clock } = setup();
    const token = tokenBy(k1, 'k1');
    await verifier.verify(token);
    clock.advance(59_000);
    await verifier.verify(token);
    assert.equal(identity.state.calls, 1);
    clock.advance(2_000);
    await verifier.verify(token);
    assert.equal(identity.state.calls, 2);

    identity.state.cacheForSeconds = undefined;
    clock.advance(61_000);
    await verifier.verify(token);
    assert.equal(identity.state.calls, 3);
    clock.advance(299_000);
    await verifier.verify(token);
    assert.equal(identity.state.calls, 3, 'default cache lifetime is 300 s');
  });

  test('follows a rotation to a new kid; the retired key verifies its tokens until its not_after', async () => {
    const { verifier, clock } = setup();
    const old = tokenBy(k1, 'k1');
    await verifier.verify(old);
    assert.equal(identity.state.calls, 1);

    identity.state.keys = [
      published('k2', k2, KeyStatus.KEY_STATUS_ACTIVE, { notBefore: new Date(T0) }),
      published('k1', k1, KeyStatus.KEY_STATUS_RETIRED, { notAfter: new Date(T0 + 40 * 60_000) }),
    ];
    clock.advance(31_000);
    const fresh = tokenBy(k2, 'k2', { issuedAt: new Date(T0 + 40_000) });
    await verifier.verify(fresh);
    assert.equal(identity.state.calls, 2, 'one refetch for the new kid');
    await verifier.verify(old);
    assert.equal(identity.state.calls, 2);

    clock.set(T0 + 41 * 60_000);
    await assertRefused(verifier.verify(old), old, 'unknown_key', /unknown key/);
    await verifier.verify(fresh);
  });

  test('a new kid seen right after a fetch waits for the refresh interval (it is rate-limited)', async () => {
    const { verifier, clock } = setup();
    await verifier.verify(tokenBy(k1, 'k1'));
    identity.state.keys = [...identity.state.keys, published('k2', k2, KeyStatus.KEY_STATUS_ACTIVE)];
    const fresh = tokenBy(k2, 'k2');
    await assertRefused(verifier.verify(fresh), fresh, 'unknown_key', /unknown key/);
    assert.equal(identity.state.calls, 1);
    clock.advance(30_000);
    await verifier.verify(fresh);
    assert.equal(identity.state.calls, 2);
  });

  test('a NEXT key is not used before its not_before, nor for tokens dated before it', async () => {
    identity.state.cacheForSeconds = 3600;
    identity.state.keys = [
      published('k1', k1, KeyStatus.KEY_STATUS_ACTIVE),
      published('k2', k2, KeyStatus.KEY_STATUS_NEXT, { notBefore: new Date(T0 + 10 * 60_000) }),
    ];
    const { verifier, clock } = setup();
    const premature = tokenBy(k2, 'k2');
    await assertRefused(verifier.verify(premature), premature, 'unknown_key', /unknown key/);
    clock.set(T0 + 11 * 60_000);
    await verifier.verify(tokenBy(k2, 'k2', { issuedAt: new Date(T0 + 11 * 60_000) }));
    const backdated = tokenBy(k2, 'k2', { issuedAt: new Date(T0 + 5 * 60_000) });
    await assertRefused(verifier.verify(backdated), backdated, 'bad_signature', /dated before its signing key became valid/);
    assert.equal(identity.state.calls, 1);
  });

  test('hammering with 50 unknown kids costs at most one GetSigningKeys call per interval', async () => {
    identity.state.delayMs = 20;
    const { verifier, clock } = setup();
    await verifier.verify(tokenBy(k1, 'k1'));
    assert.equal(identity.state.calls, 1);
    clock.advance(30_000);

    const forged = Array.from({ length: 50 }, (_, i) => tokenBy(k1, `forged-${i}`));
    await Promise.all(forged.map((t) => assertRefused(verifier.verify(t), t, 'unknown_key', /unknown key/)));
    assert.ok(identity.state.calls <= 2, `${identity.state.calls} calls`);
    for (const t of forged) await assertRefused(verifier.verify(t), t, 'unknown_key', /unknown key/);
    assert.ok(identity.state.calls <= 2, `${identity.state.calls} calls after 100 forged tokens`);

    // A steady trickle over 100 s: one refetch per 30 s at most (plus cache_for refreshes: none here).
    const before = identity.state.calls;
    for (let s = 0; s < 100; s++) {
      clock.advance(1_000);
      const t = tokenBy(k1, `trickle-${s}`);
      await assertRefused(verifier.verify(t), t, 'unknown_key', /unknown key/);
    }
    assert.ok(identity.state.calls - before <= 4, `${identity.state.calls - before} calls in 100 s`);
  });

  test('cold start with 50 unknown kids at once makes one call', async () => {
    identity.state.delayMs = 20;
    const { verifier } = setup();
    const forged = Array.from({ length: 50 }, (_, i) => tokenBy(k1, `forged-${i}`));
    await Promise.all(forged.map((t) => assertRefused(verifier.verify(t), t, 'unknown_key', /unknown key/)));
    assert.equal(identity.state.calls, 1);
  });

  test('identity unreachable: UNAVAILABLE (not the token’s fault), back-off, stale keys for a while, then fail closed', async () => {
    identity.state.down = true;
    const { verifier, clock } = setup({ failureRetrySeconds: 5, maxStaleSeconds: 900 });
    const token = tokenBy(k1, 'k1');
    const unavailable = (err: unknown) =>
      err instanceof UnavailableError && /identity's session signing keys could not be fetched \(UNAVAILABLE\)/.test(err.message);
    await assert.rejects(verifier.verify(token), unavailable);
    await assert.rejects(verifier.verify(token), unavailable);
    assert.equal(identity.state.calls, 1, 'no retry inside the back-off');
    clock.advance(5_000);
    await assert.rejects(verifier.verify(token), unavailable);
    assert.equal(identity.state.calls, 2);

    identity.state.down = false;
    clock.advance(5_000);
    await verifier.verify(token);
    assert.equal(identity.state.calls, 3);

    identity.state.down = true;
    clock.advance(300_000 + 1);
    await verifier.verify(token); // stale but within maxStale
    assert.equal(identity.state.calls, 4);
    clock.advance(900_000);
    await assert.rejects(verifier.verify(token), unavailable);
  });

  test('a slow identity hits the call deadline', async () => {
    identity.state.delayMs = 500;
    const { keys } = setup({ deadlineMs: 100 });
    await assert.rejects(keys.prefetch(), (err: unknown) => err instanceof UnavailableError && /DEADLINE_EXCEEDED/.test(err.message));
  });

  test('ignores published keys it cannot trust: wrong algorithm or status, bad length, two keys under one kid', async () => {
    const bad = published('k-alg', k1, KeyStatus.KEY_STATUS_ACTIVE);
    bad.algorithm = KeyAlgorithm.KEY_ALGORITHM_UNSPECIFIED;
    identity.state.keys = [
      bad,
      published('k-status', k1, KeyStatus.KEY_STATUS_UNSPECIFIED),
      { ...published('k-short', k1, KeyStatus.KEY_STATUS_ACTIVE), publicKey: Buffer.alloc(31) },
      published('k-dup', k1, KeyStatus.KEY_STATUS_ACTIVE),
      published('k-dup', k2, KeyStatus.KEY_STATUS_ACTIVE),
      published('k1', k1, KeyStatus.KEY_STATUS_ACTIVE),
    ];
    const { verifier } = setup();
    await verifier.verify(tokenBy(k1, 'k1'));
    for (const kid of ['k-alg', 'k-status', 'k-short', 'k-dup']) {
      const t = tokenBy(k1, kid);
      await assertRefused(verifier.verify(t), t, 'unknown_key', /unknown key/);
    }
  });

  test('RemoteSessionChecker fails closed while identity does not implement VerifySession', async () => {
    const checker = new RemoteSessionChecker(client, { deadlineMs: 2_000 });
    await assert.rejects(
      checker.check(tokenBy(k1, 'k1'), '203.0.113.7'),
      (err: unknown) => err instanceof UnavailableError && /identity could not confirm the session \(UNIMPLEMENTED\)/.test(err.message),
    );
  });
});
