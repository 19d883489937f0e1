import { randomBytes } from 'node:crypto';
import type { AuditedTransaction, AuditedUnitOfWork, AuditSink, DomainAuditEvent, EventActor } from '@gatehouse/audit-client';
import {
  AbortedError,
  AlreadyExistsError,
  FailedPreconditionError,
  freeText,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  type Clock,
} from '@gatehouse/core';
import { decryptValue, encryptValue, rewrapDataKey } from './crypto/index.js';
import type { Actor, Environment, ReleaseFilter, ReleaseRecord, ReleaseRepository, ReleaseState, SecretHead, SecretRepository, SecretVersion } from './model.js';
import {
  bindingMismatch,
  checkApp,
  checkCreator,
  checkSecretName,
  isReleaseTokenShape,
  newReleaseToken,
  releaseTerms,
  releaseTokenHash,
  RELEASE_CREATORS,
} from './releases/release-rules.js';
import type { KeyFileSpec, MasterKey, SealManager, SealStatus } from './seal/index.js';

/** What the secrets service audits (ACTION_SECRETS_<ACTION>). */
export type SecretsAction =
  | 'initialize'
  | 'unseal'
  | 'seal'
  | 'master_key_rotate'
  | 'secret_put'
  | 'secret_delete'
  | 'release_create'
  | 'release_approve'
  | 'release_revoke'
  | 'release_redeem'
  | 'release_redeem_refused'
  | 'release_expired_unredeemed';

/** Why a redemption was refused (details.reason of ACTION_SECRETS_RELEASE_REDEEM_REFUSED; audit's alert rules match on it). */
export type RefusalReason =
  | 'already_redeemed'
  | 'expired'
  | 'revoked'
  | 'pending_approval'
  | 'cidr_mismatch'
  | 'identity_mismatch'
  | 'unknown_token'
  | 'malformed_token'
  | 'secret_deleted';

/**
 * How audit's alert rules see a refusal (details.class): a second presentation is a replay
 * (rule secrets.release_redeemed_twice); a token used against its terms or unknown is misuse
 * (rule secrets.release_redeem_misuse); too early or stale is neither (no alert).
 */
const REFUSAL_CLASS: Record<RefusalReason, 'replay' | 'misuse' | 'premature' | 'stale'> = {
  already_redeemed: 'replay',
  expired: 'misuse',
  revoked: 'misuse',
  cidr_mismatch: 'misuse',
  identity_mismatch: 'misuse',
  unknown_token: 'misuse',
  malformed_token: 'misuse',
  pending_approval: 'premature',
  secret_deleted: 'stale',
};

/** The employee behind a verified FULL session. `env` = until when the session reaches each environment (P1). */
export interface SecretsEmployee {
  accountId: string;
  email: string;
  roles: readonly string[];
  env: { live?: Date; staging?: Date };
}

/** Where a call comes from: the client IP, the certificate identity (`kind:name`) and the request id. */
export interface Caller {
  ip: string;
  identity: string;
  requestId: string;
}

/** Settings, validated by the wiring. */
export interface SecretsSettings {
  /** Approvals a new release needs per environment before it is READY (0 = none). */
  requiredApprovals: Readonly<Record<Environment, number>>;
  /** Longest TTL CreateRelease accepts (the contract's default 1 h). */
  maxTtlMs: number;
}

/** One decrypted secret of a bundle. The caller must not log it. */
export interface BundleSecret {
  name: string;
  version: number;
  value: Buffer;
}

/** What RedeemRelease returns, once. */
export interface Bundle {
  release: ReleaseRecord;
  secrets: BundleSecret[];
}

/** Who reads secrets' metadata and releases: any environment, or STAGING only. */
const READERS_ANY_ENV = ['security_officer', 'manager', 'team_lead'];
const READERS_STAGING = ['developer'];
/** Who approves releases per environment: never a developer, never the creator. */
const APPROVERS: Readonly<Record<Environment, readonly string[]>> = { live: ['manager', 'team_lead'], staging: ['manager', 'team_lead'] };
const MAX_REASON = 500;
const MAX_PUT_ATTEMPTS = 5;
const REWRAP_BATCH = 100;

type Event = DomainAuditEvent<SecretsAction>;

