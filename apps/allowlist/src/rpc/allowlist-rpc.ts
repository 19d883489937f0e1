import { AllowlistServiceService, SERVICE_NAMES, allowlistV1, commonV1 } from '@gatehouse/contracts';
import { InvalidArgumentError } from '@gatehouse/core';
import { callers, clientIpOf, environmentFromProto, unary, type CallerRule, type RequestContext, type ServiceBinding } from '@gatehouse/service-kit';
import { requireSession, type Role, type SessionTokenVerifier } from '@gatehouse/session';
import type { Allowlist, SessionEmployee, Source } from '../domain/allowlist-service.js';
import type { CheckReason } from '../domain/allowlist-index.js';
import type { AllowlistEntry, DailyIp, EntryScope } from '../domain/model.js';

/**
 * Who may call each AllowlistService RPC, by certificate kind (the contract's "Callers:" lines).
 * Role checks on the employee's session follow in the handlers (ASVS 8.2).
 */
export const allowlistPolicy: Readonly<Record<string, CallerRule>> = {
  AddEntry: callers.operatorsAndConsole,
  RemoveEntry: callers.operatorsAndConsole,
  ListEntries: callers.operatorsAndConsole,
  RegisterDailyIp: callers.operatorsAndBackends,
  ListDailyIps: callers.operators,
  Check: callers.anyAuthenticated,
};

/** What the handlers translate to. */
export interface AllowlistRpcDeps {
  allowlist: Allowlist;
  verifier: SessionTokenVerifier;
  trustedProxies: readonly string[];
}

const A = allowlistV1;

const SCOPE_TO_PROTO: Record<EntryScope, allowlistV1.EntryScope> = {
  live: A.EntryScope.ENTRY_SCOPE_LIVE,
  staging: A.EntryScope.ENTRY_SCOPE_STAGING,
  all: A.EntryScope.ENTRY_SCOPE_ALL,
};

function scopeFromProto(s: allowlistV1.EntryScope): EntryScope | undefined {
  return (Object.keys(SCOPE_TO_PROTO) as EntryScope[]).find((k) => SCOPE_TO_PROTO[k] === s);
}

function principal(a: { accountId: string; email: string }): commonV1.Principal {
  return commonV1.Principal.fromPartial({ accountId: a.accountId, email: a.email });
}

function entryToProto(e: AllowlistEntry): allowlistV1.Entry {
  return A.Entry.fromPartial({
    entryId: e.entryId,
    cidr: e.cidr,
    label: e.label,
    scope: SCOPE_TO_PROTO[e.scope],
    expiresAt: e.expiresAt ?? undefined,
    createdBy: principal(e.createdBy),
    reason: e.reason,
    createdAt: e.createdAt,
  });
}

function dailyToProto(d: DailyIp): allowlistV1.DailyIp {
  return A.DailyIp.fromPartial({
    dailyIpId: d.dailyIpId,
    ip: d.ip,
    account: principal(d),
    scope: SCOPE_TO_PROTO[d.scope],
    registeredAt: d.registeredAt,
    expiresAt: d.expiresAt,
  });
}

const REASON: Record<CheckReason, allowlistV1.CheckReason> = {
  enumerated_entry: A.CheckReason.CHECK_REASON_ENUMERATED_ENTRY,
  daily_entry: A.CheckReason.CHECK_REASON_DAILY_ENTRY,
  no_match: A.CheckReason.CHECK_REASON_NO_MATCH,
  malformed_ip: A.CheckReason.CHECK_REASON_MALFORMED_IP,
  expired: A.CheckReason.CHECK_REASON_EXPIRED,
  environment_mismatch: A.CheckReason.CHECK_REASON_ENVIRONMENT_MISMATCH,
  other_account: A.CheckReason.CHECK_REASON_OTHER_ACCOUNT,
};

const WARNING: Record<string, allowlistV1.EntryWarningKind> = {
  host_bits_cleared: A.EntryWarningKind.ENTRY_WARNING_KIND_HOST_BITS_CLEARED,
  ipv4_mapped_converted: A.EntryWarningKind.ENTRY_WARNING_KIND_IPV4_MAPPED_CONVERTED,
  overlaps_existing: A.EntryWarningKind.ENTRY_WARNING_KIND_OVERLAPS_EXISTING,
};

/** page_size 0 = 100, at most 1000; the page token is an offset bound to nothing secret. */
function paging(pageSize: number, token: string): { offset: number; limit: number } {
  if (pageSize < 0 || pageSize > 1000) throw new InvalidArgumentError('page_size', 'must be from 0 to 1000');
  const offset = token === '' ? 0 : /^\d{1,9}$/.test(token) ? Number(token) : NaN;
  if (!Number.isSafeInteger(offset)) throw new InvalidArgumentError('page_token', 'is not a token this service issued');
  return { offset, limit: pageSize === 0 ? 100 : pageSize };
}

