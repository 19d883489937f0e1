import { IdentityServiceService, SERVICE_NAMES, commonV1, identityV1 } from '@gatehouse/contracts';
import type { Clock } from '@gatehouse/core';
import { callers, clientIpOf, environmentFromProto, relayedClientIpOf, unary, type CallerRule, type RequestContext, type ServiceBinding } from '@gatehouse/service-kit';
import type { AccountAdmin } from '../domain/accounts/account-admin.js';
import type { CallSource } from '../domain/identity-deps.js';
import type { SessionService } from '../domain/sessions/session-service.js';
import type { SignInFlow, FactorMode } from '../domain/sign-in/sign-in-flow.js';
import type { RevocationHub } from '../domain/sessions/revocation-log.js';
import { watchRevocationsHandler } from './revocations-rpc.js';
import {
  accountToProto,
  actionFromProto,
  credentialToProto,
  enrollmentFromProto,
  pageSize,
  readPageToken,
  roleChangeStatesFromProto,
  roleChangeToProto,
  rolesFromProto,
  sessionInfoFromClaims,
  sessionInfoFromRecord,
  sessionRecordToProto,
  sessionStatusesFromProto,
  signInToProto,
  statesFromProto,
  writePageToken,
} from './convert.js';

/**
 * Who may call each IdentityService RPC, by certificate kind (the contract's "Callers:" lines).
 * Role checks on the employee's session happen per object in the domain (ASVS 8.2).
 */
export const identityPolicy: Readonly<Record<string, CallerRule>> = {
  BootstrapOfficer: callers.operators,
  GetAccount: callers.anyAuthenticated,
  ListAccounts: callers.operatorsAndConsole,
  ApproveAccount: callers.operatorsAndConsole,
  SuspendAccount: callers.operatorsAndConsole,
  SetRoles: callers.operators,
  ListRoleChanges: callers.operators,
  ApproveRoleChange: callers.operators,
  SetPhoneNumber: callers.operators,
  UnlockAccount: callers.operatorsAndConsole,
  BeginSignIn: callers.operatorsAndBackends,
  SendSmsCode: callers.operatorsAndBackends,
  VerifySmsCode: callers.operatorsAndBackends,
  VerifyOtp: callers.operatorsAndBackends,
  EnrollOtp: callers.operatorsAndBackends,
  ConfirmOtpEnrollment: callers.operatorsAndBackends,
  ResyncHotp: callers.operatorsAndBackends,
  ResetOtp: callers.operators,
  WhoAmI: callers.operatorsAndBackends,
  RefreshSession: callers.operatorsAndBackends,
  VerifySession: callers.servicesAndBackends,
  RevokeSession: callers.operatorsAndBackends,
  ListSessions: callers.operatorsAndConsole,
  GetSigningKeys: callers.anyAuthenticated,
  Authorize: callers.anyAuthenticated,
  WatchRevocations: callers.servicesAndBackends,
};

/** What the handlers translate to. */
export interface IdentityRpcDeps {
  flow: SignInFlow;
  sessions: SessionService;
  admin: AccountAdmin;
  clock: Clock;
  /** Backends (certificate names) whose x-gatehouse-client-ip names the end user's IP. */
  trustedProxies: readonly string[];
  /** Feeds WatchRevocations. */
  revocations: RevocationHub;
}

const I = identityV1;
const OFFICER = { anyOfRoles: ['security_officer'] } as const;

