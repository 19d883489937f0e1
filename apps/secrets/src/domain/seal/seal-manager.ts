import { AbortedError, FailedPreconditionError, InvalidArgumentError, type Clock, type RandomSource } from '@gatehouse/core';
import {
  checkShareFitsFile,
  createKeyFile,
  parseKeyFile,
  unlockWithPassphrase,
  unlockWithShares,
  type KeyFile,
  type KeyFileOptions,
  type KeyFileSpec,
  type SealMode,
  type StagedKeyFileChange,
  type UnlockedKeyFile,
} from './key-file.js';
import type { MasterKey } from './master-key.js';
import { decodeShare, type Share } from './shamir.js';

/**
 * Port: where the key file lives. The wiring stores it as a 0600 file on the secrets server,
 * outside the database (P3). `read` returns the parsed JSON, or undefined when no key file
 * exists (uninitialised); the manager validates what it gets. `write` replaces the file
 * atomically (write a temporary file, fsync, rename), so a crash never leaves half a key file.
 */
export interface KeyFileStore {
  read(): Promise<KeyFile | undefined>;
  write(file: KeyFile): Promise<void>;
}

/** Unseal progress is discarded after this long without a new share (default). */
export const DEFAULT_UNSEAL_PROGRESS_IDLE_MS = 10 * 60 * 1000;

/** The seal state (SecretsService.SealStatus). Never contains key material. */
export interface SealStatus {
  /** A key file exists. */
  initialized: boolean;
  /** No master key in memory: every data RPC is refused with FAILED_PRECONDITION "sealed". */
  sealed: boolean;
  /** How the key file is sealed; undefined while uninitialised. */
  mode: SealMode | undefined;
  /** The passphrase KDF; undefined for shares or while uninitialised. */
  keyDerivation: 'scrypt' | undefined;
  /** k: shares needed (1 for a passphrase, 0 while uninitialised). */
  threshold: number;
  /** n: shares that exist (1 for a passphrase, 0 while uninitialised). */
  shareCount: number;
  /** Shares accepted in the current unseal round (0 when none is running or when unsealed). */
  sharesProvided: number;
  /** When the current round is discarded unless another share arrives. */
  progressExpiresAt: Date | undefined;
  /** Version of the current master key (0 while uninitialised). */
  keyVersion: number;
  /** The key file still holds older master keys: a rotation has not finished (RotateMasterKey resumes it). */
  rotationPending: boolean;
  /** When the state last changed (initialised, unsealed, sealed), or when this process started. */
  changedAt: Date;
}

/** What the final unseal step reports to its gate: never key material. */
export interface UnsealConfirmation {
  mode: SealMode;
  keyVersion: number;
  keyId: string;
}

export interface UnsealOptions {
  /**
   * Fail-closed gate of the final step (unsealing is a critical action: DESIGN §5). Called after
   * the key material checked out and before the service becomes unsealed; if it throws, the
   * service stays sealed, the error propagates, and with shares the round keeps the k-1 earlier
   * shares so the last operator can retry.
   */
  confirm?: (confirmation: UnsealConfirmation) => Promise<void>;
}

export interface SealManagerOptions {
  store: KeyFileStore;
  clock: Clock;
  /** Idle time after which unseal progress is discarded; default 10 minutes. */
  progressIdleMs?: number;
  /** Randomness for new keys; a CSPRNG in production (the default). */
  random?: RandomSource;
  /** TESTS ONLY: see {@link KeyFileOptions.insecureTestScryptN}. */
  keyFile?: Pick<KeyFileOptions, 'insecureTestScryptN'>;
  /**
   * Told when this replica becomes unsealed (false) or sealed again (true): the service reports
   * NOT_SERVING on health while sealed, so balancers and readiness probes skip a replica that
   * would refuse every data RPC (issue 15 item 6).
   */
  onSealedChange?: (sealed: boolean) => void;
}

/**
 * The service's re-wrapping pass of a rotation: re-wrap every data key still under one of
 * `from` so that it is under `to`, and return how many were re-wrapped.
 */
export type RewrapDataKeys = (from: readonly MasterKey[], to: MasterKey) => Promise<number>;

export interface RotationResult {
  status: SealStatus;
  rewrapped: number;
}

interface UnsealRound {
  shares: Map<number, Share>;
  expiresAt: number;
}