/** The AllowlistService binding: each handler only translates proto ⇄ domain. */
export function allowlistBinding(d: AllowlistRpcDeps): ServiceBinding {
  const source = (ctx: RequestContext): Source => ({ ip: clientIpOf(ctx, d.trustedProxies), requestId: ctx.requestId });
  const employee = async (ctx: RequestContext, opts: { scope?: 'full' | 'any'; anyOfRoles?: readonly Role[]; critical?: boolean }): Promise<SessionEmployee> => {
    const claims = await requireSession({ bearerToken: () => ctx.bearerToken(), peerIp: source(ctx).ip }, d.verifier, opts);
    return { accountId: claims.accountId, email: claims.email, roles: claims.roles };
  };
  const caller = (ctx: RequestContext) => (ctx.caller ? `${ctx.caller.kind}:${ctx.caller.name}` : 'insecure-loopback');

  return {
    name: SERVICE_NAMES.allowlist,
    definition: AllowlistServiceService,
    policy: allowlistPolicy,
    handlers: {
      AddEntry: unary<allowlistV1.AddEntryRequest, allowlistV1.AddEntryResponse>(async (req, ctx) => {
        const officer = await employee(ctx, { anyOfRoles: ['security_officer'], critical: true });
        const r = await d.allowlist.addEntry(
          officer,
          { cidr: req.cidr, label: req.label, scope: scopeFromProto(req.scope), expiresAt: req.expiresAt, reason: req.reason, normalize: req.normalize },
          source(ctx),
        );
        return {
          entry: entryToProto(r.entry),
          warnings: r.warnings.map((w) => ({ kind: WARNING[w.kind] ?? A.EntryWarningKind.ENTRY_WARNING_KIND_UNSPECIFIED, message: w.message, relatedEntryId: w.relatedEntryId ?? '' })),
        };
      }),

      RemoveEntry: unary<allowlistV1.RemoveEntryRequest, allowlistV1.RemoveEntryResponse>(async (req, ctx) => {
        const officer = await employee(ctx, { anyOfRoles: ['security_officer'], critical: true });
        return { entry: entryToProto(await d.allowlist.removeEntry(officer, req.entryId, req.reason, source(ctx))) };
      }),

      ListEntries: unary<allowlistV1.ListEntriesRequest, allowlistV1.ListEntriesResponse>(async (req, ctx) => {
        await employee(ctx, { anyOfRoles: ['security_officer', 'manager', 'team_lead'] });
        const scopes = req.scopes.map((s) => {
          const scope = scopeFromProto(s);
          if (!scope) throw new InvalidArgumentError('scopes', `${A.entryScopeToJSON(s)} is not a scope`);
          return scope;
        });
        const { offset, limit } = paging(req.pageSize, req.pageToken);
        const rows = await d.allowlist.listEntries({ scopes, containsIp: req.containsIp, includeExpired: req.includeExpired });
        const page = rows.slice(offset, offset + limit);
        return { entries: page.map(entryToProto), nextPageToken: offset + limit < rows.length ? String(offset + limit) : '' };
      }),

      RegisterDailyIp: unary<allowlistV1.RegisterDailyIpRequest, allowlistV1.RegisterDailyIpResponse>(async (_req, ctx) => {
        const who = await employee(ctx, { scope: 'any' });
        const src = source(ctx);
        const r = await d.allowlist.registerDaily(who, src.ip, src);
        return { dailyIp: dailyToProto(r.daily), alreadyRegistered: r.alreadyRegistered, remainingToday: r.remainingToday };
      }),

      ListDailyIps: unary<allowlistV1.ListDailyIpsRequest, allowlistV1.ListDailyIpsResponse>(async (req, ctx) => {
        const who = await employee(ctx, {});
        const limit = req.pageSize === 0 ? 100 : req.pageSize;
        if (limit < 1 || limit > 1000) throw new InvalidArgumentError('page_size', 'must be from 0 to 1000');
        let after: { registeredAt: Date; dailyIpId: string } | undefined;
        if (req.pageToken !== '') {
          const m = /^(\d{1,15})\.(dip_[A-Za-z0-9_-]{16})$/.exec(req.pageToken);
          if (!m) throw new InvalidArgumentError('page_token', 'is not a token this service issued');
          after = { registeredAt: new Date(Number(m[1])), dailyIpId: m[2] as string };
        }
        const rows = await d.allowlist.listDaily(who, { accountId: req.accountId, includeExpired: req.includeExpired }, { after, limit });
        const last = rows[rows.length - 1];
        return { dailyIps: rows.map(dailyToProto), nextPageToken: rows.length === limit && last ? `${last.registeredAt.getTime()}.${last.dailyIpId}` : '' };
      }),

      Check: unary<allowlistV1.CheckRequest, allowlistV1.CheckResponse>(async (req, ctx) => {
        const env = environmentFromProto(req.environment);
        const accountId = req.accountId !== undefined && req.accountId !== '' ? req.accountId : undefined;
        const r = d.allowlist.check(req.ip, accountId, env, { ip: ctx.peerIp, requestId: ctx.requestId }, caller(ctx));
        return A.CheckResponse.fromPartial({
          decision: r.allow ? A.CheckDecision.CHECK_DECISION_ALLOW : A.CheckDecision.CHECK_DECISION_DENY,
          reason: REASON[r.reason],
          canonicalIp: r.canonicalIp,
          entryId: r.entry?.entryId,
          dailyIpId: r.daily?.dailyIpId,
          matchedCidr: r.entry?.cidr,
          dailyOwner: r.daily ? principal(r.daily) : undefined,
          expiresAt: r.expiresAt ?? undefined,
        });
      }),
    },
  };
}
