// The seal state machine (SecretsService SealStatus / Initialize / Unseal / Seal / RotateMasterKey;
// P3; DESIGN §5 "unsealing is a critical action": fail closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError, FailedPreconditionError, InvalidArgumentError, ManualClock, PermissionDeniedError } from '@gatehouse/core';
import { KeyFileError, createKeyFile, parseKeyFile } from './key-file.js';
import { MasterKeyWipedError, type MasterKey } from './master-key.js';
import { DEFAULT_UNSEAL_PROGRESS_IDLE_MS, SealManager, type SealStatus, type UnsealConfirmation } from './seal-manager.js';
import { GOOD_PASSPHRASE, InMemoryKeyFileStore, TEST_KEY_FILE_OPTIONS, caught } from './seal-test-support.js';

const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);

function setup(options: { idleMs?: number; store?: InMemoryKeyFileStore } = {}) {
  const clock = new ManualClock(T0);
  const store = options.store ?? new InMemoryKeyFileStore();
  const manager = new SealManager({
    store,
    clock,
    keyFile: TEST_KEY_FILE_OPTIONS,
    ...(options.idleMs ? { progressIdleMs: options.idleMs } : {}),
  });
  return { clock, store, manager };
}

/** A second process on the same key file (a restart). */
function restart(store: InMemoryKeyFileStore, clock = new ManualClock(T0)): SealManager {
  return new SealManager({ store, clock, keyFile: TEST_KEY_FILE_OPTIONS });
}

const sealed = (err: unknown) => err instanceof FailedPreconditionError && err.message === 'sealed';

function invalid(field: string, message?: RegExp) {
  return (err: unknown) => err instanceof InvalidArgumentError && err.field === field && (message === undefined || message.test(err.message));
}

async function sharesSeal(threshold = 3, count = 5, idleMs?: number) {
  const s = setup(idleMs ? { idleMs } : {});
  const { shares } = await s.manager.initialize({ mode: 'shares', threshold, shares: count });
  return { ...s, shares };
}

test('uninitialised: SealStatus reports it; the master key and unsealing are refused; sealing is a no-op', async () => {
  const { manager } = setup();
  const status = await manager.status();
  assert.deepEqual(status, {
    initialized: false,
    sealed: true,
    mode: undefined,
    keyDerivation: undefined,
    threshold: 0,
    shareCount: 0,
    sharesProvided: 0,
    progressExpiresAt: undefined,
    keyVersion: 0,
    rotationPending: false,
    changedAt: new Date(T0),
  });
  assert.throws(() => manager.masterKey(), sealed, 'every data RPC answers FAILED_PRECONDITION "sealed"');
  await assert.rejects(manager.withMasterKey(async () => 1), sealed);
  await assert.rejects(manager.unsealWithPassphrase(GOOD_PASSPHRASE), (e: unknown) => e instanceof FailedPreconditionError && /not initialized/.test(e.message));
  await assert.rejects(manager.unsealWithShare('ghs1-2-1-AA-AAAAAAAA'), (e: unknown) => e instanceof FailedPreconditionError && /not initialized/.test(e.message));
  assert.equal((await manager.seal()).initialized, false);
});

test('Initialize (passphrase) writes the key file and stays sealed; a second Initialize is FAILED_PRECONDITION and writes nothing', async () => {
  const { manager, store, clock } = setup();
  clock.advance(5000);
  const { status, shares } = await manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  assert.deepEqual(shares, []);
  assert.deepEqual(
    { ...status, changedAt: status.changedAt.getTime() },
    {
      initialized: true,
      sealed: true,
      mode: 'passphrase',
      keyDerivation: 'scrypt',
      threshold: 1,
      shareCount: 1,
      sharesProvided: 0,
      progressExpiresAt: undefined,
      keyVersion: 1,
      rotationPending: false,
      changedAt: T0 + 5000,
    },
  );
  assert.equal(store.writes, 1);
  assert.throws(() => manager.masterKey(), sealed, 'Initialize does not unseal');
  const before = store.json;
  for (const spec of [
    { mode: 'passphrase' as const, passphrase: 'another good passphrase' },
    { mode: 'shares' as const, threshold: 2, shares: 3 },
  ]) {
    await assert.rejects(manager.initialize(spec), (e: unknown) => e instanceof FailedPreconditionError && e.message === 'already initialized');
  }
  assert.equal(store.json, before, 'the key file is never overwritten');
  // Another process finds the file too.
  await assert.rejects(restart(store).initialize({ mode: 'shares', threshold: 2, shares: 2 }), FailedPreconditionError);
});

