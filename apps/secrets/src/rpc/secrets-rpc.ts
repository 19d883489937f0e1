import { commonV1, SecretsServiceService, SERVICE_NAMES, secretsV1 } from '@gatehouse/contracts';
import { InvalidArgumentError, PermissionDeniedError } from '@gatehouse/core';
import { callers, clientIpOf, environmentFromProto as envFromProto, environmentToProto as envToProto, unary, type CallerRule, type RequestContext, type ServiceBinding } from '@gatehouse/service-kit';
import { requireSession, type SessionTokenVerifier } from '@gatehouse/session';
import type { Actor, ReleaseRecord, ReleaseState, SecretHead } from '../domain/model.js';
import type { SealStatus } from '../domain/seal/index.js';
import type { Caller, Secrets, SecretsEmployee } from '../domain/secrets-service.js';

/**
 * Who may call each SecretsService RPC, by certificate kind (the contract's "Callers:" lines).
 * Role checks on the employee's session happen in the domain, per object (ASVS 8.2).
 */
export const secretsPolicy: Readonly<Record<string, CallerRule>> = {
  SealStatus: callers.anyAuthenticated,
  Initialize: callers.operators,
  Unseal: callers.operators,
  Seal: callers.operatorsAndServices,
  RotateMasterKey: callers.operators,
  PutSecret: callers.operators,
  ListSecrets: callers.operators,
  DeleteSecret: callers.operators,
  CreateRelease: callers.operatorsAndBackends,
  ApproveRelease: callers.operators,
  RevokeRelease: callers.operators,
  RedeemRelease: callers.operatorsAndBackends,
  GetRelease: callers.operators,
  ListReleases: callers.operators,
};

/** What the handlers translate to. */
export interface SecretsRpcDeps {
  secrets: Secrets;
  verifier: SessionTokenVerifier;
  trustedProxies: readonly string[];
}

const S = secretsV1;

const principal = (a: Actor | null) => (a ? commonV1.Principal.fromPartial({ accountId: a.accountId, email: a.email }) : undefined);

const RELEASE_STATE: Record<ReleaseState, secretsV1.ReleaseState> = {
  pending_approval: S.ReleaseState.RELEASE_STATE_PENDING_APPROVAL,
  ready: S.ReleaseState.RELEASE_STATE_READY,
  redeemed: S.ReleaseState.RELEASE_STATE_REDEEMED,
  expired: S.ReleaseState.RELEASE_STATE_EXPIRED,
  revoked: S.ReleaseState.RELEASE_STATE_REVOKED,
};

function sealToProto(s: SealStatus): secretsV1.SealInfo {
  return S.SealInfo.fromPartial({
    state: !s.initialized ? S.SealState.SEAL_STATE_UNINITIALIZED : s.sealed ? S.SealState.SEAL_STATE_SEALED : S.SealState.SEAL_STATE_UNSEALED,
    sealType: s.mode === 'passphrase' ? S.SealType.SEAL_TYPE_PASSPHRASE : s.mode === 'shares' ? S.SealType.SEAL_TYPE_SHAMIR : S.SealType.SEAL_TYPE_UNSPECIFIED,
    keyDerivation: s.keyDerivation === 'scrypt' ? S.KeyDerivation.KEY_DERIVATION_SCRYPT : S.KeyDerivation.KEY_DERIVATION_UNSPECIFIED,
    threshold: s.threshold,
    shareCount: s.shareCount,
    progress: s.sealed ? s.sharesProvided : 0,
    keyVersion: s.keyVersion,
    changedAt: s.changedAt,
  });
}

function secretToProto(h: SecretHead): secretsV1.SecretMetadata {
  return S.SecretMetadata.fromPartial({
    environment: envToProto(h.environment),
    app: h.app,
    name: h.name,
    version: h.latestVersion,
    createdAt: h.createdAt,
    updatedAt: h.updatedAt,
    updatedBy: principal(h.updatedBy),
    deletedAt: h.deletedAt ?? undefined,
    deletedBy: principal(h.deletedBy),
  });
}