/**
 * SecretsService's domain (P3, P4; issue 6): the seal, envelope-encrypted secret versions, and
 * single-use releases. Every data operation needs the master key, so while sealed each one
 * answers FAILED_PRECONDITION "sealed". Every state change and its audit events commit as one
 * unit of work (issue 14). Redemption is one compare-and-set (READY → REDEEMED) in the store:
 * whatever the concurrency, one caller wins; audit confirms the intent before it, and the
 * compare-and-set and its outcome event commit together, so a REDEEMED release always has its
 * REDEEM event, and if audit cannot confirm, nothing changes and nothing is sent.
 */
export class Secrets {
  constructor(
    private readonly d: {
      secrets: SecretRepository;
      releases: ReleaseRepository;
      seal: SealManager;
      /** Where each use case's writes and events commit together. */
      uow: AuditedUnitOfWork<SecretsAction>;
      /** Fail-closed confirmation of critical actions' intents (before the action). */
      audit: AuditSink<SecretsAction>;
      /**
       * Runs fn after every earlier call with the same key in this process finished: one redemption
       * of a token at a time here, so concurrent callers do not each ask audit to confirm an intent
       * only one of them can carry out (replicas still race through the compare-and-set).
       */
      inTurn: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
      clock: Clock;
      settings: SecretsSettings;
    },
  ) {}

  /** Stages events with no state change of their own (seal, refusals) in a unit of their own. */
  private note(useCase: string, ...events: Event[]): Promise<void> {
    return this.d.uow.run(async (tx) => tx.audit(...events), useCase);
  }

  // ---- seal ----------------------------------------------------------------------------------

  sealStatus(): Promise<SealStatus> {
    return this.d.seal.status();
  }

  /** Initialize: a new key file (passphrase or shares). The shares are returned here only. */
  async initialize(spec: KeyFileSpec, from: Caller): Promise<{ status: SealStatus; shares: string[] }> {
    const r = await this.d.seal.initialize(spec);
    await this.note(
      'initialize',
      this.event('initialize', 'success', machine(from), from, {
        subject: { kind: 'seal', id: 'key-file' },
        details: { mode: r.status.mode ?? '', threshold: String(r.status.threshold), shares: String(r.status.shareCount), key_version: String(r.status.keyVersion) },
      }),
    );
    return r;
  }

  /**
   * Unseal with the passphrase or one share. The final step is critical: audit must confirm it
   * before the service unseals. Every refusal is audited (a wrong passphrase is an attack signal).
   */
  async unseal(material: { passphrase: string } | { share: string }, from: Caller): Promise<SealStatus> {
    // The final step: a confirmed intent before the key is kept, its outcome once the service is unsealed.
    let unsealing: { event: Event; intentId: string } | undefined;
    const confirm = async (c: { mode: string; keyVersion: number }) => {
      const event = this.event('unseal', 'success', machine(from), from, { subject: { kind: 'seal', id: 'key-file' }, details: { mode: c.mode, key_version: String(c.keyVersion), unsealed: 'true' } });
      unsealing = { event, intentId: (await this.d.audit.confirm(event)).intentId };
    };
    try {
      const status = 'passphrase' in material ? await this.d.seal.unsealWithPassphrase(material.passphrase, { confirm }) : await this.d.seal.unsealWithShare(material.share, { confirm });
      if (unsealing) await this.note('unseal', outcomeOf(unsealing, status.sealed ? { outcome: 'error', error: 'sealed again before the unseal completed' } : { outcome: 'success' }));
      if (status.sealed && !unsealing) {
        await this.note(
          'unseal',
          this.event('unseal', 'success', machine(from), from, {
            subject: { kind: 'seal', id: 'key-file' },
            details: { mode: status.mode ?? '', progress: `${status.sharesProvided}/${status.threshold}`, unsealed: 'false' },
          }),
        );
      }
      return status;
    } catch (err) {
      if (unsealing) await this.note('unseal', outcomeOf(unsealing, { outcome: 'error', error: err instanceof FailedPreconditionError ? 'sealed again before the unseal completed' : 'the unseal did not complete' }));
      if (err instanceof PermissionDeniedError || err instanceof InvalidArgumentError) {
        await this.note(
          'deny',
          this.event('unseal', err instanceof PermissionDeniedError ? 'denied' : 'failure', machine(from), from, {
            subject: { kind: 'seal', id: 'key-file' },
            details: { reason: err instanceof PermissionDeniedError ? 'key_material_refused' : 'malformed_key_material' },
          }),
        );
      }
      throw err;
    }
  }