test('Initialize refuses a weak passphrase or an impossible threshold before writing anything', async () => {
  const { manager, store } = setup();
  await assert.rejects(manager.initialize({ mode: 'passphrase', passphrase: 'too short' }), invalid('passphrase', /at least 16/));
  await assert.rejects(manager.initialize({ mode: 'shares', threshold: 1, shares: 3 }), invalid('threshold'));
  await assert.rejects(manager.initialize({ mode: 'shares', threshold: 2, shares: 20 }), invalid('share_count'));
  assert.equal(store.writes, 0);
  assert.equal((await manager.status()).initialized, false);
});

test('Initialize whose write fails returns no shares and leaves the service uninitialised', async () => {
  const { manager, store } = setup();
  store.failNextWrite(new Error('disk full'));
  await assert.rejects(manager.initialize({ mode: 'shares', threshold: 2, shares: 3 }), /disk full/);
  assert.equal((await manager.status()).initialized, false);
  const { shares } = await manager.initialize({ mode: 'shares', threshold: 2, shares: 3 });
  assert.equal(shares.length, 3);
});

test('concurrent Initialize calls: exactly one creates the key file', async () => {
  const { manager, store } = setup();
  const results = await Promise.allSettled([
    manager.initialize({ mode: 'shares', threshold: 2, shares: 3 }),
    manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }),
    manager.initialize({ mode: 'shares', threshold: 3, shares: 3 }),
  ]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof FailedPreconditionError));
  assert.equal(store.writes, 1);
});

test('passphrase unseal: wrong passphrase is PERMISSION_DENIED and stays sealed; the right one unseals; then Unseal is a no-op', async () => {
  const { manager, clock } = setup();
  await manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  const err = await caught(() => manager.unsealWithPassphrase('correct horse battery stapler'));
  assert.ok(err instanceof PermissionDeniedError && err.message === 'wrong passphrase');
  assert.equal((await manager.status()).sealed, true);
  clock.advance(60_000);
  const status = await manager.unsealWithPassphrase(GOOD_PASSPHRASE);
  assert.equal(status.sealed, false);
  assert.equal(status.changedAt.getTime(), T0 + 60_000);
  const key = manager.masterKey();
  assert.equal(key.version, 1);
  assert.equal(manager.masterKey(1), key);
  // While unsealed, Unseal returns the status and changes nothing, whatever the input.
  clock.advance(1000);
  const again = await manager.unsealWithPassphrase('not even the right one');
  assert.deepEqual(again, status);
  assert.equal(manager.masterKey(), key);
});

test('the same master key after a restart: the key file is the only state that survives', async () => {
  const { manager, store } = setup();
  await manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  await manager.unsealWithPassphrase(GOOD_PASSPHRASE);
  const keyId = manager.masterKey().keyId;
  const other = restart(store);
  assert.equal((await other.status()).sealed, true, 'a new process starts sealed');
  await other.unsealWithPassphrase(GOOD_PASSPHRASE);
  assert.equal(other.masterKey().keyId, keyId);
});

test('wrong kind of key material for the seal type is INVALID_ARGUMENT naming the right kind', async () => {
  const pass = setup();
  await pass.manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  const { shares } = await createKeyFile({ mode: 'shares', threshold: 2, shares: 2 }, TEST_KEY_FILE_OPTIONS);
  await assert.rejects(pass.manager.unsealWithShare(shares?.[0] as string), invalid('share', /sealed with a passphrase/));
  const sh = await sharesSeal(2, 2);
  await assert.rejects(sh.manager.unsealWithPassphrase(GOOD_PASSPHRASE), invalid('passphrase', /sealed with Shamir shares/));
  assert.equal((await sh.manager.status()).sharesProvided, 0);
});

test('shares unseal: progress accumulates share by share, the threshold-th share unseals, progress then reads 0', async () => {
  const { manager, shares, clock } = await sharesSeal(3, 5);
  let status = await manager.status();
  assert.deepEqual([status.mode, status.threshold, status.shareCount, status.sharesProvided, status.keyDerivation], ['shares', 3, 5, 0, undefined]);
  status = await manager.unsealWithShare(shares[4] as string);
  assert.deepEqual([status.sealed, status.sharesProvided], [true, 1]);
  assert.equal(status.progressExpiresAt?.getTime(), T0 + DEFAULT_UNSEAL_PROGRESS_IDLE_MS);
  assert.throws(() => manager.masterKey(), sealed);
  clock.advance(1000);
  status = await manager.unsealWithShare(shares[1] as string);
  assert.deepEqual([status.sealed, status.sharesProvided], [true, 2]);
  assert.equal(status.progressExpiresAt?.getTime(), T0 + 1000 + DEFAULT_UNSEAL_PROGRESS_IDLE_MS, 'each share restarts the idle timer');
  status = await manager.unsealWithShare(shares[2] as string);
  assert.deepEqual([status.sealed, status.sharesProvided, status.progressExpiresAt], [false, 0, undefined]);
  assert.equal(manager.masterKey().version, 1);
});