/**
 * The seal state machine of the secrets service: UNINITIALIZED → (Initialize) SEALED →
 * (Unseal) UNSEALED → (Seal) SEALED. The master key exists only in memory while unsealed;
 * {@link masterKey} throws FailedPreconditionError("sealed") otherwise, which is what every data
 * RPC answers. State-changing calls run one at a time; {@link seal} never waits: it wipes at once
 * and makes any unseal or rotation still in flight fail instead of completing.
 */
export class SealManager {
  readonly #store: KeyFileStore;
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #random: RandomSource | undefined;
  readonly #keyFileOptions: KeyFileOptions;
  #file: KeyFile | undefined;
  #unlocked: UnlockedKeyFile | undefined;
  #round: UnsealRound | undefined;
  #changedAt: Date;
  /** Bumped by every seal(): work started before it must not commit after it. */
  #epoch = 0;
  #rotating = false;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #leases = new Map<number, number>();
  #drainWaiters: Array<{ below: number; resolve: () => void }> = [];
  readonly #onSealedChange: ((sealed: boolean) => void) | undefined;

  constructor(options: SealManagerOptions) {
    const idle = options.progressIdleMs ?? DEFAULT_UNSEAL_PROGRESS_IDLE_MS;
    if (!Number.isInteger(idle) || idle <= 0) throw new Error('progressIdleMs must be a positive integer');
    this.#store = options.store;
    this.#clock = options.clock;
    this.#idleMs = idle;
    this.#random = options.random;
    this.#keyFileOptions = { ...(options.random ? { random: options.random } : {}), ...options.keyFile };
    this.#changedAt = options.clock.now();
    this.#onSealedChange = options.onSealedChange;
  }

  /** The seal state and unseal progress (discarding a round that went idle). */
  async status(): Promise<SealStatus> {
    return this.#statusOf(await this.#load());
  }

