import { commonV1, ImpersonationServiceService, impersonationV1, SERVICE_NAMES } from '@gatehouse/contracts';
import { InvalidArgumentError, type Clock } from '@gatehouse/core';
import { callers, clientIpOf, rolesToProto, unary, type CallerRule, type RequestContext, type ServiceBinding } from '@gatehouse/service-kit';
import { requireSession, type SessionTokenVerifier } from '@gatehouse/session';
import type { AccessLogEntry, Caller, Impersonation, ImpersonationStanding, Operation, SessionEmployee } from '../domain/impersonation-service.js';
import { effectiveState } from '../domain/impersonation-service.js';
import type { ImpersonationClaims } from '../domain/impersonation-token.js';
import type { AccessOperation, AccessedRecords, Actor, AnomalyRecord, AnomalyState, GrantRecord, GrantState, ReasonCode, Staff } from '../domain/model.js';

/**
 * Who may call each ImpersonationService RPC, by certificate kind (the contract's "Callers:" lines).
 * Role checks on the employee's session happen in the domain, per object (ASVS 8.2).
 */
export const impersonationPolicy: Readonly<Record<string, CallerRule>> = {
  StartImpersonation: callers.operatorsAndBackends,
  EndImpersonation: callers.operatorsAndBackends,
  RevokeImpersonation: callers.operators,
  ListActive: callers.operatorsAndBackends,
  VerifyImpersonationToken: callers.servicesAndBackends,
  GetSigningKeys: callers.anyAuthenticated,
  RecordAccess: callers.servicesAndBackends,
  ListAnomalies: callers.operatorsAndConsole,
  JustifyAnomaly: callers.operatorsAndConsole,
  ResolveAnomaly: callers.operatorsAndConsole,
  GetImpersonationStatus: callers.operatorsAndConsole,
  UnlockImpersonation: callers.operatorsAndConsole,
  ListAccessForDomain: callers.operatorsAndBackends,
};

/** A key as GetSigningKeys publishes it. */
export interface PublishedTokenKey {
  keyId: string;
  publicKey: Uint8Array;
  status: 'next' | 'active' | 'retired';
  notBefore: Date;
  notAfter: Date | null;
}

/** What the handlers translate to. */
export interface ImpersonationRpcDeps {
  imp: Impersonation;
  verifier: SessionTokenVerifier;
  trustedProxies: readonly string[];
  issuer: string;
  publishedKeys: () => Promise<PublishedTokenKey[]>;
  keysCacheForSeconds: number;
  clock: Clock;
}

const P = impersonationV1;