test('the same share twice in a round is INVALID_ARGUMENT and does not count, however it is spelled', async () => {
  const { manager, shares } = await sharesSeal(3, 5);
  await manager.unsealWithShare(shares[0] as string);
  await assert.rejects(manager.unsealWithShare(shares[0] as string), invalid('share', /share 1 was already given in this unseal round/));
  await assert.rejects(manager.unsealWithShare(` ${(shares[0] as string).toLowerCase()}\n`), invalid('share', /already given/));
  assert.equal((await manager.status()).sharesProvided, 1);
  // Two operators pasting the same share at the same moment: one counts, one is refused.
  const { manager: m2, shares: s2 } = await sharesSeal(3, 5);
  const both = await Promise.allSettled([m2.unsealWithShare(s2[3] as string), m2.unsealWithShare(s2[3] as string)]);
  assert.deepEqual(
    both.map((r) => r.status),
    ['fulfilled', 'rejected'],
  );
  assert.equal((await m2.status()).sharesProvided, 1);
});

test('malformed shares, other thresholds and indexes beyond n are INVALID_ARGUMENT; progress is kept', async () => {
  const { manager, shares } = await sharesSeal(3, 4);
  await manager.unsealWithShare(shares[0] as string);
  const s = shares[1] as string;
  await assert.rejects(manager.unsealWithShare(s.slice(0, 20) + (s[20] === 'A' ? 'B' : 'A') + s.slice(21)), invalid('share', /checksum mismatch/));
  await assert.rejects(manager.unsealWithShare('ghs9-3-2-AAAA-AAAAAAAA'), invalid('share', /format version 9/));
  await assert.rejects(manager.unsealWithShare(''), invalid('share', /empty/));
  const other = await createKeyFile({ mode: 'shares', threshold: 2, shares: 6 }, TEST_KEY_FILE_OPTIONS);
  await assert.rejects(manager.unsealWithShare(other.shares?.[0] as string), invalid('share', /2-of-n seal was given; this key file needs 3/));
  const wide = await createKeyFile({ mode: 'shares', threshold: 3, shares: 6 }, TEST_KEY_FILE_OPTIONS);
  await assert.rejects(manager.unsealWithShare(wide.shares?.[5] as string), invalid('share', /index 6 does not exist/));
  assert.equal((await manager.status()).sharesProvided, 1, 'refused input never costs the round');
});

test('shares that do not reconstruct the key: PERMISSION_DENIED at the threshold, progress reset, still sealed; then the right ones work', async () => {
  const { manager, shares } = await sharesSeal(2, 3);
  const foreign = await createKeyFile({ mode: 'shares', threshold: 2, shares: 3 }, TEST_KEY_FILE_OPTIONS);
  await manager.unsealWithShare(shares[0] as string);
  const err = await caught(() => manager.unsealWithShare(foreign.shares?.[1] as string));
  assert.ok(err instanceof PermissionDeniedError);
  assert.equal(err.message, 'the shares do not reconstruct the key');
  const status = await manager.status();
  assert.deepEqual([status.sealed, status.sharesProvided, status.progressExpiresAt], [true, 0, undefined]);
  // Share 1 may be given again in the new round.
  await manager.unsealWithShare(shares[0] as string);
  assert.equal((await manager.unsealWithShare(shares[2] as string)).sealed, false);
});

test('progress is discarded after the idle time (injected clock); a share just before the deadline keeps it', async () => {
  const idle = 5 * 60 * 1000;
  const { manager, shares, clock } = await sharesSeal(3, 5, idle);
  await manager.unsealWithShare(shares[0] as string);
  clock.advance(idle - 1);
  await manager.unsealWithShare(shares[1] as string);
  assert.equal((await manager.status()).sharesProvided, 2);
  clock.advance(idle);
  const status = await manager.status();
  assert.deepEqual([status.sharesProvided, status.progressExpiresAt], [0, undefined], 'idle for the whole idle time: discarded');
  // A new round starts; the expired shares do not count and may be given again.
  assert.equal((await manager.unsealWithShare(shares[0] as string)).sharesProvided, 1);
  assert.equal((await manager.unsealWithShare(shares[1] as string)).sharesProvided, 2);
  assert.equal((await manager.unsealWithShare(shares[2] as string)).sealed, false);
});

