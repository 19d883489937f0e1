import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError, PermissionDeniedError, type RandomSource } from '@gatehouse/core';
import { MASTER_KEY_BYTES, MasterKey, masterKeyFingerprint } from './master-key.js';
import { MAX_SHARES, MIN_THRESHOLD, Share, checkSplitParameters, combine, decodeShare, encodeShare, split } from './shamir.js';
import { lengthPrefixed } from '../aad.js';

/**
 * The sealed key file (P3 "a strongly encrypted file"; REQUIREMENTS "Secrets in a vault": the
 * key lives outside the database). Two levels, as in Vault:
 *
 * - The **unseal key** (32 bytes) is what the operators hold: derived from the passphrase with
 *   scrypt (RFC 7914; parameters and salt stored in the file), or split k-of-n with Shamir (only
 *   the shares know it). The file stores a key check value of it, HMAC-SHA256(unseal key,
 *   "gatehouse/secrets/kcv") truncated to 128 bits, compared in constant time: a wrong
 *   passphrase or a wrong reconstruction is PERMISSION_DENIED and reveals nothing.
 * - The **master keys** (32 bytes, versioned) are stored wrapped under a subkey of the unseal
 *   key (HKDF-SHA256), with AES-256-GCM and AAD binding the format version, the seal mode, the
 *   key version and the key id. Keeping them a level below lets RotateMasterKey add a new master
 *   key without changing the unseal material (the contract), and tells a damaged or tampered
 *   file (integrity error, INTERNAL) apart from wrong key material.
 *
 * The file holds no secret in the clear: no passphrase, no share, no key. It is JSON:
 * `{ format, formatVersion: 1, mode, kdf | threshold+shareCount, unsealKeyCheck, masterKeys }`,
 * binary fields in base64. Format version 1 normalises passphrases to Unicode NFKC
 * (NIST SP 800-63B) before scrypt.
 */

export const KEY_FILE_FORMAT = 'gatehouse.secrets.key-file';
export const KEY_FILE_FORMAT_VERSION = 1;

/** scrypt cost used for new files: N = 2^17, r = 8, p = 1 (128 MiB, a few hundred ms). */
export const DEFAULT_SCRYPT_PARAMETERS: Readonly<{ n: number; r: number; p: number }> = Object.freeze({ n: 2 ** 17, r: 8, p: 1 });
/** Lowest scrypt N a production key file may use (lower only with `insecureTestScryptN`). */
export const MIN_SCRYPT_N = 2 ** 17;
/** Highest scrypt N accepted in a file (caps the memory a crafted file can ask for). */
export const MAX_SCRYPT_N = 2 ** 20;
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;
export const SCRYPT_SALT_BYTES = 16;

export const MIN_PASSPHRASE_CHARACTERS = 16;
export const MAX_PASSPHRASE_CHARACTERS = 1024;

const UNSEAL_KEY_BYTES = 32;
const KCV_BYTES = 16;
const KCV_LABEL = 'gatehouse/secrets/kcv';
const WRAP_INFO = 'gatehouse/secrets/key-file/wrap';
const WRAP_AAD_PURPOSE = 'gatehouse/secrets/key-file/master-key';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A rotation holds two keys until its data keys are re-wrapped; a few more only if rotations keep failing. */
export const MAX_MASTER_KEYS_IN_FILE = 8;
const KEY_ID = /^mk-[0-9a-f]{16}$/;
const REDACTED_UNLOCKED = '[unlocked key file]';

/** The CSPRNG of node:crypto. */
const cryptoRandom: RandomSource = { bytes: (n) => randomBytes(n) };

/** How the unseal key is held by the operators. */
export type SealMode = 'passphrase' | 'shares';

/** scrypt parameters of a passphrase file. */
export interface ScryptParameters {
  readonly name: 'scrypt';
  readonly n: number;
  readonly r: number;
  readonly p: number;
  /** base64 of 16 random bytes. */
  readonly salt: string;
}

/** One master key, AES-256-GCM-wrapped under the unseal key's wrapping subkey. */
export interface WrappedMasterKey {
  readonly version: number;
  /** The key's fingerprint (bound in the AAD, checked after unwrapping). */
  readonly keyId: string;
  readonly iv: string;
  readonly ciphertext: string;
  readonly tag: string;
}

