import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { AlreadyExistsError, type Clock } from '@gatehouse/core';
import { ed25519PublicKey, rawEd25519PublicKey, type KeyValidity, type SessionKeySource, type SessionSigningKey } from '@gatehouse/session';
import type { TextCipher } from './master-key.js';
import type { SigningKeyRecord, SigningKeyRepository } from './signing-key.js';

/** When keys rotate (DESIGN.md §3: GetSigningKeys with key ids and rotation), so verifiers' caches always hold the signing key. */
export interface KeyRotationPolicy {
  /** A key signs for this long before its successor takes over. Default 30 days. */
  rotateEveryMs: number;
  /** A new key is published this long before it signs, so every verifier's cache has it. Default 1 h. */
  publishAheadMs: number;
  /** A retired key stays published this long after it stopped signing: the longest token lifetime. Default 24 h. */
  keepRetiredMs: number;
}

/** Defaults: rotate monthly, publish 1 h ahead, keep retired keys 24 h (the absolute session limit). */
export const DEFAULT_KEY_ROTATION: Readonly<KeyRotationPolicy> = Object.freeze({
  rotateEveryMs: 30 * 24 * 3600_000,
  publishAheadMs: 3600_000,
  keepRetiredMs: 24 * 3600_000,
});

/** A key as GetSigningKeys publishes it: what a verifier needs, never the private key. */
export interface PublishedKey {
  keyId: string;
  publicKey: Uint8Array;
  status: 'next' | 'active' | 'retired';
  notBefore: Date;
  notAfter: Date | null;
}

interface LoadedKey {
  record: SigningKeyRecord;
  publicKey: KeyObject;
  status: PublishedKey['status'];
  notAfter: Date | null;
}

/** How long the in-memory key set is trusted before the store is read again (other replicas may have rotated). */
const RELOAD_MS = 30_000;

/** How a service names its keys, so that a token's `kid` says which service signed it. */
export interface SigningKeyRingOptions {
  /** Prefix of new key ids: 1-32 characters of A-Z a-z 0-9 . _ : - (identity `sk-`, impersonation `ik-`). Default `sk-`. */
  keyIdPrefix?: string;
}

/** The key-id prefix identity has always used (the default). */
const DEFAULT_KEY_ID_PREFIX = 'sk-';

const KEY_ID_PREFIX_RE = /^[A-Za-z0-9._:-]{1,32}$/;

/**
 * The Ed25519 keys that sign a service's tokens, shared by every replica through the store
 * (private keys encrypted under the master key, bound to their key id). It rotates on schedule:
 * a new key is published `publishAheadMs` before it signs, and a retired key stays published
 * until no token it signed can still be valid. It is also the verifier's key source, so the
 * service verifies its own tokens with exactly what it publishes.
 */
export class SigningKeyRing implements SessionKeySource {
  private loaded: LoadedKey[] = [];
  private active: { key: SessionSigningKey; record: SigningKeyRecord } | undefined;
  private loadedAt = -Infinity;
  private loading: Promise<void> | undefined;
  /** The prefix of the key ids this ring creates. */
  readonly keyIdPrefix: string;

  constructor(
    private readonly repo: SigningKeyRepository,
    private readonly cipher: TextCipher,
    private readonly clock: Clock,
    readonly policy: KeyRotationPolicy = DEFAULT_KEY_ROTATION,
    options: SigningKeyRingOptions = {},
  ) {
    if (policy.publishAheadMs >= policy.rotateEveryMs) throw new RangeError('publishAheadMs must be shorter than rotateEveryMs');
    this.keyIdPrefix = options.keyIdPrefix ?? DEFAULT_KEY_ID_PREFIX;
    if (!KEY_ID_PREFIX_RE.test(this.keyIdPrefix)) throw new RangeError('keyIdPrefix must be 1-32 characters of A-Z a-z 0-9 . _ : -');
  }

  /** The key new tokens are signed with (rotating first when due). */
  async signingKey(): Promise<SessionSigningKey> {
    await this.fresh();
    if (!this.active) throw new Error('no active session signing key');
    return this.active.key;
  }

