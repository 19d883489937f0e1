import type {
  AccessLogView,
  AccountView,
  AccountsView,
  AddedEntryView,
  AlertView,
  AlertsView,
  ApprovedView,
  AuditPageView,
  CheckpointView,
  EntriesView,
  EntryView,
  ImpersonationLockView,
} from '@gatehouse/console-api';
import { ROLES, QUERY_LIMITS } from '@gatehouse/console-api';
import { keyIdOf } from '@gatehouse/merkle';
import { allowlistV1, auditEventV1, auditV1, commonV1, identityV1, impersonationV1 } from '@gatehouse/contracts';
import { exportLine } from '@gatehouse/audit-verify';
import { rpc } from '../backends.js';
import { ApiRefusal, oneOf, text } from '../http/http-kit.js';
import { accessLogView, accountView, alertView, auditEntryView, entryView, enumValue, iso, lockView } from '../views.js';
import type { ApiContext } from './context.js';

const ACCOUNT_STATES = { pending: identityV1.AccountState.ACCOUNT_STATE_PENDING_APPROVAL, active: identityV1.AccountState.ACCOUNT_STATE_ACTIVE, suspended: identityV1.AccountState.ACCOUNT_STATE_SUSPENDED } as const;
const SCOPES = ['live', 'staging', 'all'] as const;

/** A time field of a query or body: '' for none, else an ISO-8601 instant. */
function when(v: string, field: string): Date | undefined {
  if (v === '') return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime()) || v.length > 40) throw new ApiRefusal('BAD_REQUEST', `${field} must be an ISO-8601 time`);
  return d;
}

function pageSize(q: URLSearchParams): number {
  const v = q.get('pageSize');
  if (v === null || v === '') return 50;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > QUERY_LIMITS.maxPageSize) throw new ApiRefusal('BAD_REQUEST', `pageSize must be a whole number from 1 to ${QUERY_LIMITS.maxPageSize}`);
  return n;
}

const q = (ctx: ApiContext, name: string, max = 256) => text(Object.fromEntries(ctx.query), name, { max });
/** The officer's note on a decision (unlock, acknowledge, remove): free text, bounded. */
const note = (ctx: ApiContext, field = 'note') => text(ctx.body, field, { max: 2000 });
const id = (ctx: ApiContext) => ctx.params['id'] ?? '';