const REASON: Record<ReasonCode, impersonationV1.ImpersonationReason> = {
  customer_support_case: P.ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE,
  bug_investigation: P.ImpersonationReason.IMPERSONATION_REASON_BUG_INVESTIGATION,
  incident_response: P.ImpersonationReason.IMPERSONATION_REASON_INCIDENT_RESPONSE,
};
const GRANT_STATE: Record<GrantState, impersonationV1.GrantState> = {
  active: P.GrantState.GRANT_STATE_ACTIVE,
  ended: P.GrantState.GRANT_STATE_ENDED,
  expired: P.GrantState.GRANT_STATE_EXPIRED,
  revoked: P.GrantState.GRANT_STATE_REVOKED,
};
const ANOMALY_STATE: Record<AnomalyState, impersonationV1.AnomalyState> = {
  open: P.AnomalyState.ANOMALY_STATE_OPEN,
  justified: P.AnomalyState.ANOMALY_STATE_JUSTIFIED,
  accepted: P.AnomalyState.ANOMALY_STATE_ACCEPTED,
  rejected: P.AnomalyState.ANOMALY_STATE_REJECTED,
};
const ACCESS_OP: Record<AccessOperation, impersonationV1.AccessOperation> = {
  read: P.AccessOperation.ACCESS_OPERATION_READ,
  write: P.AccessOperation.ACCESS_OPERATION_WRITE,
  delete: P.AccessOperation.ACCESS_OPERATION_DELETE,
};
const OPERATION: Record<number, Operation> = {
  [P.ImpersonationOperation.IMPERSONATION_OPERATION_UNSPECIFIED]: 'unspecified',
  [P.ImpersonationOperation.IMPERSONATION_OPERATION_READ_DATA]: 'read_data',
  [P.ImpersonationOperation.IMPERSONATION_OPERATION_WRITE_DATA]: 'write_data',
  [P.ImpersonationOperation.IMPERSONATION_OPERATION_CHANGE_CREDENTIALS]: 'change_credentials',
  [P.ImpersonationOperation.IMPERSONATION_OPERATION_CHANGE_ROLES]: 'change_roles',
  [P.ImpersonationOperation.IMPERSONATION_OPERATION_RELEASE_SECRETS]: 'release_secrets',
  [P.ImpersonationOperation.IMPERSONATION_OPERATION_START_IMPERSONATION]: 'start_impersonation',
};
const INVALID_REASON: Record<string, impersonationV1.TokenInvalidReason> = {
  malformed: P.TokenInvalidReason.TOKEN_INVALID_REASON_MALFORMED,
  bad_signature: P.TokenInvalidReason.TOKEN_INVALID_REASON_BAD_SIGNATURE,
  unknown_key: P.TokenInvalidReason.TOKEN_INVALID_REASON_UNKNOWN_KEY,
  expired: P.TokenInvalidReason.TOKEN_INVALID_REASON_EXPIRED,
  not_yet_valid: P.TokenInvalidReason.TOKEN_INVALID_REASON_NOT_YET_VALID,
  revoked: P.TokenInvalidReason.TOKEN_INVALID_REASON_REVOKED,
  ended: P.TokenInvalidReason.TOKEN_INVALID_REASON_ENDED,
  forbidden_operation: P.TokenInvalidReason.TOKEN_INVALID_REASON_FORBIDDEN_OPERATION,
};
const KEY_STATUS = {
  next: commonV1.KeyStatus.KEY_STATUS_NEXT,
  active: commonV1.KeyStatus.KEY_STATUS_ACTIVE,
  retired: commonV1.KeyStatus.KEY_STATUS_RETIRED,
} as const;

const fromTable = <K extends string, V>(table: Record<K, V>, value: V): K | undefined => (Object.keys(table) as K[]).find((k) => table[k] === value);

const staffToProto = (s: Staff) => commonV1.Principal.fromPartial({ accountId: s.accountId, email: s.email, displayName: s.displayName, roles: rolesToProto(s.roles) });
const actorToProto = (a: Actor | null) => (a ? commonV1.Principal.fromPartial({ accountId: a.accountId, email: a.email }) : undefined);

function grantToProto(g: GrantRecord, now: Date): impersonationV1.Grant {
  return P.Grant.fromPartial({
    grantId: g.grantId,
    employee: staffToProto(g.employee),
    targetUserId: g.targetUserId,
    customerDomain: g.customerDomain,
    reason: REASON[g.reason],
    justification: g.justification,
    ticketRef: g.ticketRef,
    startedAt: g.startedAt,
    expiresAt: g.expiresAt,
    state: GRANT_STATE[effectiveState(g, now)],
    endedAt: g.endedAt ?? (effectiveState(g, now) === 'expired' ? g.expiresAt : undefined),
    revokedBy: actorToProto(g.revokedBy),
    revokeReason: g.revokeReason ?? '',
    sessionId: g.sessionId,
    sourceIp: g.sourceIp,
  });
}

function anomalyToProto(a: AnomalyRecord): impersonationV1.Anomaly {
  return P.Anomaly.fromPartial({
    anomalyId: a.anomalyId,
    employee: staffToProto(a.employee),
    customerDomain: a.customerDomain,
    rule: { ruleId: a.rule.ruleId, distinctTargets: a.rule.distinctTargets, window: { seconds: Math.round(a.rule.windowMs / 1000), nanos: 0 } },
    targetUserIds: a.targetUserIds,
    grantIds: a.grantIds,
    refusedTargetUserId: a.refusedTargetUserId,
    openedAt: a.openedAt,
    state: ANOMALY_STATE[a.state],
    justification: a.justification,
    ticketRefs: a.ticketRefs,
    justifiedAt: a.justifiedAt ?? undefined,
    resolution:
      a.resolution === 'accept'
        ? P.AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT
        : a.resolution === 'reject'
          ? P.AnomalyResolution.ANOMALY_RESOLUTION_REJECT
          : P.AnomalyResolution.ANOMALY_RESOLUTION_UNSPECIFIED,
    resolutionNote: a.resolutionNote,
    resolvedBy: actorToProto(a.resolvedBy),
    resolvedAt: a.resolvedAt ?? undefined,
  });
}

