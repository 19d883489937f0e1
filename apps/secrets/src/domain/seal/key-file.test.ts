// The sealed key file (P3 "a strongly encrypted file"; REQUIREMENTS "Secrets in a vault": the key
// is kept outside the database): passphrase (scrypt, RFC 7914) or k-of-n Shamir shares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { InvalidArgumentError, PermissionDeniedError, isDomainError } from '@gatehouse/core';
import {
  DEFAULT_SCRYPT_PARAMETERS,
  KeyFileError,
  MIN_SCRYPT_N,
  checkPassphrasePolicy,
  createKeyFile,
  openWithPassphrase,
  openWithShares,
  parseKeyFile,
  unlockWithPassphrase,
  unlockWithShares,
  type KeyFile,
  type KeyFileFailure,
  type PassphraseKeyFile,
  type SharesKeyFile,
} from './key-file.js';
import type { MasterKey } from './master-key.js';
import { decodeShare, encodeShare, split } from './shamir.js';
import { GOOD_PASSPHRASE, TEST_KEY_FILE_OPTIONS, caught, recordingRandom, seededRandom } from './seal-test-support.js';

const opts = TEST_KEY_FILE_OPTIONS;

function keyFileError(failure: KeyFileFailure, message?: RegExp) {
  return (err: unknown) => err instanceof KeyFileError && err.failure === failure && !isDomainError(err) && (message === undefined || message.test(err.message));
}

function invalid(field: string, message?: RegExp) {
  return (err: unknown) => err instanceof InvalidArgumentError && err.field === field && (message === undefined || message.test(err.message));
}

/** Every representation of `bytes` a careless format could contain. */
function encodings(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  return [b.toString('hex'), b.toString('base64'), b.toString('base64url').slice(0, 40)];
}

function bytesOf(key: MasterKey): Buffer {
  return key.withBytes((b) => Buffer.from(b));
}

function mutate<T extends KeyFile>(file: T, change: (f: Record<string, unknown> & { masterKeys: Record<string, unknown>[] }) => void): KeyFile {
  const copy = JSON.parse(JSON.stringify(file)) as Record<string, unknown> & { masterKeys: Record<string, unknown>[] };
  change(copy);
  return copy as unknown as KeyFile;
}

function flipBase64(text: string): string {
  const b = Buffer.from(text, 'base64');
  b[0] = (b[0] as number) ^ 0x01;
  return b.toString('base64');
}

// --- passphrase mode ---------------------------------------------------------------------------

test('default passphrase file: scrypt N=2^17, r=8, p=1, 16-byte salt stored in the file; opens with the passphrase (real cost)', async () => {
  const t0 = performance.now();
  const { file, master, shares } = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  const created = performance.now() - t0;
  assert.equal(shares, undefined);
  assert.equal(file.mode, 'passphrase');
  const kdf = (file as PassphraseKeyFile).kdf;
  assert.deepEqual({ name: kdf.name, n: kdf.n, r: kdf.r, p: kdf.p }, { name: 'scrypt', n: 2 ** 17, r: 8, p: 1 });
  assert.deepEqual({ n: kdf.n, r: kdf.r, p: kdf.p }, { ...DEFAULT_SCRYPT_PARAMETERS });
  assert.equal(Buffer.from(kdf.salt, 'base64').length, 16);
  assert.equal(file.format, 'gatehouse.secrets.key-file');
  assert.equal(file.formatVersion, 1);
  assert.equal(master.version, 1);
  const t1 = performance.now();
  const opened = await openWithPassphrase(JSON.parse(JSON.stringify(file)) as KeyFile, GOOD_PASSPHRASE);
  const openedIn = performance.now() - t1;
  assert.equal(opened.keyId, master.keyId);
  assert.deepEqual(bytesOf(opened), bytesOf(master));
  // Not a timed test (machines are noisy): a wide sanity bound, the real timing goes in the report.
  assert.ok(created < 10_000 && openedIn < 10_000, `create ${created.toFixed(0)} ms, open ${openedIn.toFixed(0)} ms`);
});