interface KeyFileCommon {
  readonly format: typeof KEY_FILE_FORMAT;
  readonly formatVersion: typeof KEY_FILE_FORMAT_VERSION;
  /** base64 of the 16-byte key check value of the unseal key. */
  readonly unsealKeyCheck: string;
  /** Ascending versions; the last one is current. More than one while a rotation is unfinished. */
  readonly masterKeys: readonly WrappedMasterKey[];
}

export interface PassphraseKeyFile extends KeyFileCommon {
  readonly mode: 'passphrase';
  readonly kdf: ScryptParameters;
}

export interface SharesKeyFile extends KeyFileCommon {
  readonly mode: 'shares';
  /** k: shares needed to unseal. */
  readonly threshold: number;
  /** n: shares handed out. */
  readonly shareCount: number;
}

/** The key file, a JSON-serialisable value. */
export type KeyFile = PassphraseKeyFile | SharesKeyFile;

/** What Initialize asks for. */
export type KeyFileSpec = { mode: 'passphrase'; passphrase: string } | { mode: 'shares'; threshold: number; shares: number };

export interface CreatedKeyFile {
  file: KeyFile;
  /** The new master key, version 1 (the caller wipes it, or keeps it while unsealed). */
  master: MasterKey;
  /** Shares mode: the n shares in text form (ghs1-…), to hand out once and never store. */
  shares?: string[];
}

export interface KeyFileOptions {
  /** Randomness for keys, salts, IVs and share coefficients; a CSPRNG in production. */
  random?: RandomSource;
  /**
   * TESTS ONLY: scrypt N for new passphrase files, and the lowest N an opened file may have.
   * Production never sets it, so a file made with it (or downgraded to a cheap N) is refused.
   */
  insecureTestScryptN?: number;
}

export type KeyFileFailure = 'malformed' | 'unsupported_version' | 'weak_kdf' | 'not_authentic';

/**
 * The key file itself is unusable: not a key file, a version this build does not read, a scrypt
 * cost below the production minimum, or a wrapped key that does not authenticate although the
 * key material was right (damage or tampering). Not a DomainError: it is a server-side fault
 * (INTERNAL, logged). The message names the problem and never contains key material.
 */
export class KeyFileError extends Error {
  constructor(
    readonly failure: KeyFileFailure,
    detail: string,
  ) {
    super(`key file ${detail}`);
    this.name = 'KeyFileError';
  }
}

/**
 * The passphrase policy of Initialize, on the NFKC form: at least 16 characters (code points),
 * at most 1024, not one character repeated, not only digits. INVALID_ARGUMENT on `passphrase`
 * naming the rule; the passphrase itself is never in the message.
 */
export function checkPassphrasePolicy(passphrase: string): void {
  if (typeof passphrase !== 'string') throw new InvalidArgumentError('passphrase', 'must be a string');
  const characters = [...passphrase.normalize('NFKC')];
  if (characters.length < MIN_PASSPHRASE_CHARACTERS) {
    throw new InvalidArgumentError('passphrase', `must be at least ${MIN_PASSPHRASE_CHARACTERS} characters`);
  }
  if (characters.length > MAX_PASSPHRASE_CHARACTERS) {
    throw new InvalidArgumentError('passphrase', `must be at most ${MAX_PASSPHRASE_CHARACTERS} characters`);
  }
  if (new Set(characters).size === 1) throw new InvalidArgumentError('passphrase', 'must not be a single character repeated');
  if (characters.every((c) => /^\p{Nd}$/u.test(c))) throw new InvalidArgumentError('passphrase', 'must not be only digits');
}

/**
 * Creates a key file with a new master key (version 1). Passphrase: the policy is checked, the
 * unseal key is scrypt(passphrase). Shares: 2 ≤ threshold ≤ shares ≤ 16, the random unseal key
 * is split and returned as text shares. The file is checked to open before it is returned.
 */