function standingToProto(s: ImpersonationStanding): impersonationV1.ImpersonationStatus {
  return P.ImpersonationStatus.fromPartial({
    employee: s.employee ? staffToProto(s.employee) : { accountId: s.accountId },
    locked: s.locked,
    lockedAt: s.lockedAt ?? undefined,
    lockingAnomalyId: s.lockingAnomalyId ?? '',
    blockedDomains: s.blockedDomains,
    activeGrantCount: s.activeGrantCount,
  });
}

function claimsToProto(c: ImpersonationClaims): impersonationV1.ImpersonationClaims {
  return P.ImpersonationClaims.fromPartial({
    grantId: c.grantId,
    targetUserId: c.targetUserId,
    customerDomain: c.customerDomain,
    actor: { accountId: c.actor.accountId, email: c.actor.email, displayName: c.actor.displayName },
    reason: REASON[c.reason],
    issuedAt: c.issuedAt,
    expiresAt: c.expiresAt,
    keyId: c.keyId,
  });
}

function entryToProto(e: AccessLogEntry): impersonationV1.AccessLogEntry {
  const g = e.grant;
  return P.AccessLogEntry.fromPartial({
    grantId: g.grantId,
    employeeDisplayName: g.employee.displayName,
    employeeRole: rolesToProto([g.role])[0],
    targetUserId: g.targetUserId,
    reason: REASON[g.reason],
    justification: g.justification,
    ticketRef: g.ticketRef,
    startedAt: g.startedAt,
    endedAt: e.state === 'active' ? undefined : (g.endedAt ?? g.expiresAt),
    state: GRANT_STATE[e.state],
    touched: e.touched.map((t) => ({ resourceType: t.resourceType, operation: ACCESS_OP[t.operation], count: t.count, recordIds: t.recordIds, recordIdsTruncated: t.truncated })),
  });
}

/** page_size: 0 = the default, otherwise 1..max. */
function pageSize(size: number, dflt: number, max: number): number {
  if (size === 0) return dflt;
  if (!Number.isInteger(size) || size < 1 || size > max) throw new InvalidArgumentError('page_size', `must be from 0 to ${max}`);
  return size;
}

/** Keyset page tokens: `<epoch ms>/<id>`, checked strictly. */
const PAGE = /^(\d{1,15})\/((?:gr|an)_[A-Za-z0-9_-]{16})$/;
function readPage(token: string): { at: Date; id: string } | undefined {
  if (token === '') return undefined;
  const m = PAGE.exec(token);
  if (!m) throw new InvalidArgumentError('page_token', 'is not a token this service issued');
  return { at: new Date(Number(m[1])), id: m[2] as string };
}
const nextPage = <T>(rows: T[], limit: number, key: (t: T) => { at: Date; id: string }): string => {
  const last = rows[rows.length - 1];
  if (rows.length < limit || !last) return '';
  const k = key(last);
  return `${k.at.getTime()}/${k.id}`;
};

function timeRange(r: commonV1.TimeRange | undefined, field: string): { from?: Date; to?: Date } {
  const { startTime, endTime } = r ?? {};
  if (startTime && endTime && endTime.getTime() <= startTime.getTime()) throw new InvalidArgumentError(`${field}.end_time`, 'must be after start_time');
  return { ...(startTime ? { from: startTime } : {}), ...(endTime ? { to: endTime } : {}) };
}