function releaseToProto(r: ReleaseRecord): secretsV1.Release {
  return S.Release.fromPartial({
    releaseId: r.releaseId,
    environment: envToProto(r.environment),
    app: r.app,
    deploymentRef: r.deploymentRef,
    state: RELEASE_STATE[r.state],
    createdBy: principal(r.createdBy),
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    boundCidr: r.boundCidr ?? undefined,
    boundClientIdentity: r.boundClientIdentity ?? undefined,
    requiredApprovals: r.requiredApprovals,
    approvals: r.approvals.map((a) => ({ approver: principal(a.approver), approvedAt: a.approvedAt, note: a.note })),
    secrets: r.secrets.map((s) => ({ name: s.name, version: s.version })),
    redeemedAt: r.redeemedAt ?? undefined,
    redeemedByIdentity: r.redeemedByIdentity ?? '',
    redeemedFromIp: r.redeemedFromIp ?? '',
    refusedRedemptionCount: r.refusedRedemptionCount,
    revokedAt: r.revokedAt ?? undefined,
    revokedBy: principal(r.revokedBy),
    revokeReason: r.revokeReason ?? '',
  });
}

/** page_size: 0 = the default, otherwise 1..max. */
function pageSize(size: number, dflt: number, max: number): number {
  if (size === 0) return dflt;
  if (!Number.isInteger(size) || size < 1 || size > max) throw new InvalidArgumentError('page_size', `must be from 0 to ${max}`);
  return size;
}

const SECRETS_PAGE = /^(live|staging)\/([a-z][a-z0-9-]{0,62})\/([A-Z][A-Z0-9_]{0,127})$/;
const RELEASES_PAGE = /^(\d{1,15})\/(rel_[A-Za-z0-9_-]{16})$/;