  /** Seal: wipes the master key at once. By an operator certificate, or a security officer's session. */
  async seal(who: SecretsEmployee | undefined, reason: string, from: Caller): Promise<SealStatus> {
    const why = text(reason, 'reason', false);
    if (who && !who.roles.includes('security_officer')) throw new PermissionDeniedError('sealing with a session requires the security_officer role');
    const before = await this.d.seal.status();
    const status = await this.d.seal.seal();
    await this.note(
      'seal',
      this.event('seal', 'success', who ? employee(who) : machine(from), from, {
        subject: { kind: 'seal', id: 'key-file' },
        details: { reason: why, was_sealed: String(before.sealed) },
      }),
    );
    return status;
  }

  /** RotateMasterKey (security officer): a new master key; every data key re-wrapped, values untouched. */
  async rotateMasterKey(officer: SecretsEmployee, reason: string, from: Caller): Promise<{ status: SealStatus; rewrapped: number; at: Date }> {
    requireRole(officer, ['security_officer'], 'rotating the master key');
    const why = text(reason, 'reason', true);
    const r = await this.d.seal.rotateMasterKey((olds, to) => this.rewrapAll(olds, to));
    await this.note(
      'rotate-master-key',
      this.event('master_key_rotate', 'success', employee(officer), from, {
        subject: { kind: 'seal', id: 'key-file' },
        details: { reason: why, key_version: String(r.status.keyVersion), rewrapped: String(r.rewrapped) },
      }),
    );
    return { status: r.status, rewrapped: r.rewrapped, at: this.d.clock.now() };
  }

  private async rewrapAll(olds: readonly MasterKey[], to: MasterKey): Promise<number> {
    const byVersion = new Map(olds.map((k) => [k.version, k]));
    let count = 0;
    for (;;) {
      const batch = await this.d.secrets.wrappedUnder(to.version, REWRAP_BATCH);
      if (batch.length === 0) return count;
      const rewrapped = batch.map((v) => {
        const old = byVersion.get(v.masterKeyVersion);
        if (!old) throw new Error(`secret version wrapped under master key ${v.masterKeyVersion}, which the key file no longer holds`);
        return { v, wrappedDataKey: rewrapDataKey(old, to, binding(v), v).wrappedDataKey };
      });
      // One unit per batch: each re-wrap is its own compare-and-set; the rotation's event follows at the end.
      count += await this.d.uow.run(async (tx) => {
        let n = 0;
        for (const r of rewrapped) if (await this.d.secrets.rewrap(tx, r.v, r.v.masterKeyVersion, r.wrappedDataKey, to.version)) n++;
        return n;
      }, 'rotate-rewrap');
    }
  }

  // ---- secrets -------------------------------------------------------------------------------

  /** PutSecret: a new version, encrypted under a fresh data key before it reaches the store. */
  async putSecret(who: SecretsEmployee, req: { environment: Environment; app: string; name: string; value: Uint8Array }, from: Caller): Promise<SecretHead> {
    this.requireUnsealed();
    const app = checkApp(req.app);
    const name = checkSecretName(req.name);
    this.requireWriter(who, req.environment, 'store secrets');
    for (let attempt = 1; ; attempt++) {
      const head = await this.d.secrets.head(req.environment, app, name);
      const now = this.d.clock.now();
      const version = (head?.latestVersion ?? 0) + 1;
      const by = actor(who);
      const event = this.event('secret_put', 'success', employee(who), from, { environment: req.environment, subject: secretSubject(req.environment, app, name), details: { app, version: String(version) } });
      try {
        // Encrypted before the unit (no crypto while the store is held); the lease keeps a rotation from retiring the key until it committed.
        return await this.d.seal.withMasterKey(async (key) => {
          const sealed = encryptValue(key, { environment: req.environment, app, name, version }, req.value);
          return this.d.uow.run(async (tx) => {
            await this.d.secrets.putVersion(
              tx,
              { environment: req.environment, app, name, version, ...sealed, createdAt: now, createdBy: by, destroyedAt: null },
              { environment: req.environment, app, name, latestVersion: version, createdAt: head?.createdAt ?? now, updatedAt: now, updatedBy: by, deletedAt: null, deletedBy: null },
            );
            tx.faultPoint('version');
            tx.audit(event);
            const stored = await this.d.secrets.head(req.environment, app, name, tx);
            if (!stored) throw new Error('a secret just stored has no head');
            return stored;
          }, 'put-secret');
        });
      } catch (err) {
        if (err instanceof AlreadyExistsError && attempt < MAX_PUT_ATTEMPTS) continue;
        if (err instanceof AlreadyExistsError) throw new AbortedError(`${name} was changed concurrently; retry`);
        throw err;
      }
    }
  }