test('the passphrase file holds no secret: not the passphrase, not the master key, not the derived key', async () => {
  const random = recordingRandom(seededRandom(5));
  const { file, master } = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, { ...opts, random });
  const json = JSON.stringify(file);
  assert.ok(!json.includes(GOOD_PASSPHRASE) && !json.includes(Buffer.from(GOOD_PASSPHRASE).toString('base64')));
  for (const e of encodings(bytesOf(master))) assert.ok(!json.includes(e), 'master key bytes in the file');
  assert.deepEqual(Object.keys(file).sort(), ['format', 'formatVersion', 'kdf', 'masterKeys', 'mode', 'unsealKeyCheck']);
  assert.deepEqual(Object.keys(file.masterKeys[0] ?? {}).sort(), ['ciphertext', 'iv', 'keyId', 'tag', 'version']);
  // The random bytes used for the master key were wiped after use.
  assert.ok(random.handedOut.every((b) => b.every((x) => x === 0)), 'every random buffer handed to the key file was wiped');
});

test('wrong passphrase: PERMISSION_DENIED "wrong passphrase", the same for a near miss, never echoing the passphrase', async () => {
  const { file } = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  for (const wrong of ['correct horse battery stapl', 'Correct horse battery staple', `${GOOD_PASSPHRASE} `, 'x']) {
    const err = await caught(() => openWithPassphrase(file, wrong, opts));
    assert.ok(err instanceof PermissionDeniedError);
    assert.equal(err.message, 'wrong passphrase');
  }
  await assert.rejects(openWithPassphrase(file, '', opts), invalid('passphrase', /is required/));
});

test('passphrases are compared after Unicode NFKC normalisation (NIST SP 800-63B), so a full-width form opens the file', async () => {
  const { file, master } = await createKeyFile({ mode: 'passphrase', passphrase: 'Ｃｏｒｒｅｃｔ Ｈｏｒｓｅ Ｂａｔｔｅｒｙ' }, opts);
  assert.equal((await openWithPassphrase(file, 'Correct Horse Battery', opts)).keyId, master.keyId);
  // Composed and decomposed accents are the same passphrase.
  const nfc = 'crème brûlée au café';
  const made = await createKeyFile({ mode: 'passphrase', passphrase: nfc }, opts);
  assert.equal((await openWithPassphrase(made.file, nfc.normalize('NFD'), opts)).keyId, made.master.keyId);
});

test('passphrase policy: each rule refused as INVALID_ARGUMENT on "passphrase" naming the rule, without the passphrase', async () => {
  const cases: Array<[string, RegExp]> = [
    ['short but ok-ish', /./], // exactly 16: accepted (checked below)
    ['fifteen chars!!', /at least 16 characters/],
    ['aaaaaaaaaaaaaaaaaaaaaaaa', /single character repeated/],
    ['1234567890123456789', /only digits/],
    ['١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧', /only digits/], // Arabic-Indic digits are digits too
    ['x'.repeat(1025) + 'y', /at most 1024 characters/],
  ];
  assert.doesNotThrow(() => checkPassphrasePolicy('short but ok-ish'));
  assert.equal([...'short but ok-ish'].length, 16);
  for (const [passphrase, rule] of cases.slice(1)) {
    const err = await caught(() => createKeyFile({ mode: 'passphrase', passphrase }, opts));
    assert.ok(err instanceof InvalidArgumentError && err.field === 'passphrase', passphrase.slice(0, 20));
    assert.match(err.message, rule);
    assert.ok(!err.message.includes(passphrase.slice(0, 10)));
  }
  // Characters are code points: 15 emoji are 30 UTF-16 units but still too short.
  assert.throws(() => checkPassphrasePolicy('🔑'.repeat(14) + '🗝'), invalid('passphrase', /at least 16/));
  assert.throws(() => checkPassphrasePolicy(undefined as unknown as string), invalid('passphrase'));
});

test('a cheap test-only scrypt cost cannot reach production: such a file does not open without the test option', async () => {
  const { file } = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  assert.equal((file as PassphraseKeyFile).kdf.n, 2 ** 10);
  await assert.rejects(openWithPassphrase(file, GOOD_PASSPHRASE), keyFileError('weak_kdf', new RegExp(`N=1024, below the minimum N=${MIN_SCRYPT_N}`)));
  // Downgrading the cost in a production file is refused the same way (and would not open anyway).
  const downgraded = mutate(file, (f) => ((f.kdf as Record<string, unknown>).n = 2 ** 9));
  await assert.rejects(openWithPassphrase(downgraded, GOOD_PASSPHRASE, opts), keyFileError('weak_kdf'));
});