export async function createKeyFile(spec: KeyFileSpec, options: KeyFileOptions = {}): Promise<CreatedKeyFile> {
  const random = options.random ?? cryptoRandom;
  let unsealKey: Buffer;
  let header: Omit<PassphraseKeyFile, keyof KeyFileCommon> | Omit<SharesKeyFile, keyof KeyFileCommon>;
  let shares: string[] | undefined;
  if (spec?.mode === 'passphrase') {
    checkPassphrasePolicy(spec.passphrase);
    const n = options.insecureTestScryptN ?? DEFAULT_SCRYPT_PARAMETERS.n;
    checkScryptCost(n, DEFAULT_SCRYPT_PARAMETERS.r, DEFAULT_SCRYPT_PARAMETERS.p);
    const salt = randomExactly(random, SCRYPT_SALT_BYTES);
    const kdf: ScryptParameters = { name: 'scrypt', n, r: DEFAULT_SCRYPT_PARAMETERS.r, p: DEFAULT_SCRYPT_PARAMETERS.p, salt: salt.toString('base64') };
    unsealKey = await deriveUnsealKey(spec.passphrase, kdf);
    header = { mode: 'passphrase', kdf };
  } else if (spec?.mode === 'shares') {
    checkSplitParameters(spec.threshold, spec.shares);
    unsealKey = randomExactly(random, UNSEAL_KEY_BYTES);
    const parts = split(unsealKey, spec.threshold, spec.shares, random);
    shares = parts.map((s) => encodeShare(s));
    for (const s of parts) s.wipe();
    header = { mode: 'shares', threshold: spec.threshold, shareCount: spec.shares };
  } else {
    throw new InvalidArgumentError('seal', 'must be a passphrase seal or a Shamir seal');
  }
  let master: MasterKey | undefined;
  try {
    master = MasterKey.generate(1, random);
    const file = {
      format: KEY_FILE_FORMAT,
      formatVersion: KEY_FILE_FORMAT_VERSION,
      ...header,
      unsealKeyCheck: keyCheckValue(unsealKey).toString('base64'),
      masterKeys: [wrapMasterKey(unsealKey, header.mode, master, random)],
    } as KeyFile;
    // Self-check: the file parses and opens with the material just made.
    const check = unlock(parseKeyFile(JSON.parse(JSON.stringify(file))), Buffer.from(unsealKey), () => new Error('key file self-check failed'));
    const ok = check.current.keyId === master.keyId;
    check.wipe();
    if (!ok) throw new Error('key file self-check failed');
    return shares ? { file, master, shares } : { file, master };
  } catch (err) {
    master?.wipe();
    throw err;
  } finally {
    unsealKey.fill(0);
  }
}

/** Opens a passphrase file and returns its current master key. Wrong passphrase: PermissionDeniedError("wrong passphrase"). */
export async function openWithPassphrase(file: KeyFile, passphrase: string, options: KeyFileOptions = {}): Promise<MasterKey> {
  return currentOnly(await unlockWithPassphrase(file, passphrase, options));
}

/**
 * Opens a shares file from at least k shares (text or decoded) and returns its current master
 * key. Malformed, duplicate, too few or foreign-threshold shares: INVALID_ARGUMENT on `shares`;
 * shares that do not reconstruct the unseal key: PERMISSION_DENIED.
 */
export function openWithShares(file: KeyFile, shares: readonly (string | Share)[], options: KeyFileOptions = {}): MasterKey {
  return currentOnly(unlockWithShares(file, shares, options));
}

/** Like {@link openWithPassphrase}, but keeps every master key and the unseal key (for rotation). */
export async function unlockWithPassphrase(file: KeyFile, passphrase: string, options: KeyFileOptions = {}): Promise<UnlockedKeyFile> {
  const f = parseKeyFile(file);
  if (f.mode !== 'passphrase') {
    throw new InvalidArgumentError('passphrase', 'this key file is sealed with Shamir shares, not a passphrase: provide shares');
  }
  if (typeof passphrase !== 'string' || passphrase.length === 0) throw new InvalidArgumentError('passphrase', 'is required');
  if (passphrase.length > MAX_PASSPHRASE_CHARACTERS * 4) throw new InvalidArgumentError('passphrase', 'is too long');
  const floor = options.insecureTestScryptN ?? MIN_SCRYPT_N;
  if (f.kdf.n < floor) {
    throw new KeyFileError('weak_kdf', `uses scrypt N=${f.kdf.n}, below the minimum N=${floor}: it was made for tests or downgraded`);
  }
  const unsealKey = await deriveUnsealKey(passphrase, f.kdf);
  return unlock(f, unsealKey, () => new PermissionDeniedError('wrong passphrase'));
}