  /** ListSecrets: metadata only. A developer sees STAGING only. */
  async listSecrets(
    who: SecretsEmployee,
    filter: { environment?: Environment; app?: string; includeDeleted: boolean },
    page: { after?: { environment: string; app: string; name: string } | undefined; limit: number },
  ): Promise<SecretHead[]> {
    this.requireUnsealed();
    const environment = this.readableEnvironment(who, filter.environment, 'secrets');
    if (filter.app !== undefined) checkApp(filter.app);
    return this.d.secrets.list({ ...filter, ...(environment ? { environment } : {}) }, page);
  }

  /** DeleteSecret: out of new releases; every version's ciphertext destroyed; metadata kept. */
  async deleteSecret(who: SecretsEmployee, req: { environment: Environment; app: string; name: string; reason: string }, from: Caller): Promise<SecretHead> {
    this.requireUnsealed();
    const app = checkApp(req.app);
    const name = checkSecretName(req.name);
    const why = text(req.reason, 'reason', true);
    this.requireWriter(who, req.environment, 'delete secrets');
    return this.d.uow.run(async (tx) => {
      if (!(await this.d.secrets.delete(tx, req.environment, app, name, this.d.clock.now(), actor(who)))) {
        throw new NotFoundError(`no secret ${name} of app ${app} in ${req.environment.toUpperCase()} (or it was already deleted)`);
      }
      tx.faultPoint('delete');
      tx.audit(this.event('secret_delete', 'success', employee(who), from, { environment: req.environment, subject: secretSubject(req.environment, app, name), details: { app, reason: why } }));
      const head = await this.d.secrets.head(req.environment, app, name, tx);
      if (!head) throw new Error('a deleted secret lost its head');
      return head;
    }, 'delete-secret');
  }

  // ---- releases ------------------------------------------------------------------------------