test('a changed salt or cost derives another key: refused as a wrong passphrase, nothing learnt', async () => {
  const { file } = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  const salted = mutate(file, (f) => ((f.kdf as Record<string, unknown>).salt = flipBase64((file as PassphraseKeyFile).kdf.salt)));
  await assert.rejects(openWithPassphrase(salted, GOOD_PASSPHRASE, opts), (e: unknown) => e instanceof PermissionDeniedError);
  const costlier = mutate(file, (f) => ((f.kdf as Record<string, unknown>).n = 2 ** 11));
  await assert.rejects(openWithPassphrase(costlier, GOOD_PASSPHRASE, opts), (e: unknown) => e instanceof PermissionDeniedError);
});

test('right passphrase but a damaged wrapped key: an integrity error (INTERNAL), not "wrong passphrase"', async () => {
  const { file } = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  const w = file.masterKeys[0] as { iv: string; ciphertext: string; tag: string };
  for (const part of ['iv', 'ciphertext', 'tag'] as const) {
    const damaged = mutate(file, (f) => ((f.masterKeys[0] as Record<string, unknown>)[part] = flipBase64(w[part])));
    await assert.rejects(openWithPassphrase(damaged, GOOD_PASSPHRASE, opts), keyFileError('not_authentic', /damaged or was tampered with/), part);
  }
  // The AAD binds the key id and the version: relabelling the wrapped key fails too.
  const relabelled = mutate(file, (f) => ((f.masterKeys[0] as Record<string, unknown>).keyId = 'mk-0000000000000000'));
  await assert.rejects(openWithPassphrase(relabelled, GOOD_PASSPHRASE, opts), keyFileError('not_authentic'));
  const renumbered = mutate(file, (f) => ((f.masterKeys[0] as Record<string, unknown>).version = 2));
  await assert.rejects(openWithPassphrase(renumbered, GOOD_PASSPHRASE, opts), keyFileError('not_authentic'));
});

test('two files made with the same passphrase have different salts, unseal keys and master keys', async () => {
  const a = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  const b = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  assert.notEqual((a.file as PassphraseKeyFile).kdf.salt, (b.file as PassphraseKeyFile).kdf.salt);
  assert.notEqual(a.file.unsealKeyCheck, b.file.unsealKeyCheck);
  assert.notEqual(a.master.keyId, b.master.keyId);
});

// --- shares mode -------------------------------------------------------------------------------

test('shares file: n text shares returned once, none in the file; any k open it to the same master key', async () => {
  const { file, master, shares } = await createKeyFile({ mode: 'shares', threshold: 3, shares: 5 }, opts);
  assert.ok(shares);
  assert.equal(shares.length, 5);
  for (const [i, s] of shares.entries()) assert.match(s, new RegExp(`^ghs1-3-${i + 1}-[A-Z2-7]{52}-[A-Z2-7]{8}$`));
  const f = file as SharesKeyFile;
  assert.deepEqual({ mode: f.mode, threshold: f.threshold, shareCount: f.shareCount }, { mode: 'shares', threshold: 3, shareCount: 5 });
  assert.deepEqual(Object.keys(file).sort(), ['format', 'formatVersion', 'masterKeys', 'mode', 'shareCount', 'threshold', 'unsealKeyCheck']);
  const json = JSON.stringify(file);
  for (const s of shares) assert.ok(!json.includes(s.split('-')[3] as string), 'a share payload is in the file');
  for (const e of encodings(bytesOf(master))) assert.ok(!json.includes(e), 'the master key is in the file');
  for (const pick of [
    [0, 1, 2],
    [4, 2, 0],
    [1, 3, 4],
    [0, 1, 2, 3, 4],
  ]) {
    const opened = openWithShares(file, pick.map((i) => shares[i] as string));
    assert.equal(opened.keyId, master.keyId, `shares ${pick.join(',')}`);
  }
});