/** The ImpersonationService binding: each handler only translates proto ⇄ domain. */
export function impersonationBinding(d: ImpersonationRpcDeps): ServiceBinding {
  const caller = (ctx: RequestContext): Caller => ({
    ip: clientIpOf(ctx, d.trustedProxies),
    identity: ctx.caller ? `${ctx.caller.kind}:${ctx.caller.name}` : 'insecure-loopback',
    requestId: ctx.requestId,
  });
  /** The employee behind a FULL session. An impersonation token is not a session: it fails here (unknown key). */
  const employee = async (ctx: RequestContext, critical = false): Promise<SessionEmployee> => {
    // Critical actions (start, revoke, anomaly decisions, unlock) ask identity synchronously, fail closed.
    const claims = await requireSession({ bearerToken: () => ctx.bearerToken(), peerIp: caller(ctx).ip }, d.verifier, { scope: 'full', critical });
    return { accountId: claims.accountId, email: claims.email, displayName: claims.displayName, roles: claims.roles, sessionId: claims.sessionId };
  };
  const now = () => d.clock.now();
  const imp = d.imp;

  return {
    name: SERVICE_NAMES.impersonation,
    definition: ImpersonationServiceService,
    policy: impersonationPolicy,
    handlers: {
      StartImpersonation: unary<impersonationV1.StartImpersonationRequest, impersonationV1.StartImpersonationResponse>(async (req, ctx) => {
        const who = await employee(ctx, true);
        const reason = fromTable(REASON, req.reason);
        if (req.reason !== P.ImpersonationReason.IMPERSONATION_REASON_UNSPECIFIED && !reason) throw new InvalidArgumentError('reason', 'is not a known reason');
        let durationMs: number | undefined;
        if (req.duration) {
          if (req.duration.nanos !== 0 || !Number.isSafeInteger(req.duration.seconds) || req.duration.seconds < 0) throw new InvalidArgumentError('duration', 'must be whole seconds');
          durationMs = req.duration.seconds * 1000;
        }
        const r = await imp.start(
          who,
          { targetUserId: req.targetUserId, customerDomain: req.customerDomain, reason, justification: req.justification, ticketRef: req.ticketRef, durationMs },
          caller(ctx),
        );
        return { grant: grantToProto(r.grant, r.grant.startedAt), impersonationToken: r.token };
      }),

      EndImpersonation: unary<impersonationV1.EndImpersonationRequest, impersonationV1.EndImpersonationResponse>(async (req, ctx) => ({
        grant: grantToProto(await imp.end(await employee(ctx), req.grantId, caller(ctx)), now()),
      })),

      RevokeImpersonation: unary<impersonationV1.RevokeImpersonationRequest, impersonationV1.RevokeImpersonationResponse>(async (req, ctx) => ({
        grant: grantToProto(await imp.revoke(await employee(ctx, true), req.grantId, req.reason, caller(ctx)), now()),
      })),

      ListActive: unary<impersonationV1.ListActiveRequest, impersonationV1.ListActiveResponse>(async (req, ctx) => {
        const who = await employee(ctx);
        const limit = pageSize(req.pageSize, 50, 500);
        const after = readPage(req.pageToken);
        const rows = await imp.listActive(who, { accountId: req.accountId, customerDomain: req.customerDomain }, { after: after ? { expiresAt: after.at, grantId: after.id } : undefined, limit });
        const t = now();
        return { grants: rows.map((g) => grantToProto(g, t)), nextPageToken: nextPage(rows, limit, (g) => ({ at: g.expiresAt, id: g.grantId })) };
      }),

      VerifyImpersonationToken: unary<impersonationV1.VerifyImpersonationTokenRequest, impersonationV1.VerifyImpersonationTokenResponse>(async (req, ctx) => {
        const operation = OPERATION[req.operation];
        if (!operation) throw new InvalidArgumentError('operation', 'is not a known operation');
        const v = await imp.verify(req.impersonationToken, operation, caller(ctx));
        if (v.valid) return { valid: true, claims: claimsToProto(v.claims), reason: P.TokenInvalidReason.TOKEN_INVALID_REASON_UNSPECIFIED };
        return { valid: false, reason: INVALID_REASON[v.reason] ?? P.TokenInvalidReason.TOKEN_INVALID_REASON_MALFORMED };
      }),

      GetSigningKeys: unary<impersonationV1.GetSigningKeysRequest, impersonationV1.GetSigningKeysResponse>(async () => ({
        issuer: d.issuer,
        keys: (await d.publishedKeys()).map((k) =>
          commonV1.SigningKey.fromPartial({
            keyId: k.keyId,
            algorithm: commonV1.KeyAlgorithm.KEY_ALGORITHM_ED25519,
            publicKey: Buffer.from(k.publicKey),
            notBefore: k.notBefore,
            notAfter: k.notAfter ?? undefined,
            status: KEY_STATUS[k.status],
          }),
        ),
        cacheFor: { seconds: d.keysCacheForSeconds, nanos: 0 },
      })),

      RecordAccess: unary<impersonationV1.RecordAccessRequest, impersonationV1.RecordAccessResponse>(async (req, ctx) => {
        const records: AccessedRecords[] = req.records.map((r, i) => {
          const operation = fromTable(ACCESS_OP, r.operation);
          if (!operation) throw new InvalidArgumentError(`records[${i}].operation`, 'is required: READ, WRITE or DELETE');
          return { resourceType: r.resourceType, operation, count: r.count, recordIds: r.recordIds };
        });
        const r = await imp.recordAccess(
          {
            grantId: req.grantId,
            token: req.impersonationToken,
            reportId: req.reportId,
            records,
            accessedAt: req.accessedAt,
          },
          caller(ctx),
        );
        return { reportId: r.report.reportId, grantId: r.report.grantId, duplicate: r.duplicate, recordedAt: r.report.recordedAt };
      }),

      ListAnomalies: unary<impersonationV1.ListAnomaliesRequest, impersonationV1.ListAnomaliesResponse>(async (req, ctx) => {
        const who = await employee(ctx);
        const limit = pageSize(req.pageSize, 50, 500);
        const states = req.states.map((st) => {
          const s = fromTable(ANOMALY_STATE, st);
          if (!s) throw new InvalidArgumentError('states', `${P.anomalyStateToJSON(st)} is not an anomaly state`);
          return s;
        });
        const range = timeRange(req.opened, 'opened');
        const rows = await imp.listAnomalies(
          who,
          {
            states,
            ...(req.accountId !== undefined ? { accountId: req.accountId } : {}),
            ...(req.customerDomain !== undefined ? { customerDomain: req.customerDomain } : {}),
            ...(range.from ? { openedFrom: range.from } : {}),
            ...(range.to ? { openedTo: range.to } : {}),
          },
          { after: readPage(req.pageToken), limit },
        );
        return { anomalies: rows.map(anomalyToProto), nextPageToken: nextPage(rows, limit, (a) => ({ at: a.openedAt, id: a.anomalyId })) };
      }),

      JustifyAnomaly: unary<impersonationV1.JustifyAnomalyRequest, impersonationV1.JustifyAnomalyResponse>(async (req, ctx) => ({
        anomaly: anomalyToProto(await imp.justify(await employee(ctx, true), req.anomalyId, req.justification, req.ticketRefs, caller(ctx))),
      })),

      ResolveAnomaly: unary<impersonationV1.ResolveAnomalyRequest, impersonationV1.ResolveAnomalyResponse>(async (req, ctx) => {
        const who = await employee(ctx, true);
        const resolution =
          req.resolution === P.AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT ? 'accept' : req.resolution === P.AnomalyResolution.ANOMALY_RESOLUTION_REJECT ? 'reject' : undefined;
        const r = await imp.resolve(who, req.anomalyId, resolution, req.note, caller(ctx));
        return { anomaly: anomalyToProto(r.anomaly), status: standingToProto(r.standing) };
      }),

      GetImpersonationStatus: unary<impersonationV1.GetImpersonationStatusRequest, impersonationV1.GetImpersonationStatusResponse>(async (req, ctx) => ({
        status: standingToProto(await imp.status(await employee(ctx), req.accountId)),
      })),

      UnlockImpersonation: unary<impersonationV1.UnlockImpersonationRequest, impersonationV1.UnlockImpersonationResponse>(async (req, ctx) => ({
        status: standingToProto(await imp.unlock(await employee(ctx, true), req.accountId, req.note, caller(ctx))),
      })),

      ListAccessForDomain: unary<impersonationV1.ListAccessForDomainRequest, impersonationV1.ListAccessForDomainResponse>(async (req, ctx) => {
        // Backends fetch it for the customer's administrator without a session; operators need an officer's or manager's.
        const reader = ctx.caller?.kind === 'backend' ? { identity: caller(ctx).identity } : { employee: await employee(ctx), identity: caller(ctx).identity };
        const limit = pageSize(req.pageSize, 50, 500);
        const rows = await imp.accessLog(reader, req.customerDomain, timeRange(req.started, 'started'), { after: readPage(req.pageToken), limit }, caller(ctx));
        return { entries: rows.map(entryToProto), nextPageToken: nextPage(rows, limit, (e) => ({ at: e.grant.startedAt, id: e.grant.grantId })) };
      }),
    },
  };
}