test('Seal wipes the master key at once: a key obtained before is zeroed and unusable; data RPCs get "sealed"; idempotent', async () => {
  const { manager, clock } = setup();
  await manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  await manager.unsealWithPassphrase(GOOD_PASSPHRASE);
  const held = manager.masterKey();
  let bytes: Buffer | undefined;
  held.withBytes((b) => {
    bytes = b; // observing the memory, only for this test
  });
  clock.advance(3000);
  const status = await manager.seal();
  assert.deepEqual([status.sealed, status.initialized, status.changedAt.getTime()], [true, true, T0 + 3000]);
  assert.ok(held.wiped && bytes?.every((b) => b === 0), 'the key bytes in memory are zero');
  assert.throws(() => held.deriveKey('data-key-wrap/v1'), MasterKeyWipedError);
  assert.throws(() => manager.masterKey(), sealed);
  clock.advance(3000);
  const again = await manager.seal();
  assert.equal(again.changedAt.getTime(), T0 + 3000, 'sealing a sealed service changes nothing');
  await manager.unsealWithPassphrase(GOOD_PASSPHRASE);
  assert.notEqual(manager.masterKey(), held, 'unsealing again loads a fresh copy');
});

test('Seal discards unseal progress and wipes the shares held in it', async () => {
  const { manager, shares } = await sharesSeal(3, 5);
  await manager.unsealWithShare(shares[0] as string);
  await manager.unsealWithShare(shares[1] as string);
  await manager.seal();
  assert.equal((await manager.status()).sharesProvided, 0);
  await manager.unsealWithShare(shares[0] as string);
  assert.equal((await manager.status()).sharesProvided, 1);
});

test('Seal during an unseal in flight wins: the unseal fails and the service stays sealed', async () => {
  const { manager } = setup();
  await manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  const unseal = manager.unsealWithPassphrase(GOOD_PASSPHRASE); // scrypt runs on the thread pool
  await manager.seal();
  await assert.rejects(unseal, (e: unknown) => e instanceof FailedPreconditionError && /sealed while this unseal was in progress/.test(e.message));
  assert.throws(() => manager.masterKey(), sealed);
  assert.equal((await manager.status()).sealed, true);
  // A Seal while the final step waits on its gate (audit) also wins, and wipes what was reconstructed.
  const gated = manager.unsealWithPassphrase(GOOD_PASSPHRASE, { confirm: async () => void (await manager.seal()) });
  await assert.rejects(gated, (e: unknown) => e instanceof FailedPreconditionError && /sealed while/.test(e.message));
  assert.throws(() => manager.masterKey(), sealed);
  // The same with shares: a share given just before a Seal does not survive it.
  const sh = await sharesSeal(2, 3);
  await sh.manager.unsealWithShare(sh.shares[0] as string);
  const last = sh.manager.unsealWithShare(sh.shares[1] as string);
  await sh.manager.seal();
  await assert.rejects(last, (e: unknown) => e instanceof FailedPreconditionError && /sealed while/.test(e.message));
  const early = sh.manager.unsealWithShare(sh.shares[2] as string);
  await sh.manager.seal();
  await assert.rejects(early, FailedPreconditionError);
  assert.deepEqual([(await sh.manager.status()).sealed, (await sh.manager.status()).sharesProvided], [true, 0]);
});

test('fail closed: if the confirmation gate (audit) throws, nothing is unsealed; with shares the last one can be retried', async () => {
  const unavailable = new Error('audit unavailable');
  const pass = setup();
  await pass.manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  await assert.rejects(pass.manager.unsealWithPassphrase(GOOD_PASSPHRASE, { confirm: () => Promise.reject(unavailable) }), /audit unavailable/);
  assert.throws(() => pass.manager.masterKey(), sealed);

  const { manager, shares } = await sharesSeal(2, 3);
  await manager.unsealWithShare(shares[0] as string);
  await assert.rejects(manager.unsealWithShare(shares[1] as string, { confirm: () => Promise.reject(unavailable) }), /audit unavailable/);
  let status = await manager.status();
  assert.deepEqual([status.sealed, status.sharesProvided], [true, 1], 'the k-1 earlier shares stay; the last was not accepted');
  const seen: UnsealConfirmation[] = [];
  status = await manager.unsealWithShare(shares[1] as string, { confirm: async (c) => void seen.push(c) });
  assert.equal(status.sealed, false);
  assert.deepEqual(seen, [{ mode: 'shares', keyVersion: 1, keyId: manager.masterKey().keyId }], 'the gate sees no key material');
});