  /** CreateRelease: snapshot the app's latest versions; the token is returned here only. */
  async createRelease(
    who: SecretsEmployee,
    req: { environment: Environment; app: string; deploymentRef: string; ttlMs: number | undefined; boundCidr: string | undefined; boundClientIdentity: string | undefined },
    from: Caller,
  ): Promise<{ release: ReleaseRecord; token: string }> {
    this.requireUnsealed();
    const terms = releaseTerms(req);
    if (terms.ttlMs > this.d.settings.maxTtlMs) throw new InvalidArgumentError('ttl', `must be at most ${Math.round(this.d.settings.maxTtlMs / 60_000)} minutes (the configured maximum)`);
    checkCreator(who.roles, req.environment);
    this.requireEnvironmentAccess(who, req.environment);
    const snapshot = await this.d.secrets.latestOfApp(req.environment, terms.app);
    if (snapshot.length === 0) throw new FailedPreconditionError(`app ${terms.app} has no secrets in ${req.environment.toUpperCase()}: nothing to release`);
    const token = newReleaseToken();
    const now = this.d.clock.now();
    const required = this.d.settings.requiredApprovals[req.environment];
    const release: ReleaseRecord = {
      releaseId: `rel_${randomBytes(12).toString('base64url')}`,
      tokenHash: releaseTokenHash(token),
      environment: req.environment,
      app: terms.app,
      deploymentRef: terms.deploymentRef,
      state: required > 0 ? 'pending_approval' : 'ready',
      createdBy: actor(who),
      createdAt: now,
      expiresAt: new Date(now.getTime() + terms.ttlMs),
      boundCidr: terms.boundCidr?.canonical ?? null,
      boundClientIdentity: terms.boundClientIdentity,
      requiredApprovals: required,
      approvals: [],
      secrets: snapshot.map((v) => ({ name: v.name, version: v.version })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      redeemedAt: null,
      redeemedByIdentity: null,
      redeemedFromIp: null,
      refusedRedemptionCount: 0,
      revokedAt: null,
      revokedBy: null,
      revokeReason: null,
      expiryReported: false,
      version: 1,
    };
    await this.d.uow.run(async (tx) => {
      await this.d.releases.create(tx, release);
      tx.faultPoint('create');
      tx.audit(this.event('release_create', 'success', employee(who), from, {
        occurredAt: release.createdAt,
        environment: release.environment,
        subject: { kind: 'release', id: release.releaseId },
        details: {
          app: release.app,
          deployment_ref: release.deploymentRef,
          ttl_seconds: String(Math.round(terms.ttlMs / 1000)),
          bound_cidr: release.boundCidr ?? '',
          bound_client_identity: release.boundClientIdentity ?? '',
          required_approvals: String(required),
          entries: String(release.secrets.length),
          state: release.state,
        },
      }));
    }, 'create-release');
    return { release, token };
  }

  /** ApproveRelease (critical): never the creator, each approver once; READY with enough approvals. */
  async approveRelease(who: SecretsEmployee, releaseId: string, note: string, from: Caller): Promise<ReleaseRecord> {
    this.requireUnsealed();
    const memo = text(note, 'note', false);
    const r = await this.release(releaseId);
    requireRole(who, APPROVERS[r.environment], `approving ${r.environment.toUpperCase()} releases`);
    this.requireEnvironmentAccess(who, r.environment);
    const now = this.d.clock.now();
    if (r.state !== 'pending_approval') throw new FailedPreconditionError(`release ${r.releaseId} is ${stateWord(r.state)}, not waiting for approval`);
    if (r.expiresAt.getTime() <= now.getTime()) throw new FailedPreconditionError(`release ${r.releaseId} expired at ${r.expiresAt.toISOString()}`);
    if (r.createdBy.accountId === who.accountId) throw new PermissionDeniedError('the creator of a release cannot approve it (four eyes)');
    if (r.approvals.some((a) => a.approver.accountId === who.accountId)) throw new FailedPreconditionError(`you already approved release ${r.releaseId}`);
    const approvals = [...r.approvals, { approver: actor(who), approvedAt: now, note: memo }];
    const next: ReleaseRecord = { ...r, approvals, state: approvals.length >= r.requiredApprovals ? 'ready' : 'pending_approval', version: r.version + 1 };
    const event = this.event('release_approve', 'success', employee(who), from, {
      environment: r.environment,
      subject: { kind: 'release', id: r.releaseId },
      details: { app: r.app, deployment_ref: r.deploymentRef, approvals: `${approvals.length}/${r.requiredApprovals}`, note: memo },
    });
    const approving = { event, intentId: (await this.d.audit.confirm(event)).intentId };
    // The approval and its outcome commit together; a lost compare-and-set commits only the outcome saying so.
    const applied = await this.d.uow.run(async (tx) => {
      if (!(await this.d.releases.update(tx, next))) {
        tx.audit(outcomeOf(approving, { outcome: 'error', error: 'concurrent change: not applied' }));
        return false;
      }
      tx.faultPoint('approve');
      tx.audit(outcomeOf(approving, { outcome: 'success' }));
      return true;
    }, 'approve-release');
    if (!applied) throw new AbortedError(`release ${r.releaseId} changed concurrently; retry`);
    return next;
  }

  /** RevokeRelease: by the creator, an approver of its environment or the security officer; the token dies at once. */
  async revokeRelease(who: SecretsEmployee, releaseId: string, reason: string, from: Caller): Promise<ReleaseRecord> {
    this.requireUnsealed();
    const why = text(reason, 'reason', true);
    const r = await this.release(releaseId);
    const allowed = r.createdBy.accountId === who.accountId || who.roles.some((role) => role === 'security_officer' || APPROVERS[r.environment].includes(role));
    if (!allowed) throw new PermissionDeniedError('a release may be revoked by its creator, an approver of its environment or the security officer');
    if (r.state !== 'pending_approval' && r.state !== 'ready') throw new FailedPreconditionError(`release ${r.releaseId} is ${stateWord(r.state)}; only a release not yet redeemed can be revoked`);
    const now = this.d.clock.now();
    const next: ReleaseRecord = { ...r, state: 'revoked', revokedAt: now, revokedBy: actor(who), revokeReason: why, version: r.version + 1 };
    await this.d.uow.run(async (tx) => {
      if (!(await this.d.releases.update(tx, next))) throw new AbortedError(`release ${r.releaseId} changed concurrently; retry`);
      tx.faultPoint('revoke');
      tx.audit(
        this.event('release_revoke', 'success', employee(who), from, {
          environment: r.environment,
          subject: { kind: 'release', id: r.releaseId },
          details: { app: r.app, deployment_ref: r.deploymentRef, reason: why, previous_state: r.state },
        }),
      );
    }, 'revoke-release');
    return next;
  }

  /**
   * RedeemRelease: the bundle, once. Checks (state, expiry, bindings, snapshot) come first; then
   * audit must confirm the intent (fail closed: nothing changes and nothing is sent otherwise);
   * then one unit of work carries the single compare-and-set that picks the winner AND its
   * outcome event, so a REDEEMED release always has its REDEEM event (issue 14: a crash between
   * two commits used to leave one without). A crash after that commit leaves it REDEEMED: never
   * released twice. Every refusal is counted and audited.
   */
  async redeem(token: string, from: Caller): Promise<Bundle> {
    this.requireUnsealed();
    if (!isReleaseTokenShape(token)) {
      await this.refuse(undefined, 'malformed_token', from);
      throw new InvalidArgumentError('release_token', 'is not a release token (ghr_ followed by 43 base64url characters)');
    }
    const hash = releaseTokenHash(token);
    return this.d.inTurn(`secrets/redeem/${hash}`, () => this.redeemInTurn(hash, from));
  }

  private async redeemInTurn(hash: string, from: Caller): Promise<Bundle> {
    const found = await this.d.releases.byTokenHash(hash);
    if (!found) {
      await this.refuse(undefined, 'unknown_token', from);
      throw new PermissionDeniedError('unknown release token');
    }
    await this.refuseUnlessRedeemable(found, from);
    const mismatch = bindingMismatch(found, from);
    if (mismatch) {
      await this.refuse(found, mismatch === 'cidr' ? 'cidr_mismatch' : 'identity_mismatch', from);
      throw new PermissionDeniedError(
        mismatch === 'cidr'
          ? `release ${found.releaseId} is bound to a network this call (${from.ip}) is not in`
          : `release ${found.releaseId} is bound to another client certificate than ${from.identity}`,
      );
    }
    const secrets = await this.openSnapshot(found, from);
    try {
      const event = this.event('release_redeem', 'success', machine(from), from, {
        environment: found.environment,
        subject: { kind: 'release', id: found.releaseId },
        details: { app: found.app, deployment_ref: found.deploymentRef, entries: String(secrets.length), client_identity: from.identity },
      });
      const redeeming = { event, intentId: (await this.d.audit.confirm(event)).intentId };
      const result = await this.d.uow.run(async (tx): Promise<{ won: ReleaseRecord } | { lost: ReleaseRecord }> => {
        const won = await this.d.releases.redeem(tx, hash, this.d.clock.now(), { identity: from.identity, ip: from.ip });
        if (!won) {
          // Another replica's compare-and-set came first (or the release just expired): the intent's outcome says so.
          tx.audit(outcomeOf(redeeming, { outcome: 'error', error: 'the release was no longer redeemable: not redeemed' }));
          return { lost: (await this.d.releases.get(found.releaseId, tx)) ?? found };
        }
        tx.faultPoint('redeem');
        tx.audit(outcomeOf(redeeming, { outcome: 'success' }));
        return { won };
      }, 'redeem-release');
      if ('lost' in result) {
        await this.refuseUnlessRedeemable(result.lost, from);
        throw new Error('a release that lost the redemption is still redeemable');
      }
      return { release: result.won, secrets };
    } catch (err) {
      for (const s of secrets) s.value.fill(0);
      throw err;
    }
  }

  /** GetRelease: officers, managers, team leads; developers for STAGING. */
  async getRelease(who: SecretsEmployee, releaseId: string): Promise<ReleaseRecord> {
    this.requireUnsealed();
    const r = await this.release(releaseId);
    this.readableEnvironment(who, r.environment, 'releases');
    return r;
  }

  /** ListReleases: newest first; a developer sees STAGING only. */
  async listReleases(who: SecretsEmployee, filter: ReleaseFilter, page: { after?: { createdAt: Date; releaseId: string } | undefined; limit: number }): Promise<ReleaseRecord[]> {
    this.requireUnsealed();
    const environment = this.readableEnvironment(who, filter.environment, 'releases');
    if (filter.app !== undefined) checkApp(filter.app);
    return this.d.releases.list({ ...filter, ...(environment ? { environment } : {}) }, page);
  }

  /**
   * The expiry job: releases past their expiry become EXPIRED; each READY one raises
   * ACTION_SECRETS_RELEASE_EXPIRED_UNREDEEMED once, in the unit of work of the state change (a
   * replica whose compare-and-set lost stages nothing). Runs sealed too (no key needed). Returns
   * how many releases it expired or reported.
   */
  async expireDue(limit = 100): Promise<number> {
    const now = this.d.clock.now();
    let done = 0;
    for (const r of await this.d.releases.dueForExpiry(now, limit)) {
      const unredeemed = r.state === 'ready' || (r.state === 'expired' && r.approvals.length >= r.requiredApprovals);
      const expired = await this.d.uow.run(async (tx) => {
        if (!(await this.d.releases.update(tx, { ...r, state: 'expired', expiryReported: true, version: r.version + 1 }))) return false;
        tx.faultPoint('expire');
        if (unredeemed) {
          tx.audit({
            action: 'release_expired_unredeemed',
            outcome: 'failure',
            actor: { kind: 'system', id: 'secrets-expiry' },
            environment: r.environment,
            subject: { kind: 'release', id: r.releaseId },
            details: { app: r.app, deployment_ref: r.deploymentRef, expired_at: r.expiresAt.toISOString(), created_by: r.createdBy.accountId },
          });
        }
        return true;
      }, 'expire-release');
      if (expired) done++;
    }
    return done;
  }

  // ---- helpers -------------------------------------------------------------------------------

  private requireUnsealed(): void {
    this.d.seal.masterKey();
  }

  private async release(releaseId: string): Promise<ReleaseRecord> {
    if (typeof releaseId !== 'string' || !/^rel_[A-Za-z0-9_-]{16}$/.test(releaseId)) throw new InvalidArgumentError('release_id', 'is not a release id (rel_ and 16 characters)');
    const r = await this.d.releases.get(releaseId);
    if (!r) throw new NotFoundError(`no release ${releaseId}`);
    return r;
  }

  /** Refuses (audited, counted) a release that is not READY or is past its expiry. */
  private async refuseUnlessRedeemable(r: ReleaseRecord, from: Caller): Promise<void> {
    const now = this.d.clock.now().getTime();
    let reason: RefusalReason | undefined;
    if (r.state === 'redeemed') reason = 'already_redeemed';
    else if (r.state === 'revoked') reason = 'revoked';
    else if (r.state === 'pending_approval') reason = r.expiresAt.getTime() <= now ? 'expired' : 'pending_approval';
    else if (r.state === 'expired' || r.expiresAt.getTime() <= now) reason = 'expired';
    if (!reason) return;
    await this.refuse(r, reason, from);
    const message: Record<string, string> = {
      already_redeemed: `release ${r.releaseId} was already redeemed${r.redeemedAt ? ` at ${r.redeemedAt.toISOString()}` : ''}; a release token works once`,
      revoked: `release ${r.releaseId} was revoked`,
      pending_approval: `release ${r.releaseId} is still waiting for approval (${r.approvals.length} of ${r.requiredApprovals})`,
      expired: `release ${r.releaseId} expired at ${r.expiresAt.toISOString()}`,
    };
    throw new FailedPreconditionError(message[reason] ?? `release ${r.releaseId} cannot be redeemed`);
  }

  /** A refused redemption: the release's refusal count and the event, in one unit. */
  private async refuse(r: ReleaseRecord | undefined, reason: RefusalReason, from: Caller): Promise<void> {
    const event = this.event('release_redeem_refused', 'denied', machine(from), from, {
      ...(r ? { environment: r.environment, subject: { kind: 'release' as const, id: r.releaseId } } : {}),
      details: { reason, class: REFUSAL_CLASS[reason], ...(r ? { app: r.app, deployment_ref: r.deploymentRef, state: r.state } : {}), client_identity: from.identity },
    });
    await this.d.uow.run(async (tx: AuditedTransaction<SecretsAction>) => {
      if (r) {
        await this.d.releases.countRefusal(tx, r.releaseId);
        tx.faultPoint('count');
      }
      tx.audit(event);
    }, 'refuse-redemption');
  }

  /** Decrypts the release's snapshot; a destroyed or missing version refuses the redemption. */
  private async openSnapshot(r: ReleaseRecord, from: Caller): Promise<BundleSecret[]> {
    const out: BundleSecret[] = [];
    try {
      for (const ref of r.secrets) {
        const v = await this.d.secrets.version(r.environment, r.app, ref.name, ref.version);
        if (!v || v.destroyedAt !== null) {
          await this.refuse(r, 'secret_deleted', from);
          throw new FailedPreconditionError(`release ${r.releaseId} holds ${ref.name} version ${ref.version}, which was deleted; create a new release`);
        }
        out.push({ name: ref.name, version: ref.version, value: decryptValue(this.d.seal.masterKey(v.masterKeyVersion), binding(v), v) });
      }
      return out;
    } catch (err) {
      for (const s of out) s.value.fill(0);
      throw err;
    }
  }

  private requireWriter(who: SecretsEmployee, env: Environment, what: string): void {
    if (!who.roles.some((r) => RELEASE_CREATORS[env].includes(r))) {
      throw new PermissionDeniedError(`only ${RELEASE_CREATORS[env].join(', ')} may ${what} in ${env.toUpperCase()}${env === 'live' ? ' (policy P1)' : ''}`);
    }
    this.requireEnvironmentAccess(who, env);
  }

  /** The session must still reach the environment (identity gives LIVE a shorter life, P1). */
  private requireEnvironmentAccess(who: SecretsEmployee, env: Environment): void {
    const until = who.env[env];
    if (!until || until.getTime() <= this.d.clock.now().getTime()) {
      throw new PermissionDeniedError(`this session no longer reaches ${env.toUpperCase()}${until ? ` (ended ${until.toISOString()})` : ''}; sign in again`);
    }
  }

  /** Which environment a listing may show: undefined = any; developers STAGING only. */
  private readableEnvironment(who: SecretsEmployee, wanted: Environment | undefined, what: string): Environment | undefined {
    if (who.roles.some((r) => READERS_ANY_ENV.includes(r))) return wanted;
    if (who.roles.some((r) => READERS_STAGING.includes(r))) {
      if (wanted === 'live') throw new PermissionDeniedError(`a developer may see STAGING ${what} only (policy P1)`);
      return 'staging';
    }
    throw new PermissionDeniedError(`${what} are visible to the security_officer, manager, team_lead and (STAGING) developer roles`);
  }

  private event(action: SecretsAction, outcome: Event['outcome'], who: EventActor, from: Caller, rest: Partial<Event>): Event {
    return { action, outcome, actor: who, ...(from.ip ? { sourceIp: from.ip } : {}), requestId: from.requestId, ...rest };
  }
}

/** The outcome event of a critical action, naming its confirmed intent (issue 13: an event says only what happened). */
function outcomeOf(step: { event: Event; intentId: string }, how: { outcome: 'success' } | { outcome: 'error'; error: string }): Event {
  const details = how.outcome === 'error' ? { ...step.event.details, error: how.error } : step.event.details;
  return { ...step.event, outcome: how.outcome, intentId: step.intentId, ...(details ? { details } : {}) };
}

function requireRole(who: SecretsEmployee, roles: readonly string[], what: string): void {
  if (!who.roles.some((r) => roles.includes(r))) throw new PermissionDeniedError(`${what} requires one of the roles ${roles.join(', ')}`);
}

function actor(who: SecretsEmployee): Actor {
  return { accountId: who.accountId, email: who.email };
}

function employee(who: SecretsEmployee): EventActor {
  return { kind: 'employee', id: who.accountId };
}

/** A call made with a certificate and no session (unseal, redeem): the certificate is the actor. */
function machine(from: Caller): EventActor {
  return { kind: 'service', id: from.identity };
}

function secretSubject(env: Environment, app: string, name: string) {
  return { kind: 'secret' as const, id: `${env}:${app}:${name}` };
}

function binding(v: SecretVersion) {
  return { environment: v.environment, app: v.app, name: v.name, version: v.version };
}

function stateWord(s: ReleaseState): string {
  return s === 'pending_approval' ? 'pending approval' : s;
}

/** A reason or note: at most 500 characters, no control characters (what audit accepts). */
function text(value: string, field: string, required: boolean): string {
  return freeText(value, field, { required, max: MAX_REASON });
}