  /**
   * Creates the key file: FAILED_PRECONDITION "already initialized" if one exists; INVALID_ARGUMENT
   * for a weak passphrase or an impossible threshold. The service stays sealed. `shares` (shares
   * mode) are returned only here; they are not kept anywhere.
   */
  initialize(spec: KeyFileSpec): Promise<{ status: SealStatus; shares: string[] }> {
    return this.#exclusive(async () => {
      if (await this.#load()) throw new FailedPreconditionError('already initialized');
      const created = await createKeyFile(spec, this.#keyFileOptions);
      created.master.wipe();
      await this.#store.write(created.file);
      this.#file = created.file;
      this.#changedAt = this.#clock.now();
      return { status: this.#statusOf(created.file), shares: created.shares ?? [] };
    });
  }

  /**
   * Unseals a passphrase seal. PERMISSION_DENIED "wrong passphrase"; INVALID_ARGUMENT for a
   * shares seal; FAILED_PRECONDITION if uninitialised. A no-op returning the status if unsealed.
   */
  unsealWithPassphrase(passphrase: string, options: UnsealOptions = {}): Promise<SealStatus> {
    const epoch = this.#epoch; // a seal() issued after this call wins, even if this call is still queued
    return this.#exclusive(async () => {
      const file = await this.#requireFile();
      if (this.#unlocked) return this.#statusOf(file);
      if (file.mode !== 'passphrase') {
        throw new InvalidArgumentError('passphrase', 'this service is sealed with Shamir shares: unseal with a share, not a passphrase');
      }
      const unlocked = await unlockWithPassphrase(file, passphrase, this.#keyFileOptions);
      await this.#commitUnseal(unlocked, epoch, options);
      return this.#statusOf(file);
    });
  }

  /**
   * Gives one share (text form) towards unsealing a shares seal. Below the threshold the share
   * is kept and the status shows the progress; at the threshold the key is reconstructed and
   * checked. INVALID_ARGUMENT: malformed share, a share already given in this round, a share of
   * another threshold or beyond the share count, or a passphrase seal. PERMISSION_DENIED: the
   * shares do not reconstruct the key (the round is discarded). A no-op if unsealed.
   */
  unsealWithShare(share: string, options: UnsealOptions = {}): Promise<SealStatus> {
    const epoch = this.#epoch; // a seal() issued after this call discards this share too
    return this.#exclusive(async () => {
      const file = await this.#requireFile();
      if (this.#unlocked) return this.#statusOf(file);
      if (file.mode !== 'shares') {
        throw new InvalidArgumentError('share', 'this service is sealed with a passphrase: unseal with the passphrase, not a share');
      }
      const decoded = decodeShare(share, 'share');
      try {
        checkShareFitsFile(file, decoded, 'share');
      } catch (err) {
        decoded.wipe();
        throw err;
      }
      if (epoch !== this.#epoch) {
        decoded.wipe();
        throw new FailedPreconditionError('sealed while this unseal was in progress');
      }
      this.#expireProgress();
      const now = this.#clock.now().getTime();
      const round = (this.#round ??= { shares: new Map(), expiresAt: now + this.#idleMs });
      if (round.shares.has(decoded.index)) {
        decoded.wipe();
        throw new InvalidArgumentError('share', `share ${decoded.index} was already given in this unseal round`);
      }
      round.shares.set(decoded.index, decoded);
      round.expiresAt = now + this.#idleMs;
      if (round.shares.size < file.threshold) return this.#statusOf(file);

      let unlocked: UnlockedKeyFile;
      try {
        unlocked = unlockWithShares(file, [...round.shares.values()], this.#keyFileOptions);
      } catch (err) {
        this.#discardProgress(); // the contract: progress is reset when reconstruction fails
        throw err;
      }
      try {
        await this.#commitUnseal(unlocked, epoch, options);
      } catch (err) {
        // Not unsealed: the last share is not accepted; the k-1 earlier ones stay for a retry.
        if (this.#round === round) {
          round.shares.delete(decoded.index);
          decoded.wipe();
        }
        throw err;
      }
      return this.#statusOf(file);
    });
  }

  /**
   * Seals: wipes every master key and the unseal key and discards unseal progress, at once
   * (without waiting for calls in flight, which then fail). Idempotent.
   */
  async seal(): Promise<SealStatus> {
    this.#epoch++;
    const wasUnsealed = this.#unlocked !== undefined;
    this.#unlocked?.wipe();
    this.#unlocked = undefined;
    this.#discardProgress();
    if (wasUnsealed) {
      this.#changedAt = this.#clock.now();
      this.#onSealedChange?.(true);
    }
    return this.status();
  }

  /**
   * The current master key (or the one of `version`, to open a data key wrapped before a
   * rotation finished). FailedPreconditionError("sealed") while sealed or uninitialised. The
   * manager owns the key: callers must not keep it beyond one request nor wipe it; seal() wipes
   * it, after which any use throws.
   */
  masterKey(version?: number): MasterKey {
    const unlocked = this.#unlocked;
    if (!unlocked) throw new FailedPreconditionError('sealed');
    if (version === undefined) return unlocked.current;
    const key = unlocked.masterKey(version);
    if (!key) throw new Error(`the key file holds no master key of version ${version}`);
    return key;
  }

  /**
   * Runs a write that encrypts under the current master key (PutSecret). A rotation waits for
   * such writes started under an older key before its re-wrapping pass, so no data key is left
   * wrapped under a key the rotation then destroys. FailedPreconditionError("sealed") if sealed.
   */
  async withMasterKey<T>(fn: (key: MasterKey) => Promise<T> | T): Promise<T> {
    const key = this.masterKey();
    const v = key.version;
    this.#leases.set(v, (this.#leases.get(v) ?? 0) + 1);
    try {
      return await fn(key);
    } finally {
      const left = (this.#leases.get(v) ?? 1) - 1;
      if (left === 0) this.#leases.delete(v);
      else this.#leases.set(v, left);
      this.#drainWaiters = this.#drainWaiters.filter((w) => {
        if (this.#leasedBelow(w.below)) return true;
        w.resolve();
        return false;
      });
    }
  }

  /**
   * RotateMasterKey: (1) persist a new master key, version + 1, wrapped under the same unseal
   * key (the operators' material does not change), and encrypt new values under it; (2) wait
   * for writes still using the older key; (3) `rewrap` every data key; (4) persist the file
   * without the older keys and wipe them. FAILED_PRECONDITION "sealed"; ABORTED if a rotation
   * is running. If `rewrap` fails (or the process dies), the file keeps both keys (status
   * `rotationPending`) and the next call resumes with the same new key instead of adding one.
   */
  async rotateMasterKey(rewrap: RewrapDataKeys): Promise<RotationResult> {
    if (!this.#unlocked) throw new FailedPreconditionError('sealed');
    if (this.#rotating) throw new AbortedError('another master key rotation is running');
    this.#rotating = true;
    const epoch = this.#epoch;
    try {
      await this.#exclusive(async () => {
        const unlocked = this.#requireUnlocked(epoch);
        if (unlocked.masterKeys.length > 1) return; // resume an unfinished rotation
        const staged = unlocked.stageNewMasterKey(this.#random);
        await this.#persist(staged, epoch);
      });
      const unlocked = this.#requireUnlocked(epoch);
      const to = unlocked.current;
      const from = unlocked.masterKeys.filter((m) => m !== to);
      await new Promise<void>((resolve) => {
        if (!this.#leasedBelow(to.version)) resolve();
        else this.#drainWaiters.push({ below: to.version, resolve });
      });
      const rewrapped = await rewrap(from, to);
      await this.#exclusive(async () => {
        const staged = this.#requireUnlocked(epoch).stageRetirementOfOlderKeys();
        await this.#persist(staged, epoch);
      });
      return { status: await this.status(), rewrapped };
    } finally {
      this.#rotating = false;
    }
  }

  async #persist(staged: StagedKeyFileChange, epoch: number): Promise<void> {
    try {
      await this.#store.write(staged.file);
    } catch (err) {
      staged.discard();
      throw err;
    }
    if (epoch !== this.#epoch) {
      // Sealed during the write: the file is what the next unseal opens; memory stays sealed.
      staged.discard();
      this.#file = staged.file;
      throw new FailedPreconditionError('sealed');
    }
    staged.commit();
    this.#file = staged.file;
  }

  async #commitUnseal(unlocked: UnlockedKeyFile, epoch: number, options: UnsealOptions): Promise<void> {
    try {
      if (options.confirm) {
        const current = unlocked.current;
        await options.confirm({ mode: unlocked.file.mode, keyVersion: current.version, keyId: current.keyId });
      }
      if (epoch !== this.#epoch) throw new FailedPreconditionError('sealed while this unseal was in progress');
    } catch (err) {
      unlocked.wipe();
      throw err;
    }
    this.#unlocked = unlocked;
    this.#discardProgress();
    this.#changedAt = this.#clock.now();
    this.#onSealedChange?.(false);
  }

  #statusOf(file: KeyFile | undefined): SealStatus {
    this.#expireProgress();
    const round = this.#unlocked ? undefined : this.#round;
    if (!file) {
      return {
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
        changedAt: new Date(this.#changedAt.getTime()),
      };
    }
    const latest = file.masterKeys[file.masterKeys.length - 1];
    return {
      initialized: true,
      sealed: this.#unlocked === undefined,
      mode: file.mode,
      keyDerivation: file.mode === 'passphrase' ? file.kdf.name : undefined,
      threshold: file.mode === 'shares' ? file.threshold : 1,
      shareCount: file.mode === 'shares' ? file.shareCount : 1,
      sharesProvided: round?.shares.size ?? 0,
      progressExpiresAt: round ? new Date(round.expiresAt) : undefined,
      keyVersion: this.#unlocked?.current.version ?? latest?.version ?? 0,
      rotationPending: file.masterKeys.length > 1,
      changedAt: new Date(this.#changedAt.getTime()),
    };
  }

  async #load(): Promise<KeyFile | undefined> {
    if (this.#file) return this.#file;
    const raw = await this.#store.read();
    if (raw === undefined) return undefined;
    this.#file ??= parseKeyFile(raw);
    return this.#file;
  }

  async #requireFile(): Promise<KeyFile> {
    const file = await this.#load();
    if (!file) throw new FailedPreconditionError('not initialized: Initialize creates the key file first');
    return file;
  }

  #requireUnlocked(epoch: number): UnlockedKeyFile {
    if (epoch !== this.#epoch || !this.#unlocked) throw new FailedPreconditionError('sealed');
    return this.#unlocked;
  }

  #leasedBelow(version: number): boolean {
    for (const v of this.#leases.keys()) if (v < version) return true;
    return false;
  }

  #expireProgress(): void {
    if (this.#round && this.#clock.now().getTime() >= this.#round.expiresAt) this.#discardProgress();
  }

  #discardProgress(): void {
    if (!this.#round) return;
    for (const s of this.#round.shares.values()) s.wipe();
    this.#round = undefined;
  }

  /** Runs state-changing calls one at a time, in arrival order. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