/** The officer queue, audit and the access log: each handler is one (or a few) RPCs, translated. */
export const officerHandlers = {
  'GET /api/accounts': async (ctx: ApiContext): Promise<AccountsView> => {
    const s = ctx.session();
    const state = q(ctx, 'state');
    if (state !== '' && !(state in ACCOUNT_STATES)) throw new ApiRefusal('BAD_REQUEST', 'state must be one of pending, active, suspended');
    const b = ctx.backends.identity;
    const r = await rpc(
      b,
      b.listAccounts,
      identityV1.ListAccountsRequest.fromPartial({
        states: state ? [ACCOUNT_STATES[state as keyof typeof ACCOUNT_STATES]] : [],
        lockStates: q(ctx, 'locked') === '1' ? [identityV1.LockState.LOCK_STATE_LOCKED] : [],
        pageSize: 100,
      }),
      s,
    );
    return { accounts: r.accounts.map(accountView) };
  },

  'POST /api/accounts/:id/approve': async (ctx: ApiContext): Promise<ApprovedView> => {
    const s = ctx.session();
    const raw = ctx.body['roles'];
    if (!Array.isArray(raw) || raw.length > ROLES.length || raw.some((r) => typeof r !== 'string' || !(ROLES as readonly string[]).includes(r))) {
      throw new ApiRefusal('BAD_REQUEST', `roles must be a list of ${ROLES.join(', ')}`);
    }
    const phone = text(ctx.body, 'phoneNumber', { max: 32 });
    const b = ctx.backends.identity;
    const r = await rpc(
      b,
      b.approveAccount,
      {
        accountId: id(ctx),
        roles: (raw as string[]).map((x) => enumValue(x, 'ROLE_', commonV1.roleFromJSON) ?? 0),
        ...(phone ? { phoneNumber: phone } : {}),
        note: note(ctx),
        displayName: text(ctx.body, 'displayName', { max: 200 }),
      },
      s,
    );
    return { account: accountView(r.account), pendingChangeId: r.pendingChange?.changeId ?? '' };
  },

  'POST /api/accounts/:id/reject': async (ctx: ApiContext): Promise<AccountView> => {
    const s = ctx.session();
    const b = ctx.backends.identity;
    const r = await rpc(b, b.suspendAccount, { accountId: id(ctx), reason: text(ctx.body, 'reason', { required: true, max: 2000 }) }, s);
    return accountView(r.account);
  },

  'POST /api/accounts/:id/unlock': async (ctx: ApiContext): Promise<AccountView> => {
    const s = ctx.session();
    const b = ctx.backends.identity;
    const r = await rpc(b, b.unlockAccount, { accountId: id(ctx), note: note(ctx) }, s);
    return accountView(r.account);
  },

  /** Impersonation locks come from rejected anomalies: their employees' statuses, the locked ones. */
  'GET /api/impersonation-locks': async (ctx: ApiContext): Promise<{ locks: ImpersonationLockView[] }> => {
    const s = ctx.session();
    const b = ctx.backends.impersonation;
    const rejected = await rpc(b, b.listAnomalies, { states: [impersonationV1.AnomalyState.ANOMALY_STATE_REJECTED], pageSize: 200, pageToken: '' }, s);
    const ids = [...new Set(rejected.anomalies.map((a) => a.employee?.accountId ?? '').filter(Boolean))].slice(0, 50);
    const statuses = await Promise.all(ids.map((accountId) => rpc(b, b.getImpersonationStatus, { accountId }, s)));
    return { locks: statuses.map((x) => lockView(x.status)).filter((l) => l.locked) };
  },

  'POST /api/impersonation-locks/:id/unlock': async (ctx: ApiContext): Promise<ImpersonationLockView> => {
    const s = ctx.session();
    const b = ctx.backends.impersonation;
    const r = await rpc(b, b.unlockImpersonation, { accountId: id(ctx), note: note(ctx) }, s);
    return lockView(r.status);
  },

  'GET /api/alerts': async (ctx: ApiContext): Promise<AlertsView> => {
    const s = ctx.session();
    const state = q(ctx, 'state');
    if (state !== '' && state !== 'open' && state !== 'acknowledged') throw new ApiRefusal('BAD_REQUEST', 'state must be open or acknowledged');
    const b = ctx.backends.audit;
    const r = await rpc(
      b,
      b.listAlerts,
      auditV1.ListAlertsRequest.fromPartial({ states: state === '' ? [] : [state === 'open' ? auditV1.AlertState.ALERT_STATE_OPEN : auditV1.AlertState.ALERT_STATE_ACKNOWLEDGED], pageSize: 100 }),
      s,
    );
    return { alerts: r.alerts.map(alertView) };
  },

  'POST /api/alerts/:id/acknowledge': async (ctx: ApiContext): Promise<AlertView> => {
    const s = ctx.session();
    const b = ctx.backends.audit;
    const r = await rpc(b, b.acknowledgeAlert, { alertId: id(ctx), note: note(ctx) }, s);
    return alertView(r.alert);
  },

  'GET /api/allowlist': async (ctx: ApiContext): Promise<EntriesView> => {
    const s = ctx.session();
    const b = ctx.backends.allowlist;
    const r = await rpc(b, b.listEntries, allowlistV1.ListEntriesRequest.fromPartial({ pageSize: 200 }), s);
    return { entries: r.entries.map(entryView) };
  },

  'POST /api/allowlist': async (ctx: ApiContext): Promise<AddedEntryView> => {
    const s = ctx.session();
    const scope = oneOf(ctx.body, 'scope', SCOPES);
    const expiresAt = when(text(ctx.body, 'expiresAt', { max: 40 }), 'expiresAt');
    const b = ctx.backends.allowlist;
    const r = await rpc(
      b,
      b.addEntry,
      {
        cidr: text(ctx.body, 'cidr', { max: 64 }),
        label: text(ctx.body, 'label', { max: 200 }),
        scope: enumValue(scope, 'ENTRY_SCOPE_', allowlistV1.entryScopeFromJSON) ?? 0,
        expiresAt,
        reason: note(ctx, 'reason'),
        normalize: false,
      },
      s,
    );
    return { entry: entryView(r.entry), warnings: r.warnings.map((w) => w.message) };
  },

  'POST /api/allowlist/:id/remove': async (ctx: ApiContext): Promise<EntryView> => {
    const s = ctx.session();
    const b = ctx.backends.allowlist;
    const r = await rpc(b, b.removeEntry, { entryId: id(ctx), reason: note(ctx, 'reason') }, s);
    return entryView(r.entry);
  },

  'GET /api/audit': async (ctx: ApiContext): Promise<AuditPageView> => {
    const s = ctx.session();
    const filterEnum = <E extends number>(name: string, prefix: string, fromJSON: (o: unknown) => E): E[] => {
      const v = q(ctx, name, 64);
      if (v === '') return [];
      const e = enumValue(v, prefix, fromJSON);
      if (e === undefined) throw new ApiRefusal('BAD_REQUEST', `${name} "${v.slice(0, 40)}" is not a known ${name}`);
      return [e];
    };
    const opt = (name: string) => q(ctx, name) || undefined;
    const after = when(q(ctx, 'occurredAfter', 40), 'occurredAfter');
    const before = when(q(ctx, 'occurredBefore', 40), 'occurredBefore');
    const b = ctx.backends.audit;
    const r = await rpc(
      b,
      b.query,
      auditV1.QueryRequest.fromPartial({
        filter: {
          services: filterEnum('service', 'SERVICE_', auditEventV1.serviceFromJSON),
          actions: filterEnum('action', 'ACTION_', auditEventV1.actionFromJSON),
          outcomes: filterEnum('outcome', 'OUTCOME_', auditEventV1.outcomeFromJSON),
          actorId: opt('actorId'),
          subjectId: opt('subjectId'),
          customerDomain: opt('customerDomain'),
          sourceIp: opt('sourceIp'),
          ...(after || before ? { occurred: { startTime: after, endTime: before } } : {}),
        },
        order: auditV1.QueryOrder.QUERY_ORDER_DESCENDING,
        pageSize: pageSize(ctx.query),
        pageToken: q(ctx, 'pageToken', 1024),
      }),
      s,
    );
    return { entries: r.entries.map(auditEntryView), nextPageToken: r.nextPageToken, treeSize: Number(r.treeSize) };
  },

  'GET /api/audit/checkpoint': async (ctx: ApiContext): Promise<CheckpointView> => {
    const s = ctx.session();
    const b = ctx.backends.audit;
    const r = await rpc(b, b.getCheckpoint, { fresh: false }, s);
    const cp = r.checkpoint;
    const key = r.signingKey ? Buffer.from(r.signingKey.publicKey) : Buffer.alloc(0);
    return {
      origin: cp?.origin ?? '',
      treeSize: Number(cp?.treeSize ?? 0),
      rootHash: cp ? Buffer.from(cp.rootHash).toString('hex') : '',
      signedAt: iso(cp?.signedAt),
      keyId: cp?.keyId ?? '',
      text: cp ? exportLine(auditV1.ExportResponse.fromPartial({ checkpoint: cp })) : '',
      publicKey: key.length ? `${r.signingKey?.keyId || keyIdOf(key)} ${key.toString('base64')}` : '',
    };
  },

  'GET /api/access-log': async (ctx: ApiContext): Promise<AccessLogView> => {
    const s = ctx.session();
    const b = ctx.backends.impersonation;
    const r = await rpc(b, b.listAccessForDomain, { customerDomain: q(ctx, 'domain', 253), pageSize: pageSize(ctx.query), pageToken: q(ctx, 'pageToken', 1024) }, s);
    return { entries: r.entries.map(accessLogView), nextPageToken: r.nextPageToken };
  },
};