/** The IdentityService binding: each handler only translates proto ⇄ domain. */
export function identityBinding(d: IdentityRpcDeps): ServiceBinding {
  const source = (ctx: RequestContext): CallSource => ({ ip: clientIpOf(ctx, d.trustedProxies), requestId: ctx.requestId });
  const caller = (ctx: RequestContext) => (ctx.caller ? `${ctx.caller.kind}:${ctx.caller.name}` : 'insecure-loopback');
  const officer = (ctx: RequestContext) => d.sessions.authenticate(ctx.bearerToken(), source(ctx).ip, OFFICER);
  const session = (ctx: RequestContext, scope: 'full' | 'any' = 'full') => d.sessions.authenticate(ctx.bearerToken(), source(ctx).ip, { scope });
  const mode = async (ctx: RequestContext, signInId: string | undefined): Promise<FactorMode> =>
    signInId !== undefined && signInId !== '' ? { signInId } : { session: await session(ctx) };
  const now = () => d.clock.now();

  const handlers: Record<string, ReturnType<typeof unary>> = {
    watchRevocations: watchRevocationsHandler(d.revocations),
    bootstrapOfficer: unary<identityV1.BootstrapOfficerRequest, identityV1.BootstrapOfficerResponse>(async (req, ctx) => {
      const v = await d.admin.bootstrapOfficer(req.bootstrapToken, req.googleIdToken, req.phoneNumber, source(ctx));
      return { account: accountToProto(v, now()) };
    }),

    getAccount: unary<identityV1.GetAccountRequest, identityV1.GetAccountResponse>(async (req, ctx) => {
      const s = await session(ctx);
      return { account: accountToProto(await d.admin.get(s, req.accountId), now()) };
    }),

    listAccounts: unary<identityV1.ListAccountsRequest, identityV1.ListAccountsResponse>(async (req, ctx) => {
      await officer(ctx);
      const limit = pageSize(req.pageSize);
      const after = readPageToken<{ c: number; a: string }>(req.pageToken, ['c', 'a']);
      const email = req.email?.trim().toLowerCase();
      const views = await d.admin.list(
        { states: statesFromProto(req.states), roles: rolesFromProto(req.roles), ...(email ? { email } : {}) },
        { after: after ? { createdAt: new Date(after.c), accountId: after.a } : undefined, limit },
      );
      const wantedLocks = new Set(req.lockStates);
      const rows = views
        .map((v) => accountToProto(v, now()))
        // Lock state lives in the throttle store, so it filters the page (a page may come back short).
        .filter((a) => wantedLocks.size === 0 || wantedLocks.has(a.lockState));
      const last = views[views.length - 1];
      return { accounts: rows, nextPageToken: views.length === limit && last ? writePageToken({ c: last.account.createdAt.getTime(), a: last.account.accountId }) : '' };
    }),

    approveAccount: unary<identityV1.ApproveAccountRequest, identityV1.ApproveAccountResponse>(async (req, ctx) => {
      const o = await officer(ctx);
      const r = await d.admin.approve(o, req.accountId, rolesFromProto(req.roles), req.phoneNumber, req.note, req.displayName, source(ctx));
      return { account: accountToProto(r.view, now()), pendingChange: r.pending ? roleChangeToProto(r.pending, r.view.account) : undefined };
    }),

    suspendAccount: unary<identityV1.SuspendAccountRequest, identityV1.SuspendAccountResponse>(async (req, ctx) => {
      const o = await officer(ctx);
      const r = await d.admin.suspend(o, req.accountId, req.reason, source(ctx));
      return { account: accountToProto(r.view, now()), revokedSessionCount: r.revoked };
    }),

    setRoles: unary<identityV1.SetRolesRequest, identityV1.SetRolesResponse>(async (req, ctx) => {
      const o = await officer(ctx);
      const r = await d.admin.setRoles(o, req.accountId, rolesFromProto(req.roles), req.reason, source(ctx));
      return { account: accountToProto(r.view, now()), revokedSessionCount: r.revoked, pendingChange: r.pending ? roleChangeToProto(r.pending, r.view.account) : undefined };
    }),

    listRoleChanges: unary<identityV1.ListRoleChangesRequest, identityV1.ListRoleChangesResponse>(async (req, ctx) => {
      await officer(ctx);
      const rows = await d.admin.listRoleChanges(roleChangeStatesFromProto(req.states), pageSize(req.pageSize));
      return { changes: rows.map((r) => roleChangeToProto(r.change, r.account)) };
    }),

    approveRoleChange: unary<identityV1.ApproveRoleChangeRequest, identityV1.ApproveRoleChangeResponse>(async (req, ctx) => {
      const o = await officer(ctx);
      const r = await d.admin.approveRoleChange(o, req.changeId, req.note, source(ctx));
      return { change: roleChangeToProto(r.change, r.view.account), account: accountToProto(r.view, now()), revokedSessionCount: r.revoked };
    }),

    setPhoneNumber: unary<identityV1.SetPhoneNumberRequest, identityV1.SetPhoneNumberResponse>(async (req, ctx) => {
      const o = await officer(ctx);
      return { account: accountToProto(await d.admin.setPhone(o, req.accountId, req.phoneNumber, req.reason, source(ctx)), now()) };
    }),

    unlockAccount: unary<identityV1.UnlockAccountRequest, identityV1.UnlockAccountResponse>(async (req, ctx) => {
      const o = await officer(ctx);
      return { account: accountToProto(await d.admin.unlock(o, req.accountId, req.note, source(ctx)), now()) };
    }),

    beginSignIn: unary<identityV1.BeginSignInRequest, identityV1.BeginSignInResponse>(async (req, ctx) => {
      return { state: signInToProto(await d.flow.begin(req.googleIdToken, source(ctx))) };
    }),

    sendSmsCode: unary<identityV1.SendSmsCodeRequest, identityV1.SendSmsCodeResponse>(async (req, ctx) => {
      const r = await d.flow.sendSmsCode(req.signInId, source(ctx));
      return {
        state: signInToProto(r.view),
        codeExpiresAt: r.codeExpiresAt,
        retryAfter: { seconds: Math.ceil(r.retryAfterMs / 1000), nanos: 0 },
        resendsRemaining: r.resendsRemaining,
      };
    }),

    verifySmsCode: unary<identityV1.VerifySmsCodeRequest, identityV1.VerifySmsCodeResponse>(async (req, ctx) => {
      return { state: signInToProto(await d.flow.verifySmsCode(req.signInId, req.code, source(ctx))) };
    }),

    verifyOtp: unary<identityV1.VerifyOtpRequest, identityV1.VerifyOtpResponse>(async (req, ctx) => {
      const r = await d.flow.verifyOtp(req.signInId, req.code, source(ctx));
      return {
        session: { token: r.session.token, info: sessionInfoFromRecord(r.session.record) },
        notices: r.notices.map((n) => ({
          kind: I.SecurityNoticeKind.SECURITY_NOTICE_KIND_FAILED_ATTEMPTS,
          occurredAt: now(),
          sourceIp: '',
          count: n.count,
          message: `${n.count} failed attempt(s) on your account since your last sign-in`,
        })),
      };
    }),

    enrollOtp: unary<identityV1.EnrollOtpRequest, identityV1.EnrollOtpResponse>(async (req, ctx) => {
      const spec = enrollmentFromProto(req);
      const r = await d.flow.enroll(await mode(ctx, req.signInId), spec, source(ctx));
      return { credentialId: r.credential.credentialId, otpauthUri: r.otpauthUri, credential: credentialToProto(r.credential), confirmBy: r.credential.confirmBy ?? undefined };
    }),

    confirmOtpEnrollment: unary<identityV1.ConfirmOtpEnrollmentRequest, identityV1.ConfirmOtpEnrollmentResponse>(async (req, ctx) => {
      const r = await d.flow.confirm(await mode(ctx, req.signInId), req.credentialId, req.code, source(ctx));
      return { credential: credentialToProto(r.credential), state: r.view ? signInToProto(r.view) : undefined };
    }),

    resyncHotp: unary<identityV1.ResyncHotpRequest, identityV1.ResyncHotpResponse>(async (req, ctx) => {
      const r = await d.flow.resync(await mode(ctx, req.signInId), req.firstCode, req.secondCode, source(ctx));
      return { credential: credentialToProto(r.credential), state: r.view ? signInToProto(r.view) : undefined };
    }),

    resetOtp: unary<identityV1.ResetOtpRequest, identityV1.ResetOtpResponse>(async (req, ctx) => {
      const o = await officer(ctx);
      const r = await d.admin.resetOtp(o, req.accountId, req.reason, source(ctx));
      return { account: accountToProto(r.view, now()), revokedSessionCount: r.revoked };
    }),

    whoAmI: unary<identityV1.WhoAmIRequest, identityV1.WhoAmIResponse>(async (_req, ctx) => {
      const s = await session(ctx, 'any');
      return { account: accountToProto(await d.admin.own(s), now()), session: { ...sessionInfoFromClaims(s.claims), absoluteExpiresAt: s.record.absoluteExpiresAt } };
    }),

    refreshSession: unary<identityV1.RefreshSessionRequest, identityV1.RefreshSessionResponse>(async (_req, ctx) => {
      const r = await d.sessions.refresh(ctx.bearerToken(), source(ctx));
      return { session: { token: r.token, info: sessionInfoFromRecord(r.record) } };
    }),

    verifySession: unary<identityV1.VerifySessionRequest, identityV1.VerifySessionResponse>(async (req, ctx) => {
      // The presenter's IP, from a caller trusted to relay it; anyone else's peer IP (issue 13 item 3).
      const r = await d.sessions.verify(req.sessionToken, relayedClientIpOf(ctx, d.trustedProxies, req.clientIp), source(ctx), caller(ctx));
      if (r.valid) return { valid: true, session: sessionInfoFromClaims(r.claims), reason: I.SessionInvalidReason.SESSION_INVALID_REASON_UNSPECIFIED };
      return { valid: false, session: undefined, reason: invalidReason(r.reason) };
    }),

    revokeSession: unary<identityV1.RevokeSessionRequest, identityV1.RevokeSessionResponse>(async (req, ctx) => {
      const s = await session(ctx, 'any');
      const target =
        req.sessionId !== undefined ? { sessionId: req.sessionId } : req.accountId !== undefined ? { accountId: req.accountId } : { sessionId: s.claims.sessionId };
      return { revokedSessionCount: await d.sessions.revoke(s, target, req.reason, source(ctx)) };
    }),

    listSessions: unary<identityV1.ListSessionsRequest, identityV1.ListSessionsResponse>(async (req, ctx) => {
      const s = await session(ctx);
      const limit = pageSize(req.pageSize);
      const after = readPageToken<{ t: number; s: string }>(req.pageToken, ['t', 's']);
      const rows = await d.sessions.list(
        s,
        { accountId: req.accountId, statuses: sessionStatusesFromProto(req.statuses) },
        { after: after ? { authTime: new Date(after.t), sessionId: after.s } : undefined, limit },
      );
      const last = rows[rows.length - 1];
      return { sessions: rows.map(sessionRecordToProto), nextPageToken: rows.length === limit && last ? writePageToken({ t: last.authTime.getTime(), s: last.sessionId }) : '' };
    }),

    getSigningKeys: unary<identityV1.GetSigningKeysRequest, identityV1.GetSigningKeysResponse>(async () => {
      const k = await d.sessions.signingKeys();
      return {
        issuer: k.issuer,
        audience: k.audience,
        keys: k.keys.map((key) =>
          commonV1.SigningKey.fromPartial({
            keyId: key.keyId,
            algorithm: commonV1.KeyAlgorithm.KEY_ALGORITHM_ED25519,
            publicKey: Buffer.from(key.publicKey),
            notBefore: key.notBefore,
            notAfter: key.notAfter ?? undefined,
            status: key.status === 'active' ? commonV1.KeyStatus.KEY_STATUS_ACTIVE : key.status === 'next' ? commonV1.KeyStatus.KEY_STATUS_NEXT : commonV1.KeyStatus.KEY_STATUS_RETIRED,
          }),
        ),
        cacheFor: { seconds: Math.floor(k.cacheForMs / 1000), nanos: 0 },
      };
    }),

    authorize: unary<identityV1.AuthorizeRequest, identityV1.AuthorizeResponse>(async (req, ctx) => {
      const env = environmentFromProto(req.environment);
      const action = actionFromProto(req.action);
      const ip = relayedClientIpOf(ctx, d.trustedProxies, req.clientIp);
      const { decision, session: s } = await d.sessions.authorize(ctx.bearerToken(), ip, env, action, source(ctx), caller(ctx));
      return {
        decision: decision.allow ? I.AuthorizeDecision.AUTHORIZE_DECISION_ALLOW : I.AuthorizeDecision.AUTHORIZE_DECISION_DENY,
        reason: I.authorizeReasonFromJSON(`AUTHORIZE_REASON_${decision.reason.toUpperCase()}`),
        principal: sessionInfoFromClaims(s.claims).principal,
        sessionId: s.claims.sessionId,
        validUntil: decision.validUntil ?? undefined,
        message: decision.message,
      };
    }),
  };

  return {
    name: SERVICE_NAMES.identity,
    definition: IdentityServiceService,
    policy: identityPolicy,
    handlers: Object.fromEntries(Object.entries(handlers).map(([k, h]) => [k.charAt(0).toUpperCase() + k.slice(1), h])),
  };
}

const REASONS: Record<string, identityV1.SessionInvalidReason> = {
  missing: I.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED,
  oversized: I.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED,
  malformed: I.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED,
  algorithm: I.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED,
  wrong_issuer: I.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED,
  wrong_audience: I.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED,
  too_long_lived: I.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED,
  unknown_key: I.SessionInvalidReason.SESSION_INVALID_REASON_UNKNOWN_KEY,
  bad_signature: I.SessionInvalidReason.SESSION_INVALID_REASON_BAD_SIGNATURE,
  expired: I.SessionInvalidReason.SESSION_INVALID_REASON_EXPIRED,
  not_yet_valid: I.SessionInvalidReason.SESSION_INVALID_REASON_NOT_YET_VALID,
  revoked: I.SessionInvalidReason.SESSION_INVALID_REASON_REVOKED,
  ip_mismatch: I.SessionInvalidReason.SESSION_INVALID_REASON_IP_MISMATCH,
};

function invalidReason(reason: string): identityV1.SessionInvalidReason {
  return REASONS[reason] ?? I.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED;
}