  /** Every key verifiers should know now: next, active and recently retired. */
  async published(): Promise<PublishedKey[]> {
    await this.fresh();
    return this.loaded.map((k) => ({
      keyId: k.record.keyId,
      publicKey: k.record.publicKey,
      status: k.status,
      notBefore: k.record.activatesAt,
      notAfter: k.notAfter,
    }));
  }

  /** The public key for a token's `kid` (SessionKeySource), reading the store once more for an unknown one. */
  async key(keyId: string): Promise<KeyObject | undefined> {
    await this.fresh();
    let k = this.loaded.find((x) => x.record.keyId === keyId);
    // An unknown kid may be a key another replica just created: read the store once more.
    if (!k && this.clock.now().getTime() - this.loadedAt > 1000) {
      await this.reload();
      k = this.loaded.find((x) => x.record.keyId === keyId);
    }
    return k?.publicKey;
  }

  /** When a key may verify (SessionKeySource): a token dated outside its key's window is refused. A ring's key always has a start. */
  validity(keyId: string): (KeyValidity & { notBefore: Date }) | undefined {
    const k = this.loaded.find((x) => x.record.keyId === keyId);
    if (!k) return undefined;
    return k.notAfter ? { notBefore: k.record.activatesAt, notAfter: k.notAfter } : { notBefore: k.record.activatesAt };
  }

  /** Loads, rotates when due and drops keys nothing can need; at start-up and then every 30 s. */
  async fresh(): Promise<void> {
    if (this.clock.now().getTime() - this.loadedAt < RELOAD_MS && this.active) return;
    await this.reload();
  }

  private reload(): Promise<void> {
    this.loading ??= this.doReload().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async doReload(): Promise<void> {
    const now = this.clock.now();
    let records = await this.repo.list();
    if (this.rotationDue(records, now)) {
      await this.createKey(records.length === 0 ? now : new Date(now.getTime() + this.policy.publishAheadMs));
      records = await this.repo.list();
    }
    const t = now.getTime();
    const sorted = [...records].sort((a, b) => a.activatesAt.getTime() - b.activatesAt.getTime());
    const activeIndex = sorted.findLastIndex((r) => r.activatesAt.getTime() <= t);
    const loaded: LoadedKey[] = [];
    const expired: string[] = [];
    sorted.forEach((record, i) => {
      const successor = sorted[i + 1];
      const status: LoadedKey['status'] = i === activeIndex ? 'active' : i > activeIndex ? 'next' : 'retired';
      const notAfter = status === 'retired' && successor ? new Date(successor.activatesAt.getTime() + this.policy.keepRetiredMs) : null;
      if (notAfter && notAfter.getTime() <= t) expired.push(record.keyId);
      else loaded.push({ record, status, notAfter, publicKey: ed25519PublicKey(record.publicKey) });
    });
    const activeRecord = sorted[activeIndex];
    if (activeRecord && this.active?.record.keyId !== activeRecord.keyId) {
      const pem = this.cipher.decrypt(activeRecord.encryptedPrivateKey, activeRecord.keyId);
      this.active = { record: activeRecord, key: { keyId: activeRecord.keyId, privateKey: createPrivateKey(pem) } };
    }
    this.loaded = loaded;
    this.loadedAt = t;
    if (expired.length > 0) await this.repo.delete(expired);
  }

  /** Due when there is no key, or the active key is near the end of its period and no successor is published. */
  private rotationDue(records: SigningKeyRecord[], now: Date): boolean {
    if (records.length === 0) return true;
    const t = now.getTime();
    const latest = Math.max(...records.map((r) => r.activatesAt.getTime()));
    if (latest > t) return false; // a successor is already published
    return latest + this.policy.rotateEveryMs - this.policy.publishAheadMs <= t;
  }

  private async createKey(activatesAt: Date): Promise<void> {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyId = `${this.keyIdPrefix}${randomBytes(9).toString('base64url')}`;
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const record: SigningKeyRecord = {
      keyId,
      publicKey: rawEd25519PublicKey(publicKey),
      encryptedPrivateKey: this.cipher.encrypt(pem, keyId),
      createdAt: this.clock.now(),
      activatesAt,
    };
    try {
      // A service audits the rotation in the same unit as the key (audit-client's
      // auditedKeyCreation wraps the repository): stored and audited together, or neither.
      await this.repo.create(record);
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
    }
  }
}