test('shares that do not reconstruct the key: PERMISSION_DENIED, whichever share is foreign', async () => {
  const mine = await createKeyFile({ mode: 'shares', threshold: 2, shares: 3 }, opts);
  const other = await createKeyFile({ mode: 'shares', threshold: 2, shares: 3 }, opts);
  const [a1, a2] = mine.shares as [string, string, string];
  const [b1, b2] = other.shares as [string, string, string];
  for (const set of [
    [b1, b2],
    [a1, b2],
    [b1, a2],
  ]) {
    const err = await caught(() => openWithShares(mine.file, set));
    assert.ok(err instanceof PermissionDeniedError);
    assert.equal(err.message, 'the shares do not reconstruct the key');
    for (const s of set) assert.ok(!err.message.includes(s.slice(10, 30)));
  }
});

test('shares refused as INVALID_ARGUMENT: too few, duplicated, malformed, other threshold, index beyond n, wrong kind', async () => {
  const { file, shares } = await createKeyFile({ mode: 'shares', threshold: 3, shares: 4 }, opts);
  const [s1, s2, s3] = shares as [string, string, string, string];
  assert.throws(() => openWithShares(file, [s1, s2]), invalid('shares', /3 shares are needed, 2 given/));
  assert.throws(() => openWithShares(file, [s1, s2, s2]), invalid('shares', /share 2 was given twice/));
  assert.throws(() => openWithShares(file, [s1, s2, s3.slice(0, -1) + (s3.endsWith('A') ? 'B' : 'A')]), invalid('shares', /checksum mismatch/));
  const twoOfN = encodeShare(split(new Uint8Array(32), 2, 3)[0] as ReturnType<typeof split>[number]);
  assert.throws(() => openWithShares(file, [s1, s2, twoOfN]), invalid('shares', /2-of-n seal was given; this key file needs 3/));
  const beyond = encodeShare(split(new Uint8Array(32).fill(1), 3, 6)[5] as ReturnType<typeof split>[number]);
  assert.throws(() => openWithShares(file, [s1, s2, beyond]), invalid('shares', /index 6 does not exist: this key file has 4 shares/));
  const short = encodeShare(split(new Uint8Array(16).fill(1), 3, 4)[3] as ReturnType<typeof split>[number]);
  assert.throws(() => openWithShares(file, [s1, s2, short]), invalid('shares', /wrong length/));
  // The wrong kind of material for the file.
  await assert.rejects(openWithPassphrase(file, GOOD_PASSPHRASE, opts), invalid('passphrase', /sealed with Shamir shares/));
  const pass = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  assert.throws(() => openWithShares(pass.file, [s1, s2, s3]), invalid('shares', /sealed with a passphrase/));
});

test('impossible thresholds are refused, naming threshold or share_count (Initialize contract)', async () => {
  await assert.rejects(createKeyFile({ mode: 'shares', threshold: 1, shares: 3 }, opts), invalid('threshold'));
  await assert.rejects(createKeyFile({ mode: 'shares', threshold: 4, shares: 3 }, opts), invalid('threshold', /share_count \(3\)/));
  await assert.rejects(createKeyFile({ mode: 'shares', threshold: 2, shares: 17 }, opts), invalid('share_count', /16/));
  await assert.rejects(createKeyFile({ mode: 'other' } as never, opts), invalid('seal'));
  const max = await createKeyFile({ mode: 'shares', threshold: 16, shares: 16 }, opts);
  assert.equal(openWithShares(max.file, max.shares ?? []).keyId, max.master.keyId);
});

test('a shares file with a damaged wrapped key: integrity error once the shares check out', async () => {
  const { file, shares } = await createKeyFile({ mode: 'shares', threshold: 2, shares: 2 }, opts);
  const damaged = mutate(file, (f) => ((f.masterKeys[0] as Record<string, unknown>).tag = flipBase64(file.masterKeys[0]?.tag as string)));
  assert.throws(() => openWithShares(damaged, shares ?? []), keyFileError('not_authentic'));
  // A damaged check value makes the right shares look wrong (refused, never accepted).
  const kcv = mutate(file, (f) => (f.unsealKeyCheck = flipBase64(file.unsealKeyCheck)));
  assert.throws(() => openWithShares(kcv, shares ?? []), PermissionDeniedError);
});