/** Like {@link openWithShares}, but keeps every master key and the unseal key (for rotation). */
export function unlockWithShares(file: KeyFile, shares: readonly (string | Share)[], _options: KeyFileOptions = {}): UnlockedKeyFile {
  const f = parseKeyFile(file);
  if (f.mode !== 'shares') {
    throw new InvalidArgumentError('shares', 'this key file is sealed with a passphrase, not Shamir shares: provide the passphrase');
  }
  if (!Array.isArray(shares)) throw new InvalidArgumentError('shares', 'must be a list of shares');
  const decoded: Share[] = [];
  try {
    for (const s of shares) decoded.push(s instanceof Share ? s : decodeShare(s, 'shares'));
    for (const s of decoded) checkShareFitsFile(f, s, 'shares');
    const secret = combine(decoded, 'shares');
    return unlock(f, Buffer.from(secret), () => new PermissionDeniedError('the shares do not reconstruct the key'), secret);
  } finally {
    // Wipe only the shares decoded here; the caller owns the Share objects it passed.
    decoded.forEach((s, i) => {
      if (s !== shares[i]) s.wipe();
    });
  }
}

/**
 * Refuses a share that cannot belong to `file` (INVALID_ARGUMENT on `field`): another threshold,
 * an index beyond the share count, or another length than the unseal key's.
 */
export function checkShareFitsFile(file: SharesKeyFile, share: Share, field: string): void {
  if (share.threshold !== file.threshold) {
    throw new InvalidArgumentError(field, `a share of a ${share.threshold}-of-n seal was given; this key file needs ${file.threshold} shares`);
  }
  if (share.index > file.shareCount) {
    throw new InvalidArgumentError(field, `share index ${share.index} does not exist: this key file has ${file.shareCount} shares`);
  }
  if (share.length !== UNSEAL_KEY_BYTES) throw new InvalidArgumentError(field, 'the share has the wrong length for this key file');
}

/** A change to the key file, applied in memory only after the caller persisted `file`. */
export interface StagedKeyFileChange {
  /** The key file to persist. */
  readonly file: KeyFile;
  /** Apply the change in memory (after the write succeeded). */
  commit(): void;
  /** Drop the change (the write failed); wipes any key it made. */
  discard(): void;
}

const INTERNAL = Symbol('UnlockedKeyFile');

/**
 * An opened key file: every master key it holds, and the unseal key (so a rotation can add a
 * master key without the operators' material). Lives only while unsealed; {@link wipe} zeroes
 * everything. Redacted in JSON, String() and util.inspect.
 */
export class UnlockedKeyFile {
  #file: KeyFile;
  readonly #unsealKey: Buffer;
  #masters: MasterKey[];
  #wiped = false;

  /** @internal Made by unlockWithPassphrase / unlockWithShares. */
  constructor(token: typeof INTERNAL, file: KeyFile, unsealKey: Buffer, masters: MasterKey[]) {
    if (token !== INTERNAL) throw new Error('UnlockedKeyFile is made by unlockWithPassphrase or unlockWithShares');
    this.#file = file;
    this.#unsealKey = unsealKey;
    this.#masters = masters;
  }

  /** The key file these keys came from (or the last committed change). */
  get file(): KeyFile {
    return this.#file;
  }

  /** The newest master key: the one that encrypts. */
  get current(): MasterKey {
    this.assertUsable();
    return this.#masters[this.#masters.length - 1] as MasterKey;
  }

