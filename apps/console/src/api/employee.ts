import type {
  AnomaliesView,
  AnomalyView,
  DailyIpView,
  GrantView,
  GrantsView,
  ImpersonationReason,
  MeView,
  RevokedView,
  SessionsView,
  StartedView,
} from '@gatehouse/console-api';
import { impersonationV1 } from '@gatehouse/contracts';
import { rpc } from '../backends.js';
import { ApiRefusal, oneOf, text, textList } from '../http/http-kit.js';
import { anomalyView, enumValue, grantView, iso, meView, rolesView, sessionView } from '../views.js';
import type { ApiContext } from './context.js';

const REASONS: readonly ImpersonationReason[] = ['customer_support_case', 'bug_investigation', 'incident_response'];
const ANOMALY_STATES = ['open', 'justified', 'accepted', 'rejected'] as const;

/** Whether the employee sees everyone's anomalies (officer, manager) or only their own. */
const seesAll = (roles: readonly string[]) => roles.includes('security_officer') || roles.includes('manager');

/** Today and Support (every employee): the session, daily IP, own sessions, impersonation. */
export const employeeHandlers = {
  'GET /api/me': async (ctx: ApiContext): Promise<MeView> => {
    const s = ctx.session();
    const b = ctx.backends.identity;
    const r = await rpc(b, b.whoAmI, {}, s);
    return meView(r.account, r.session, ctx.dailyCutoff());
  },

  'POST /api/me/refresh': async (ctx: ApiContext): Promise<MeView> => {
    const s = ctx.session();
    const b = ctx.backends.identity;
    const r = await rpc(b, b.refreshSession, {}, s);
    const info = r.session?.info;
    ctx.setSession({ token: r.session?.token ?? '', sessionId: info?.sessionId ?? s.sessionId, accountId: s.accountId, roles: rolesView(info?.principal?.roles ?? []) }, iso(info?.absoluteExpiresAt));
    return meView(undefined, info, ctx.dailyCutoff());
  },

  'POST /api/sign-out': async (ctx: ApiContext): Promise<RevokedView> => {
    const s = ctx.session();
    const b = ctx.backends.identity;
    try {
      const r = await rpc(b, b.revokeSession, { sessionId: s.sessionId, reason: 'signed out in the console' }, s);
      return { revokedSessionCount: r.revokedSessionCount };
    } finally {
      ctx.setSession(undefined);
    }
  },

  'GET /api/sessions': async (ctx: ApiContext): Promise<SessionsView> => {
    const s = ctx.session();
    const b = ctx.backends.identity;
    const r = await rpc(b, b.listSessions, { accountId: s.accountId, statuses: [], pageSize: 50, pageToken: '' }, s);
    return { sessions: r.sessions.map((x) => sessionView(x, s.sessionId)) };
  },

  'POST /api/sessions/revoke': async (ctx: ApiContext): Promise<RevokedView> => {
    const s = ctx.session();
    const sessionId = text(ctx.body, 'sessionId', { required: true, max: 128 });
    const b = ctx.backends.identity;
    const r = await rpc(b, b.revokeSession, { sessionId, reason: 'revoked by its owner in the console' }, s);
    if (sessionId === s.sessionId) ctx.setSession(undefined);
    return { revokedSessionCount: r.revokedSessionCount };
  },

  'POST /api/daily-ip': async (ctx: ApiContext): Promise<DailyIpView> => {
    const s = ctx.session();
    const b = ctx.backends.allowlist;
    const r = await rpc(b, b.registerDailyIp, {}, s);
    return { ip: r.dailyIp?.ip ?? '', expiresAt: iso(r.dailyIp?.expiresAt), alreadyRegistered: r.alreadyRegistered, remainingToday: r.remainingToday };
  },

  'POST /api/impersonations': async (ctx: ApiContext): Promise<StartedView> => {
    const s = ctx.session();
    const minutes = ctx.body['durationMinutes'];
    if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > 60) throw new ApiRefusal('BAD_REQUEST', 'durationMinutes must be a whole number of minutes from 1 to 60');
    const reason = oneOf(ctx.body, 'reason', REASONS);
    const b = ctx.backends.impersonation;
    const r = await rpc(
      b,
      b.startImpersonation,
      {
        targetUserId: text(ctx.body, 'targetUserId', { max: 256 }),
        customerDomain: text(ctx.body, 'customerDomain', { max: 253 }),
        reason: enumValue(reason, 'IMPERSONATION_REASON_', impersonationV1.impersonationReasonFromJSON) ?? 0,
        justification: text(ctx.body, 'justification', { max: 2000 }),
        ticketRef: text(ctx.body, 'ticketRef', { max: 128 }),
        duration: { seconds: minutes * 60, nanos: 0 },
      },
      s,
    );
    return { grant: grantView(r.grant), impersonationToken: r.impersonationToken };
  },

  'GET /api/impersonations': async (ctx: ApiContext): Promise<GrantsView> => {
    const s = ctx.session();
    const b = ctx.backends.impersonation;
    const r = await rpc(b, b.listActive, { accountId: s.accountId, pageSize: 100, pageToken: '' }, s);
    return { grants: r.grants.map(grantView) };
  },

  'POST /api/impersonations/:id/end': async (ctx: ApiContext): Promise<GrantView> => {
    const s = ctx.session();
    const b = ctx.backends.impersonation;
    const r = await rpc(b, b.endImpersonation, { grantId: ctx.params['id'] ?? '' }, s);
    return grantView(r.grant);
  },

  'GET /api/anomalies': async (ctx: ApiContext): Promise<AnomaliesView> => {
    const s = ctx.session();
    const states = ctx.query.getAll('state').map((v) => {
      if (!(ANOMALY_STATES as readonly string[]).includes(v)) throw new ApiRefusal('BAD_REQUEST', `state must be one of ${ANOMALY_STATES.join(', ')}`);
      return enumValue(v, 'ANOMALY_STATE_', impersonationV1.anomalyStateFromJSON) ?? 0;
    });
    const b = ctx.backends.impersonation;
    const r = await rpc(b, b.listAnomalies, { states, ...(seesAll(s.roles) ? {} : { accountId: s.accountId }), pageSize: 100, pageToken: '' }, s);
    return { anomalies: r.anomalies.map(anomalyView) };
  },

  'POST /api/anomalies/:id/justify': async (ctx: ApiContext): Promise<AnomalyView> => {
    const s = ctx.session();
    const b = ctx.backends.impersonation;
    const r = await rpc(b, b.justifyAnomaly, { anomalyId: ctx.params['id'] ?? '', justification: text(ctx.body, 'justification', { max: 2000 }), ticketRefs: textList(ctx.body, 'ticketRefs') }, s);
    return anomalyView(r.anomaly);
  },

  'POST /api/anomalies/:id/resolve': async (ctx: ApiContext): Promise<AnomalyView> => {
    const s = ctx.session();
    const resolution = oneOf(ctx.body, 'resolution', ['accept', 'reject'] as const);
    const b = ctx.backends.impersonation;
    const r = await rpc(
      b,
      b.resolveAnomaly,
      {
        anomalyId: ctx.params['id'] ?? '',
        resolution: resolution === 'accept' ? impersonationV1.AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT : impersonationV1.AnomalyResolution.ANOMALY_RESOLUTION_REJECT,
        note: text(ctx.body, 'note', { max: 2000 }),
      },
      s,
    );
    return anomalyView(r.anomaly);
  },
};