test('no status and no error ever carries key material', async () => {
  const { manager, shares } = await sharesSeal(2, 3);
  const texts: string[] = [];
  texts.push(JSON.stringify(await manager.unsealWithShare(shares[0] as string)));
  for (const bad of [shares[0] as string, `${(shares[1] as string).slice(0, -2)}AA`]) {
    texts.push((await caught(() => manager.unsealWithShare(bad))).message);
  }
  texts.push(JSON.stringify(await manager.unsealWithShare(shares[1] as string)));
  texts.push(JSON.stringify({ key: manager.masterKey() }));
  for (const t of texts) {
    for (const s of shares) assert.ok(!t.includes((s.split('-')[3] as string).slice(0, 16)), t);
    manager.masterKey().withBytes((b) => assert.ok(!t.includes(b.toString('hex')) && !t.includes(b.toString('base64'))));
  }
  const pass = setup();
  await pass.manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  const wrong = 'my other secret passphrase';
  assert.ok(!(await caught(() => pass.manager.unsealWithPassphrase(wrong))).message.includes(wrong));
});

test('a damaged key file is an integrity error (INTERNAL), not a wrong key; the round is discarded', async () => {
  const { store, shares } = await sharesSeal(2, 2);
  const file = parseKeyFile(JSON.parse(store.json as string));
  const tag = Buffer.from(file.masterKeys[0]?.tag as string, 'base64');
  tag[0] = (tag[0] as number) ^ 1;
  store.json = JSON.stringify({ ...file, masterKeys: [{ ...file.masterKeys[0], tag: tag.toString('base64') }] });
  const fresh = restart(store);
  await fresh.unsealWithShare(shares[0] as string);
  await assert.rejects(fresh.unsealWithShare(shares[1] as string), (e: unknown) => e instanceof KeyFileError && e.failure === 'not_authentic');
  assert.equal((await fresh.status()).sharesProvided, 0);
  store.json = '{"format":"something else"}';
  await assert.rejects(restart(store).status(), (e: unknown) => e instanceof KeyFileError && e.failure === 'malformed');
});

// --- rotation ------------------------------------------------------------------------------------

async function unsealedPassphrase() {
  const s = setup();
  await s.manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  await s.manager.unsealWithPassphrase(GOOD_PASSPHRASE);
  return s;
}

test('RotateMasterKey: version + 1, the rewrap pass gets (old keys, new key), old key wiped and gone from the file; same passphrase', async () => {
  const { manager, store } = await unsealedPassphrase();
  const v1 = manager.masterKey();
  let seen: { from: MasterKey[]; to: MasterKey; fileDuring: number } | undefined;
  const { status, rewrapped } = await manager.rotateMasterKey(async (from, to) => {
    seen = { from: [...from], to, fileDuring: parseKeyFile(JSON.parse(store.json as string)).masterKeys.length };
    assert.equal(manager.masterKey(), to, 'new values are encrypted under the new key during the pass');
    assert.equal(manager.masterKey(1), v1, 'old data keys still open during the pass');
    return 42;
  });
  assert.equal(rewrapped, 42);
  assert.deepEqual([seen?.from.map((k) => k.version), seen?.to.version, seen?.fileDuring], [[1], 2, 2], 'both keys are persisted before re-wrapping');
  assert.deepEqual([status.keyVersion, status.rotationPending, status.sealed], [2, false, false]);
  assert.ok(v1.wiped, 'the retired key is wiped from memory');
  assert.throws(() => manager.masterKey(1), /no master key of version 1/);
  const file = parseKeyFile(JSON.parse(store.json as string));
  assert.deepEqual(
    file.masterKeys.map((w) => w.version),
    [2],
  );
  const other = restart(store);
  assert.equal((await other.status()).keyVersion, 2, 'SealStatus shows the key version while sealed');
  await other.unsealWithPassphrase(GOOD_PASSPHRASE);
  assert.equal(other.masterKey().keyId, manager.masterKey().keyId);
});