  /** Every master key, ascending versions (more than one while a rotation is unfinished). */
  get masterKeys(): readonly MasterKey[] {
    this.assertUsable();
    return [...this.#masters];
  }

  /** The master key of `version`, if the file holds it. */
  masterKey(version: number): MasterKey | undefined {
    this.assertUsable();
    return this.#masters.find((m) => m.version === version);
  }

  /** Stages a new master key, version current + 1, wrapped under the same unseal key. */
  stageNewMasterKey(random: RandomSource = cryptoRandom): StagedKeyFileChange {
    this.assertUsable();
    if (this.#masters.length >= MAX_MASTER_KEYS_IN_FILE) {
      throw new Error(`the key file already holds ${MAX_MASTER_KEYS_IN_FILE} master keys: finish the pending rotation first`);
    }
    const next = MasterKey.generate(this.current.version + 1, random);
    const file = { ...this.#file, masterKeys: [...this.#file.masterKeys, wrapMasterKey(this.#unsealKey, this.#file.mode, next, random)] } as KeyFile;
    return this.staged(file, () => this.#masters.push(next), () => next.wipe());
  }

  /** Stages dropping every master key but the current one (after all data keys were re-wrapped). */
  stageRetirementOfOlderKeys(): StagedKeyFileChange {
    this.assertUsable();
    const current = this.current;
    const last = this.#file.masterKeys[this.#file.masterKeys.length - 1] as WrappedMasterKey;
    const file = { ...this.#file, masterKeys: [last] } as KeyFile;
    return this.staged(
      file,
      () => {
        for (const m of this.#masters) if (m !== current) m.wipe();
        this.#masters = [current];
      },
      () => undefined,
    );
  }

  /** Zeroes the unseal key and every master key; idempotent. */
  wipe(): void {
    this.#unsealKey.fill(0);
    for (const m of this.#masters) m.wipe();
    this.#wiped = true;
  }

  get wiped(): boolean {
    return this.#wiped;
  }

  toJSON(): string {
    return REDACTED_UNLOCKED;
  }

  toString(): string {
    return REDACTED_UNLOCKED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED_UNLOCKED;
  }

  private staged(file: KeyFile, apply: () => void, undo: () => void): StagedKeyFileChange {
    let settled = false;
    const settle = () => {
      if (settled) throw new Error('this key file change was already committed or discarded');
      settled = true;
    };
    return {
      file,
      commit: () => {
        settle();
        if (this.#wiped) {
          undo();
          throw new Error('the key file was wiped (sealed) before the change was committed');
        }
        apply();
        this.#file = file;
      },
      discard: () => {
        settle();
        undo();
      },
    };
  }

  private assertUsable(): void {
    if (this.#wiped) throw new Error('the unlocked key file was wiped (sealed)');
  }
}

/**
 * Validates a key file read from storage (after JSON.parse) and returns a clean copy. Strict:
 * unknown fields, non-canonical base64, out-of-range parameters (a crafted scrypt cost cannot
 * exhaust memory) or unordered versions are refused with {@link KeyFileError}.
 */
export function parseKeyFile(value: unknown): KeyFile {
  const bad = (what: string) => new KeyFileError('malformed', `is malformed: ${what}`);
  if (!isRecord(value)) throw bad('not a JSON object');
  if (value.format !== KEY_FILE_FORMAT) throw bad(`format is not "${KEY_FILE_FORMAT}"`);
  if (value.formatVersion !== KEY_FILE_FORMAT_VERSION) {
    const v = typeof value.formatVersion === 'number' ? String(value.formatVersion) : 'missing';
    throw new KeyFileError('unsupported_version', `format version ${v} is not supported (this build reads version ${KEY_FILE_FORMAT_VERSION})`);
  }
  const common = ['format', 'formatVersion', 'mode', 'unsealKeyCheck', 'masterKeys'];
  const unsealKeyCheck = canonicalBase64(value.unsealKeyCheck, KCV_BYTES, KCV_BYTES, 'unsealKeyCheck', bad);
  const masterKeys = parseMasterKeys(value.masterKeys, bad);
  const base = { format: KEY_FILE_FORMAT, formatVersion: KEY_FILE_FORMAT_VERSION, unsealKeyCheck, masterKeys } as const;
  if (value.mode === 'passphrase') {
    exactKeys(value, [...common, 'kdf'], bad);
    const kdf = value.kdf;
    if (!isRecord(kdf)) throw bad('kdf is not an object');
    exactKeys(kdf, ['name', 'n', 'r', 'p', 'salt'], bad, 'kdf');
    if (kdf.name !== 'scrypt') throw bad('kdf.name must be "scrypt"');
    const { n, r, p } = kdf;
    if (!isInt(n) || !isInt(r) || !isInt(p)) throw bad('kdf n, r and p must be integers');
    try {
      checkScryptCost(n, r, p);
    } catch (err) {
      throw bad(`kdf parameters out of range (${(err as Error).message})`);
    }
    const salt = canonicalBase64(kdf.salt, SCRYPT_SALT_BYTES, 64, 'kdf.salt', bad);
    return { ...base, mode: 'passphrase', kdf: { name: 'scrypt', n, r, p, salt } };
  }
  if (value.mode === 'shares') {
    exactKeys(value, [...common, 'threshold', 'shareCount'], bad);
    const { threshold, shareCount } = value;
    if (!isInt(shareCount) || shareCount < MIN_THRESHOLD || shareCount > MAX_SHARES) throw bad(`shareCount must be ${MIN_THRESHOLD} to ${MAX_SHARES}`);
    if (!isInt(threshold) || threshold < MIN_THRESHOLD || threshold > shareCount) throw bad(`threshold must be ${MIN_THRESHOLD} to shareCount`);
    return { ...base, mode: 'shares', threshold, shareCount };
  }
  throw bad('mode must be "passphrase" or "shares"');
}

function parseMasterKeys(value: unknown, bad: (what: string) => KeyFileError): WrappedMasterKey[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_MASTER_KEYS_IN_FILE) {
    throw bad(`masterKeys must list 1 to ${MAX_MASTER_KEYS_IN_FILE} keys`);
  }
  let previous = 0;
  return value.map((w: unknown, i) => {
    const at = `masterKeys[${i}]`;
    if (!isRecord(w)) throw bad(`${at} is not an object`);
    exactKeys(w, ['version', 'keyId', 'iv', 'ciphertext', 'tag'], bad, at);
    if (!isInt(w.version) || w.version <= previous) throw bad(`${at}.version must be an integer above the previous one`);
    previous = w.version;
    if (typeof w.keyId !== 'string' || !KEY_ID.test(w.keyId)) throw bad(`${at}.keyId is not a key id`);
    return {
      version: w.version,
      keyId: w.keyId,
      iv: canonicalBase64(w.iv, IV_BYTES, IV_BYTES, `${at}.iv`, bad),
      ciphertext: canonicalBase64(w.ciphertext, MASTER_KEY_BYTES, MASTER_KEY_BYTES, `${at}.ciphertext`, bad),
      tag: canonicalBase64(w.tag, TAG_BYTES, TAG_BYTES, `${at}.tag`, bad),
    };
  });
}

/** Checks the KCV in constant time, then unwraps every master key. Wipes `unsealKey` unless it is kept. */
function unlock(file: KeyFile, unsealKey: Buffer, wrongMaterial: () => Error, alsoWipe?: Uint8Array): UnlockedKeyFile {
  const masters: MasterKey[] = [];
  let kept = false;
  try {
    const expected = Buffer.from(file.unsealKeyCheck, 'base64');
    const actual = keyCheckValue(unsealKey);
    const match = timingSafeEqual(expected, actual);
    actual.fill(0);
    if (!match) throw wrongMaterial();
    for (const w of file.masterKeys) masters.push(unwrapMasterKey(unsealKey, file.mode, w));
    kept = true;
    return new UnlockedKeyFile(INTERNAL, file, unsealKey, masters);
  } finally {
    alsoWipe?.fill(0);
    if (!kept) {
      unsealKey.fill(0);
      for (const m of masters) m.wipe();
    }
  }
}

function currentOnly(unlocked: UnlockedKeyFile): MasterKey {
  try {
    const current = unlocked.current;
    return current.withBytes((b) => MasterKey.fromBytes(b, current.version));
  } finally {
    unlocked.wipe();
  }
}

function keyCheckValue(unsealKey: Uint8Array): Buffer {
  return createHmac('sha256', unsealKey).update(KCV_LABEL).digest().subarray(0, KCV_BYTES);
}

function wrappingKey(unsealKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', unsealKey, Buffer.alloc(0), WRAP_INFO, 32));
}

function wrapAad(mode: SealMode, version: number, keyId: string): Buffer {
  return lengthPrefixed([WRAP_AAD_PURPOSE, `format-${KEY_FILE_FORMAT_VERSION}`, mode, String(version), keyId]);
}

function wrapMasterKey(unsealKey: Uint8Array, mode: SealMode, master: MasterKey, random: RandomSource): WrappedMasterKey {
  const key = wrappingKey(unsealKey);
  try {
    const iv = randomExactly(random, IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(wrapAad(mode, master.version, master.keyId));
    const ciphertext = master.withBytes((bytes) => Buffer.concat([cipher.update(bytes), cipher.final()]));
    return {
      version: master.version,
      keyId: master.keyId,
      iv: iv.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
    };
  } finally {
    key.fill(0);
  }
}

function unwrapMasterKey(unsealKey: Uint8Array, mode: SealMode, w: WrappedMasterKey): MasterKey {
  const key = wrappingKey(unsealKey);
  let bytes: Buffer | undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(w.iv, 'base64'), { authTagLength: TAG_BYTES });
    decipher.setAAD(wrapAad(mode, w.version, w.keyId));
    decipher.setAuthTag(Buffer.from(w.tag, 'base64'));
    try {
      bytes = Buffer.concat([decipher.update(Buffer.from(w.ciphertext, 'base64')), decipher.final()]);
    } catch {
      throw new KeyFileError('not_authentic', `master key version ${w.version} does not authenticate: the file is damaged or was tampered with`);
    }
    if (masterKeyFingerprint(bytes) !== w.keyId) {
      throw new KeyFileError('not_authentic', `master key version ${w.version} does not match its key id`);
    }
    return MasterKey.fromBytes(bytes, w.version);
  } finally {
    key.fill(0);
    bytes?.fill(0);
  }
}

function deriveUnsealKey(passphrase: string, kdf: ScryptParameters): Promise<Buffer> {
  const secret = Buffer.from(passphrase.normalize('NFKC'), 'utf8');
  const salt = Buffer.from(kdf.salt, 'base64');
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, UNSEAL_KEY_BYTES, { N: kdf.n, r: kdf.r, p: kdf.p, maxmem: 2 * 128 * kdf.n * kdf.r + 1024 * 1024 }, (err, key) => {
      secret.fill(0);
      if (err) reject(new Error(`scrypt failed: ${err.message}`));
      else resolve(key);
    });
  });
}

function checkScryptCost(n: number, r: number, p: number): void {
  if (!isInt(n) || n < 2 || n > MAX_SCRYPT_N || (n & (n - 1)) !== 0) throw new Error(`scrypt N must be a power of two up to 2^${Math.log2(MAX_SCRYPT_N)}`);
  if (!isInt(r) || r < 1 || r > 32) throw new Error('scrypt r must be 1 to 32');
  if (!isInt(p) || p < 1 || p > 16) throw new Error('scrypt p must be 1 to 16');
  if (128 * n * r > MAX_SCRYPT_MEMORY) throw new Error('scrypt memory (128·N·r) must stay within 1 GiB');
}

function randomExactly(random: RandomSource, n: number): Buffer {
  const bytes = random.bytes(n);
  if (bytes.length !== n) throw new Error(`random source returned ${bytes.length} bytes, wanted ${n}`);
  const copy = Buffer.from(bytes);
  bytes.fill(0);
  return copy;
}


function canonicalBase64(value: unknown, min: number, max: number, what: string, bad: (what: string) => KeyFileError): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw bad(`${what} is not base64`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value) throw bad(`${what} is not canonical base64`);
  if (bytes.length < min || bytes.length > max) throw bad(`${what} must be ${min === max ? min : `${min} to ${max}`} bytes`);
  return value;
}

function exactKeys(obj: Record<string, unknown>, allowed: readonly string[], bad: (what: string) => KeyFileError, at = 'the file'): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw bad(`${at} has an unknown field "${k.slice(0, 40)}"`);
  for (const k of allowed) if (!(k in obj)) throw bad(`${at} lacks "${k}"`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}