test('the mode is bound: a shares file relabelled as a passphrase file (or the reverse) does not parse', async () => {
  const { file } = await createKeyFile({ mode: 'shares', threshold: 2, shares: 2 }, opts);
  assert.throws(() => parseKeyFile(mutate(file, (f) => (f.mode = 'passphrase'))), keyFileError('malformed'));
});

// --- parsing -------------------------------------------------------------------------------------

test('parseKeyFile accepts what createKeyFile wrote (after JSON) and refuses anything else, strictly', async () => {
  const { file } = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  assert.deepEqual(parseKeyFile(JSON.parse(JSON.stringify(file))), file);
  const bad: Array<[unknown, KeyFileFailure, RegExp]> = [
    [null, 'malformed', /not a JSON object/],
    [[], 'malformed', /not a JSON object/],
    [{ ...file, format: 'something' }, 'malformed', /format is not/],
    [{ ...file, formatVersion: 2 }, 'unsupported_version', /format version 2 is not supported \(this build reads version 1\)/],
    [{ ...file, formatVersion: undefined }, 'unsupported_version', /missing/],
    [{ ...file, extra: 1 }, 'malformed', /unknown field "extra"/],
    [{ ...file, mode: 'hsm' }, 'malformed', /mode must be/],
    [{ ...file, unsealKeyCheck: 'not base64!' }, 'malformed', /unsealKeyCheck is not base64/],
    [{ ...file, unsealKeyCheck: 'AAAA' }, 'malformed', /unsealKeyCheck must be 16 bytes/],
    [{ ...file, masterKeys: [] }, 'malformed', /masterKeys must list 1 to 8/],
    [mutate(file, (f) => ((f.kdf as Record<string, unknown>).n = 3)), 'malformed', /power of two/],
    [mutate(file, (f) => ((f.kdf as Record<string, unknown>).n = 2 ** 21)), 'malformed', /power of two up to 2\^20/],
    [mutate(file, (f) => Object.assign(f.kdf as object, { n: 2 ** 20, r: 16 })), 'malformed', /within 1 GiB/],
    [mutate(file, (f) => ((f.kdf as Record<string, unknown>).p = 17)), 'malformed', /p must be 1 to 16/],
    [mutate(file, (f) => ((f.kdf as Record<string, unknown>).name = 'pbkdf2')), 'malformed', /kdf.name/],
    [mutate(file, (f) => ((f.masterKeys[0] as Record<string, unknown>).keyId = 'x')), 'malformed', /keyId/],
    [mutate(file, (f) => ((f.masterKeys[0] as Record<string, unknown>).iv = 'AAAA')), 'malformed', /iv must be 12 bytes/],
    [mutate(file, (f) => ((f.masterKeys[0] as Record<string, unknown>).version = 0)), 'malformed', /version/],
    [mutate(file, (f) => f.masterKeys.push({ ...(f.masterKeys[0] as object) })), 'malformed', /above the previous one/],
  ];
  for (const [value, failure, message] of bad) assert.throws(() => parseKeyFile(value), keyFileError(failure, message), String(message));
  // Non-canonical base64 (trailing bits) is refused: one file, one spelling.
  const tag = file.masterKeys[0]?.tag as string;
  const noncanonical = tag.slice(0, -3) + String.fromCharCode(tag.charCodeAt(tag.length - 3) + 1) + '==';
  assert.throws(() => parseKeyFile(mutate(file, (f) => ((f.masterKeys[0] as Record<string, unknown>).tag = noncanonical))), keyFileError('malformed'));
});

// --- rotation support ------------------------------------------------------------------------------