test('RotateMasterKey with shares: the same shares unseal the rotated file', async () => {
  const { manager, store, shares } = await sharesSeal(2, 3);
  await manager.unsealWithShare(shares[0] as string);
  await manager.unsealWithShare(shares[1] as string);
  await manager.rotateMasterKey(async () => 0);
  const other = restart(store);
  await other.unsealWithShare(shares[2] as string);
  await other.unsealWithShare(shares[0] as string);
  assert.equal(other.masterKey().version, 2);
  assert.equal(other.masterKey().keyId, manager.masterKey().keyId);
});

test('RotateMasterKey while sealed is FAILED_PRECONDITION "sealed"; a second concurrent rotation is ABORTED', async () => {
  const { manager } = setup();
  await assert.rejects(manager.rotateMasterKey(async () => 0), sealed);
  await manager.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  await assert.rejects(manager.rotateMasterKey(async () => 0), sealed);
  await manager.unsealWithPassphrase(GOOD_PASSPHRASE);
  let release!: () => void;
  const first = manager.rotateMasterKey(() => new Promise<number>((r) => (release = () => r(1))));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(manager.rotateMasterKey(async () => 0), (e: unknown) => e instanceof AbortedError);
  release();
  assert.equal((await first).status.keyVersion, 2);
});

test('a failed rewrap pass leaves both keys in the file (rotationPending); the next rotation resumes with the same new key', async () => {
  const { manager, store } = await unsealedPassphrase();
  await assert.rejects(manager.rotateMasterKey(async () => Promise.reject(new Error('store unavailable'))), /store unavailable/);
  let status = await manager.status();
  assert.deepEqual([status.keyVersion, status.rotationPending], [2, true]);
  const v2 = manager.masterKey();
  // A crash now: a new process unseals with both keys, new writes under version 2.
  const other = restart(store);
  await other.unsealWithPassphrase(GOOD_PASSPHRASE);
  assert.equal(other.masterKey().keyId, v2.keyId);
  assert.equal(other.masterKey(1).version, 1);
  const result = await other.rotateMasterKey(async (from, to) => {
    assert.deepEqual([from.map((k) => k.version), to.keyId], [[1], v2.keyId], 'resumed: no third key');
    return 7;
  });
  status = result.status;
  assert.deepEqual([status.keyVersion, status.rotationPending, result.rewrapped], [2, false, 7]);
});

test('a failed key file write aborts the rotation cleanly: nothing changes', async () => {
  const { manager, store } = await unsealedPassphrase();
  const before = store.json;
  const key = manager.masterKey();
  store.failNextWrite(new Error('read-only file system'));
  let called = false;
  await assert.rejects(
    manager.rotateMasterKey(async () => {
      called = true;
      return 0;
    }),
    /read-only/,
  );
  assert.equal(called, false);
  assert.equal(store.json, before);
  assert.equal(manager.masterKey(), key);
  assert.equal((await manager.status()).keyVersion, 1);
});

test('rotation waits for writes still encrypting under the old key before its rewrap pass (no data key left behind)', async () => {
  const { manager } = await unsealedPassphrase();
  const events: string[] = [];
  let finishWrite!: () => void;
  const write = manager.withMasterKey(async (key) => {
    events.push(`write starts under v${key.version}`);
    await new Promise<void>((r) => (finishWrite = r));
    events.push('write stored');
  });
  const rotation = manager.rotateMasterKey(async () => {
    events.push('rewrap pass');
    return 1;
  });
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  // A write that starts now uses the new key and does not hold the rotation up.
  await manager.withMasterKey(async (key) => void events.push(`write under v${key.version}`));
  assert.deepEqual(events, ['write starts under v1', 'write under v2']);
  finishWrite();
  await write;
  await rotation;
  assert.deepEqual(events, ['write starts under v1', 'write under v2', 'write stored', 'rewrap pass']);
});

test('Seal during a rotation: the keys are wiped at once, the rotation fails, and the file stays openable', async () => {
  const { manager } = await unsealedPassphrase();
  const rotation = manager.rotateMasterKey(async (_from, to) => {
    await manager.seal();
    to.deriveKey('data-key-wrap/v1'); // the pass would now use a wiped key
    return 0;
  });
  await assert.rejects(rotation, MasterKeyWipedError);
  assert.throws(() => manager.masterKey(), sealed);
  const status: SealStatus = await manager.status();
  assert.deepEqual([status.sealed, status.rotationPending], [true, true]);
  await manager.unsealWithPassphrase(GOOD_PASSPHRASE);
  assert.equal(manager.masterKey().version, 2);
});