/** The SecretsService binding: each handler only translates proto ⇄ domain. */
export function secretsBinding(d: SecretsRpcDeps): ServiceBinding {
  const caller = (ctx: RequestContext): Caller => ({
    ip: clientIpOf(ctx, d.trustedProxies),
    identity: ctx.caller ? `${ctx.caller.kind}:${ctx.caller.name}` : 'insecure-loopback',
    requestId: ctx.requestId,
  });
  /** The employee behind a FULL session (impersonation tokens are not sessions and fail verification). */
  const employee = async (ctx: RequestContext, critical = false): Promise<SecretsEmployee> => {
    // Critical actions (changing secrets and releases) ask identity synchronously, fail closed.
    const claims = await requireSession({ bearerToken: () => ctx.bearerToken(), peerIp: caller(ctx).ip }, d.verifier, { scope: 'full', critical });
    return { accountId: claims.accountId, email: claims.email, roles: claims.roles, env: claims.env };
  };
  const s = d.secrets;

  return {
    name: SERVICE_NAMES.secrets,
    definition: SecretsServiceService,
    policy: secretsPolicy,
    handlers: {
      SealStatus: unary<secretsV1.SealStatusRequest, secretsV1.SealStatusResponse>(async () => ({ seal: sealToProto(await s.sealStatus()) })),

      Initialize: unary<secretsV1.InitializeRequest, secretsV1.InitializeResponse>(async (req, ctx) => {
        if (req.passphrase && req.shamir) throw new InvalidArgumentError('seal', 'give either passphrase or shamir, not both');
        if (req.passphrase) {
          const kdf = req.passphrase.keyDerivation;
          if (kdf === S.KeyDerivation.KEY_DERIVATION_ARGON2ID) throw new InvalidArgumentError('passphrase.key_derivation', 'argon2id is not available in this build; use KEY_DERIVATION_SCRYPT (or leave it unset)');
          if (kdf !== S.KeyDerivation.KEY_DERIVATION_SCRYPT && kdf !== S.KeyDerivation.KEY_DERIVATION_UNSPECIFIED) throw new InvalidArgumentError('passphrase.key_derivation', 'is not a known key derivation');
          const r = await s.initialize({ mode: 'passphrase', passphrase: req.passphrase.passphrase }, caller(ctx));
          return { seal: sealToProto(r.status), shares: [] };
        }
        if (req.shamir) {
          const { shareCount, threshold } = req.shamir;
          if (shareCount < 2 || shareCount > 16) throw new InvalidArgumentError('shamir.share_count', 'must be from 2 to 16');
          if (threshold < 2 || threshold > shareCount) throw new InvalidArgumentError('shamir.threshold', `must be from 2 to share_count (${shareCount})`);
          const r = await s.initialize({ mode: 'shares', shares: shareCount, threshold }, caller(ctx));
          return { seal: sealToProto(r.status), shares: r.shares.map((t) => Buffer.from(t, 'utf8')) };
        }
        throw new InvalidArgumentError('seal', 'is required: passphrase or shamir');
      }),

      Unseal: unary<secretsV1.UnsealRequest, secretsV1.UnsealResponse>(async (req, ctx) => {
        if (req.passphrase !== undefined && req.share !== undefined) throw new InvalidArgumentError('key_material', 'give either passphrase or share, not both');
        if (req.passphrase !== undefined) return { seal: sealToProto(await s.unseal({ passphrase: req.passphrase }, caller(ctx))) };
        if (req.share !== undefined) {
          if (req.share.length === 0 || req.share.length > 1024) throw new InvalidArgumentError('share', 'must be one share as Initialize returned it');
          return { seal: sealToProto(await s.unseal({ share: Buffer.from(req.share).toString('utf8') }, caller(ctx))) };
        }
        throw new InvalidArgumentError('key_material', 'is required: passphrase or share');
      }),

      Seal: unary<secretsV1.SealRequest, secretsV1.SealResponse>(async (req, ctx) => {
        const bearer = ctx.bearerToken();
        const hasSession = bearer !== undefined && bearer !== '';
        if (!hasSession && ctx.caller?.kind !== 'operator') throw new PermissionDeniedError('a service may seal only with a security officer’s FULL session');
        const who = hasSession ? await employee(ctx, true) : undefined;
        return { seal: sealToProto(await s.seal(who, req.reason, caller(ctx))) };
      }),

      RotateMasterKey: unary<secretsV1.RotateMasterKeyRequest, secretsV1.RotateMasterKeyResponse>(async (req, ctx) => {
        const r = await s.rotateMasterKey(await employee(ctx, true), req.reason, caller(ctx));
        return { seal: sealToProto(r.status), rewrappedDataKeyCount: r.rewrapped, rotatedAt: r.at };
      }),

      PutSecret: unary<secretsV1.PutSecretRequest, secretsV1.PutSecretResponse>(async (req, ctx) => {
        const who = await employee(ctx, true);
        const head = await s.putSecret(who, { environment: envFromProto(req.environment), app: req.app, name: req.name, value: req.value }, caller(ctx));
        return { secret: secretToProto(head) };
      }),

      ListSecrets: unary<secretsV1.ListSecretsRequest, secretsV1.ListSecretsResponse>(async (req, ctx) => {
        const who = await employee(ctx);
        const limit = pageSize(req.pageSize, 100, 1000);
        let after: { environment: string; app: string; name: string } | undefined;
        if (req.pageToken !== '') {
          const m = SECRETS_PAGE.exec(req.pageToken);
          if (!m) throw new InvalidArgumentError('page_token', 'is not a token this service issued');
          after = { environment: m[1] as string, app: m[2] as string, name: m[3] as string };
        }
        const filter = {
          ...(req.environment !== undefined ? { environment: envFromProto(req.environment) } : {}),
          ...(req.app !== undefined ? { app: req.app } : {}),
          includeDeleted: req.includeDeleted,
        };
        const rows = await s.listSecrets(who, filter, { after, limit });
        const last = rows[rows.length - 1];
        return { secrets: rows.map(secretToProto), nextPageToken: rows.length === limit && last ? `${last.environment}/${last.app}/${last.name}` : '' };
      }),

      DeleteSecret: unary<secretsV1.DeleteSecretRequest, secretsV1.DeleteSecretResponse>(async (req, ctx) => {
        const who = await employee(ctx, true);
        const head = await s.deleteSecret(who, { environment: envFromProto(req.environment), app: req.app, name: req.name, reason: req.reason }, caller(ctx));
        return { secret: secretToProto(head) };
      }),

      CreateRelease: unary<secretsV1.CreateReleaseRequest, secretsV1.CreateReleaseResponse>(async (req, ctx) => {
        const who = await employee(ctx, true);
        let ttlMs: number | undefined;
        if (req.ttl) {
          if (req.ttl.nanos !== 0 || !Number.isSafeInteger(req.ttl.seconds)) throw new InvalidArgumentError('ttl', 'must be whole seconds');
          ttlMs = req.ttl.seconds * 1000;
        }
        const r = await s.createRelease(
          who,
          { environment: envFromProto(req.environment), app: req.app, deploymentRef: req.deploymentRef, ttlMs, boundCidr: req.boundCidr, boundClientIdentity: req.boundClientIdentity },
          caller(ctx),
        );
        return { release: releaseToProto(r.release), releaseToken: r.token };
      }),

      ApproveRelease: unary<secretsV1.ApproveReleaseRequest, secretsV1.ApproveReleaseResponse>(async (req, ctx) => ({
        release: releaseToProto(await s.approveRelease(await employee(ctx, true), req.releaseId, req.note, caller(ctx))),
      })),

      RevokeRelease: unary<secretsV1.RevokeReleaseRequest, secretsV1.RevokeReleaseResponse>(async (req, ctx) => ({
        release: releaseToProto(await s.revokeRelease(await employee(ctx, true), req.releaseId, req.reason, caller(ctx))),
      })),

      RedeemRelease: unary<secretsV1.RedeemReleaseRequest, secretsV1.RedeemReleaseResponse>(async (req, ctx) => {
        const b = await s.redeem(req.releaseToken, caller(ctx));
        return {
          releaseId: b.release.releaseId,
          environment: envToProto(b.release.environment),
          app: b.release.app,
          deploymentRef: b.release.deploymentRef,
          secrets: b.secrets.map((x) => ({ name: x.name, version: x.version, value: x.value })),
          redeemedAt: b.release.redeemedAt ?? undefined,
        };
      }),

      GetRelease: unary<secretsV1.GetReleaseRequest, secretsV1.GetReleaseResponse>(async (req, ctx) => ({
        release: releaseToProto(await s.getRelease(await employee(ctx), req.releaseId)),
      })),

      ListReleases: unary<secretsV1.ListReleasesRequest, secretsV1.ListReleasesResponse>(async (req, ctx) => {
        const who = await employee(ctx);
        const limit = pageSize(req.pageSize, 50, 500);
        let after: { createdAt: Date; releaseId: string } | undefined;
        if (req.pageToken !== '') {
          const m = RELEASES_PAGE.exec(req.pageToken);
          if (!m) throw new InvalidArgumentError('page_token', 'is not a token this service issued');
          after = { createdAt: new Date(Number(m[1])), releaseId: m[2] as string };
        }
        const states = req.states.map((st) => {
          const found = (Object.keys(RELEASE_STATE) as ReleaseState[]).find((k) => RELEASE_STATE[k] === st);
          if (!found) throw new InvalidArgumentError('states', `${S.releaseStateToJSON(st)} is not a release state`);
          return found;
        });
        const { startTime, endTime } = req.created ?? {};
        if (startTime && endTime && endTime.getTime() <= startTime.getTime()) throw new InvalidArgumentError('created.end_time', 'must be after start_time');
        if (req.deploymentRef !== undefined && (req.deploymentRef.length === 0 || req.deploymentRef.length > 200)) throw new InvalidArgumentError('deployment_ref', 'must be 1 to 200 characters');
        const rows = await s.listReleases(
          who,
          {
            ...(req.environment !== undefined ? { environment: envFromProto(req.environment) } : {}),
            ...(req.app !== undefined ? { app: req.app } : {}),
            ...(req.deploymentRef !== undefined ? { deploymentRef: req.deploymentRef } : {}),
            states,
            ...(startTime ? { createdFrom: startTime } : {}),
            ...(endTime ? { createdTo: endTime } : {}),
          },
          { after, limit },
        );
        const last = rows[rows.length - 1];
        return { releases: rows.map(releaseToProto), nextPageToken: rows.length === limit && last ? `${last.createdAt.getTime()}/${last.releaseId}` : '' };
      }),
    },
  };
}