test('rotation at the file level: a new master key under the same unseal material, then the old one retired', async () => {
  const created = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  const unlocked = await unlockWithPassphrase(created.file, GOOD_PASSPHRASE, opts);
  assert.equal(unlocked.current.keyId, created.master.keyId);
  const staged = unlocked.stageNewMasterKey();
  assert.equal(staged.file.masterKeys.length, 2);
  assert.equal(unlocked.masterKeys.length, 1, 'nothing changes in memory before commit');
  staged.commit();
  const v2 = unlocked.current;
  assert.equal(v2.version, 2);
  assert.notEqual(v2.keyId, created.master.keyId);
  assert.equal(staged.file.unsealKeyCheck, created.file.unsealKeyCheck, 'the unseal material did not change');
  assert.deepEqual((staged.file as PassphraseKeyFile).kdf, (created.file as PassphraseKeyFile).kdf);

  // The persisted intermediate file opens with the same passphrase, to both keys (a crash mid-rotation loses nothing).
  const mid = await unlockWithPassphrase(staged.file, GOOD_PASSPHRASE, opts);
  assert.deepEqual(
    mid.masterKeys.map((m) => [m.version, m.keyId]),
    [
      [1, created.master.keyId],
      [2, v2.keyId],
    ],
  );
  assert.equal((await openWithPassphrase(staged.file, GOOD_PASSPHRASE, opts)).keyId, v2.keyId, 'the newest key is current');

  const v1 = unlocked.masterKey(1) as MasterKey;
  const retire = unlocked.stageRetirementOfOlderKeys();
  assert.deepEqual(
    retire.file.masterKeys.map((w) => w.version),
    [2],
  );
  retire.commit();
  assert.ok(v1.wiped, 'the retired key is wiped from memory');
  assert.equal(unlocked.masterKey(1), undefined);
  const after = await unlockWithPassphrase(retire.file, GOOD_PASSPHRASE, opts);
  assert.deepEqual(
    after.masterKeys.map((m) => m.keyId),
    [v2.keyId],
  );
});

test('rotation keeps the Shamir shares valid (the contract: the unseal material does not change)', async () => {
  const created = await createKeyFile({ mode: 'shares', threshold: 2, shares: 3 }, opts);
  const shares = created.shares ?? [];
  const unlocked = unlockWithShares(created.file, [shares[0] as string, shares[2] as string]);
  const staged = unlocked.stageNewMasterKey();
  staged.commit();
  const retired = unlocked.stageRetirementOfOlderKeys();
  retired.commit();
  const reopened = openWithShares(retired.file, [shares[1] as string, shares[2] as string]);
  assert.equal(reopened.keyId, unlocked.current.keyId);
  assert.equal(reopened.version, 2);
});

test('a discarded stage wipes its new key; a stage cannot be applied twice or after a wipe', async () => {
  const { file } = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  const unlocked = await unlockWithPassphrase(file, GOOD_PASSPHRASE, opts);
  const staged = unlocked.stageNewMasterKey();
  staged.discard();
  assert.throws(() => staged.commit(), /already committed or discarded/);
  assert.equal(unlocked.masterKeys.length, 1);
  const late = unlocked.stageNewMasterKey();
  unlocked.wipe();
  assert.throws(() => late.commit(), /wiped \(sealed\)/);
  assert.throws(() => unlocked.current, /wiped/);
});

test('an unlocked key file never shows its keys, and wipe() zeroes the master keys', async () => {
  const { file, master } = await createKeyFile({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE }, opts);
  const unlocked = await unlockWithPassphrase(file, GOOD_PASSPHRASE, opts);
  const hex = bytesOf(master).toString('hex');
  for (const shown of [JSON.stringify({ unlocked }), String(unlocked), inspect(unlocked, { showHidden: true, depth: 10 })]) {
    assert.ok(!shown.includes(hex));
    assert.match(shown, /\[unlocked key file\]/);
  }
  const keys = unlocked.masterKeys;
  unlocked.wipe();
  assert.ok(keys.every((k) => k.wiped));
});

test('openWith* return an independent copy of the current key: the rest is wiped', async () => {
  const { file, shares } = await createKeyFile({ mode: 'shares', threshold: 2, shares: 2 }, opts);
  const a = openWithShares(file, shares ?? []);
  const b = openWithShares(file, (shares ?? []).map((s) => decodeShare(s)));
  a.wipe();
  assert.equal(b.wiped, false, 'wiping one opened copy does not wipe another');
  assert.equal(b.keyId, a.keyId);
});
