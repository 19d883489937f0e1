import * as grpc from '@grpc/grpc-js';
import { ImpersonationServiceClient, impersonationV1, type commonV1 } from '@gatehouse/contracts';
import { systemClock, type Clock } from '@gatehouse/core';
import { call, dial } from '@gatehouse/service-kit';
import { namedValues, parseDuration, parseTime, requireArg, requireText, wholeNumber } from '../args.js';
import type { CommandContext } from '../context.js';
import { at, enumLabel, fields, table, who } from '../output.js';
import { allPages } from '../pages.js';
import { createPrivateFile, readSecretFile } from '../private-files.js';
import { CommandFailed, rpc } from '../rpc-errors.js';
import { sessionHint, sessionToken } from '../session.js';
import { securityFor, type CliSettings } from '../settings.js';
import { roleName } from './identity.js';
import { UsageError } from './pki.js';

/** Options of the impersonate, anomalies and access-log commands (parsed by cli.ts). */
export interface ImpersonationArgs {
  json?: boolean;
  target?: string | undefined;
  domain?: string | undefined;
  reason?: string | undefined;
  justification?: string | undefined;
  justificationFile?: string | undefined;
  ticket?: string[] | undefined;
  duration?: string | undefined;
  tokenFile?: string | undefined;
  account?: string | undefined;
  limit?: string | undefined;
  state?: string[] | undefined;
  accept?: boolean;
  reject?: boolean;
  note?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

const { ImpersonationReason, AnomalyResolution, AnomalyState } = impersonationV1;

/** Reasons as typed on the command line (`--reason support-case`). */
const REASONS: Readonly<Record<string, impersonationV1.ImpersonationReason>> = {
  'support-case': ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE,
  bug: ImpersonationReason.IMPERSONATION_REASON_BUG_INVESTIGATION,
  incident: ImpersonationReason.IMPERSONATION_REASON_INCIDENT_RESPONSE,
};
const REASON_NAMES = Object.keys(REASONS).join(', ');

const ANOMALY_STATES: Readonly<Record<string, impersonationV1.AnomalyState>> = {
  open: AnomalyState.ANOMALY_STATE_OPEN,
  justified: AnomalyState.ANOMALY_STATE_JUSTIFIED,
  accepted: AnomalyState.ANOMALY_STATE_ACCEPTED,
  rejected: AnomalyState.ANOMALY_STATE_REJECTED,
};

/** A grant lasts this long unless --duration says otherwise (the contract's default). */
const DEFAULT_DURATION_SECONDS = 30 * 60;
/** The contract's largest page. */
const PAGE_SIZE = 500;
const MAX_LIMIT = 100_000;

async function withImpersonation<T>(settings: CliSettings, fn: (c: ImpersonationServiceClient) => Promise<T>): Promise<T> {
  const c = dial(ImpersonationServiceClient, settings.address('impersonation'), await securityFor(settings, 'impersonation'));
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

function reasonOf(cmd: string, value: string | undefined): impersonationV1.ImpersonationReason {
  if (!value?.trim()) throw new UsageError(`${cmd}: --reason is required: one of ${REASON_NAMES}`);
  const name = value.trim().toLowerCase().replace(/_/g, '-');
  const reason = Object.hasOwn(REASONS, name) ? REASONS[name] : undefined;
  if (reason === undefined) throw new UsageError(`${cmd}: --reason must be one of ${REASON_NAMES}, got ${JSON.stringify(value.trim())}`);
  return reason;
}

/** --justification TEXT or --justification-file FILE (its text, trimmed): exactly one. */
function justificationOf(cmd: string, a: ImpersonationArgs, what: string): string {
  if (a.justification !== undefined && a.justificationFile !== undefined) throw new UsageError(`${cmd}: give --justification or --justification-file, not both`);
  if (a.justificationFile === undefined) return requireText(cmd, '--justification', a.justification, `${what}; or --justification-file <file>`);
  const text = readSecretFile(cmd, '--justification-file', a.justificationFile).toString('utf8').trim();
  if (!text) throw new UsageError(`${cmd}: --justification-file ${a.justificationFile} is empty`);
  return text;
}

/** Every --ticket given, trimmed; at least one. */
function ticketsOf(cmd: string, a: ImpersonationArgs, what: string): string[] {
  const tickets = (a.ticket ?? []).map((t) => t.trim());
  if (tickets.length === 0 || tickets.some((t) => !t)) throw new UsageError(`${cmd}: --ticket is required (${what})`);
  return tickets;
}

/** --domain: a customer domain, lower-cased (DNS names are case-insensitive; the contract wants lower case). */
function domainOf(cmd: string, value: string | undefined): string {
  return requireText(cmd, '--domain', value, 'the customer domain, e.g. example.com').toLowerCase();
}

function limitOf(cmd: string, a: ImpersonationArgs): number | undefined {
  return a.limit === undefined ? undefined : wholeNumber(cmd, '--limit', a.limit, 1, MAX_LIMIT);
}

const pageSize = (wanted: number | undefined): number => Math.min(PAGE_SIZE, wanted ?? PAGE_SIZE);

/** Text with spaces must be quoted: a stray word would otherwise be dropped silently. */
function noMoreArgs(cmd: string, rest: readonly string[], expected: number): void {
  const extra = rest[expected];
  if (extra !== undefined) throw new UsageError(`${cmd}: unexpected argument ${JSON.stringify(extra)} (quote text with spaces, e.g. --justification "...")`);
}

// ---------------------------------------------------------------------------------------------
// Formatting

const grantStateName = (s: impersonationV1.GrantState): string => enumLabel(impersonationV1.grantStateToJSON(s), 'GRANT_STATE_').toUpperCase();
const anomalyStateName = (s: impersonationV1.AnomalyState): string => enumLabel(impersonationV1.anomalyStateToJSON(s), 'ANOMALY_STATE_').toUpperCase();
const iso = (d: Date | undefined): string => d?.toISOString() ?? '-';

/** The command-line name of a reason (support-case, bug, incident). */
function reasonName(r: impersonationV1.ImpersonationReason): string {
  return Object.entries(REASONS).find(([, v]) => v === r)?.[0] ?? enumLabel(impersonationV1.impersonationReasonToJSON(r), 'IMPERSONATION_REASON_');
}

function employeeText(p: commonV1.Principal | undefined): string {
  if (!p) return '-';
  const name = p.email || p.displayName || p.accountId;
  return p.accountId && p.accountId !== name ? `${name} (${p.accountId})` : name || '-';
}

/** "contact read ×12, share write ×1"; "nothing reported" when no backend reported access. */
export function touchedText(touched: readonly impersonationV1.AccessSummary[]): string {
  if (touched.length === 0) return 'nothing reported';
  return touched
    .map((t) => `${t.resourceType} ${enumLabel(impersonationV1.accessOperationToJSON(t.operation), 'ACCESS_OPERATION_')} ×${t.count}`)
    .join(', ');
}

function grantFields(g: impersonationV1.Grant, clock: Clock): string[] {
  const rows: Array<[string, string]> = [
    ['grant', g.grantId],
    ['employee', employeeText(g.employee)],
    ['target', g.targetUserId],
    ['domain', g.customerDomain],
    ['reason', reasonName(g.reason)],
    ['ticket', g.ticketRef || '-'],
    ['state', grantStateName(g.state)],
    ['started', at(g.startedAt, clock)],
    ['expires', at(g.expiresAt, clock)],
  ];
  if (g.endedAt) rows.push(['ended', at(g.endedAt, clock)]);
  if (g.revokedBy || g.revokeReason) rows.push(['revoked', `by ${who(g.revokedBy)}${g.revokeReason ? `: ${g.revokeReason}` : ''}`]);
  return fields(rows);
}

function needGrant(rpcName: string, g: impersonationV1.Grant | undefined): impersonationV1.Grant {
  if (!g) throw new CommandFailed(`${rpcName}: the impersonation service returned no grant`);
  return g;
}

function needAnomaly(rpcName: string, x: impersonationV1.Anomaly | undefined): impersonationV1.Anomaly {
  if (!x) throw new CommandFailed(`${rpcName}: the impersonation service returned no anomaly`);
  return x;
}

function needStatus(rpcName: string, s: impersonationV1.ImpersonationStatus | undefined): impersonationV1.ImpersonationStatus {
  if (!s) throw new CommandFailed(`${rpcName}: the impersonation service returned no status`);
  return s;
}

/** "LOCKED since … (anomaly anm-1)" or "not locked". */
function standingText(s: impersonationV1.ImpersonationStatus, clock: Clock): string {
  if (!s.locked) return 'not locked';
  return `LOCKED out of impersonation in every domain since ${at(s.lockedAt, clock)}${s.lockingAnomalyId ? ` (anomaly ${s.lockingAnomalyId})` : ''}`;
}

function statusFields(s: impersonationV1.ImpersonationStatus, clock: Clock): string[] {
  return fields([
    ['employee', employeeText(s.employee)],
    ['locked', s.locked ? `yes, since ${at(s.lockedAt, clock)}` : 'no'],
    ['locking anomaly', s.lockingAnomalyId || '-'],
    ['blocked domains', s.blockedDomains.map((b) => `${b.customerDomain} (anomaly ${b.anomalyId})`).join(', ') || '-'],
    ['active grants', String(s.activeGrantCount)],
  ]);
}

function anomalyFields(x: impersonationV1.Anomaly, clock: Clock): string[] {
  const rows: Array<[string, string]> = [
    ['anomaly', x.anomalyId],
    ['employee', employeeText(x.employee)],
    ['domain', x.customerDomain],
    ['state', anomalyStateName(x.state)],
    ['opened', at(x.openedAt, clock)],
    ['rule', x.rule ? `${x.rule.ruleId}: ${x.rule.distinctTargets} distinct targets within ${Math.round((x.rule.window?.seconds ?? 0) / 60)} min` : '-'],
    ['targets', x.targetUserIds.join(', ') || '-'],
    ['refused target', x.refusedTargetUserId || '-'],
  ];
  if (x.justifiedAt || x.justification) rows.push(['justified', `${iso(x.justifiedAt)}${x.ticketRefs.length ? ` (tickets ${x.ticketRefs.join(', ')})` : ''}`]);
  if (x.resolvedAt || x.resolvedBy) rows.push(['resolved', `${iso(x.resolvedAt)} by ${who(x.resolvedBy)}${x.resolutionNote ? `: ${x.resolutionNote}` : ''}`]);
  return fields(rows);
}

// ---------------------------------------------------------------------------------------------
// Hints

/** The anomaly id (the service issues `an_` + 16 base64url characters) named in a refusal of StartImpersonation. */
export function anomalyIdIn(message: string): string | undefined {
  return /\b(an_[A-Za-z0-9_-]{16})(?![A-Za-z0-9_-])/.exec(message)?.[1];
}

/** FAILED_PRECONDITION of StartImpersonation: the burst rule fired, or an unresolved anomaly blocks the domain. */
function startHint(err: grpc.ServiceError): string | undefined {
  if (err.code === grpc.status.FAILED_PRECONDITION) {
    const id = anomalyIdIn(err.details || err.message) ?? '<anomaly-id>';
    return (
      'Impersonation in this domain stays blocked until you justify the anomaly and the security officer accepts it:\n' +
      `  gatehouse anomalies justify ${id} --justification "..." --ticket <ref>\n` +
      '(`gatehouse impersonate status` lists your blocked domains.)'
    );
  }
  if (err.code === grpc.status.PERMISSION_DENIED) {
    return 'Impersonation needs a FULL session from an allowlisted IP, the support or developer role, and no impersonation lock (`gatehouse impersonate status`).';
  }
  return sessionHint(err);
}

function grantHint(err: grpc.ServiceError): string | undefined {
  if (err.code === grpc.status.FAILED_PRECONDITION) return 'The grant is no longer ACTIVE (ended, expired or revoked): `gatehouse impersonate list`.';
  return sessionHint(err);
}

// ---------------------------------------------------------------------------------------------
// gatehouse impersonate ...

/** `gatehouse impersonate start|end|list|revoke|status|unlock`. */
export async function impersonate(ctx: CommandContext, sub: string | undefined, rest: string[], a: ImpersonationArgs): Promise<number> {
  if (sub === 'start') return start(ctx, rest, a);
  if (sub === 'end' || sub === 'revoke') return endOrRevoke(ctx, sub, rest, a);
  if (sub === 'list') return listActive(ctx, rest, a);
  if (sub === 'status') return status(ctx, rest, a);
  if (sub === 'unlock') return unlock(ctx, rest, a);
  throw new UsageError(`impersonate: unknown subcommand ${JSON.stringify(sub ?? '')} (start, end, list, revoke, status, unlock)`);
}

/**
 * `gatehouse impersonate start --target U --domain D --reason R (--justification T | --justification-file F)
 * --ticket REF [--duration 30m] (--token-file F | --json)`. The token is a secret: it is written
 * to a new 0600 file and never printed, or printed inside the --json answer only.
 */
async function start(ctx: CommandContext, rest: string[], a: ImpersonationArgs): Promise<number> {
  const cmd = 'impersonate start';
  const { out } = ctx;
  const clock = ctx.clock ?? systemClock;
  noMoreArgs(cmd, rest, 0);
  const targetUserId = requireText(cmd, '--target', a.target, "the customer user to impersonate: the product's user id");
  const customerDomain = domainOf(cmd, a.domain);
  const reason = reasonOf(cmd, a.reason);
  const justification = justificationOf(cmd, a, 'why you impersonate this user; shown to the customer');
  const tickets = ticketsOf(cmd, a, 'the support case, bug or incident; shown to the customer');
  if (tickets.length > 1) throw new UsageError(`${cmd}: give one --ticket for a grant`);
  const seconds = a.duration === undefined ? DEFAULT_DURATION_SECONDS : parseDuration(cmd, '--duration', a.duration);
  if (a.tokenFile === undefined && !a.json) {
    throw new UsageError(`${cmd}: the impersonation token is a secret and is not printed: give --token-file <new file> (written with mode 0600), or --json for a program to read it`);
  }
  const bearer = sessionToken(ctx.env);
  // Made before the token exists: a taken path is refused before a grant is made.
  const tokenFile = a.tokenFile === undefined ? undefined : createPrivateFile(cmd, a.tokenFile, 'an impersonation token');
  let res: impersonationV1.StartImpersonationResponse;
  try {
    const req = impersonationV1.StartImpersonationRequest.fromPartial({
      targetUserId,
      customerDomain,
      reason,
      justification,
      ticketRef: tickets[0],
      duration: { seconds, nanos: 0 },
    });
    res = await withImpersonation(ctx.settings, (c) => rpc('StartImpersonation', call(c, c.startImpersonation, req, { bearer }), startHint));
    if (!res.grant || !res.impersonationToken) throw new CommandFailed('StartImpersonation: the impersonation service returned no grant or no token');
    if (tokenFile) {
      tokenFile.write(`${res.impersonationToken}\n`);
      tokenFile.commit();
    }
  } catch (err) {
    tokenFile?.discard();
    throw err;
  }
  const g = res.grant;
  if (a.json) {
    out(JSON.stringify({ grant: impersonationV1.Grant.toJSON(g), ...(tokenFile ? { tokenFile: tokenFile.path } : { impersonationToken: res.impersonationToken }) }));
    return 0;
  }
  out(`Impersonating ${g.targetUserId} in ${g.customerDomain}: grant ${g.grantId}.`);
  for (const line of fields([
    ['grant', g.grantId],
    ['target', g.targetUserId],
    ['domain', g.customerDomain],
    ['reason', reasonName(g.reason)],
    ['ticket', g.ticketRef],
    ['started', at(g.startedAt, clock)],
    ['expires', at(g.expiresAt, clock)],
  ])) {
    out(line);
  }
  out(`Impersonation token written to ${tokenFile?.path ?? '?'} (0600); it is not shown. It stops working when the grant expires; end it early with \`gatehouse impersonate end ${g.grantId}\`.`);
  return 0;
}

/** `gatehouse impersonate end <grant-id>` (your own grant) and `revoke <grant-id> --reason "..."` (officer). */
async function endOrRevoke(ctx: CommandContext, sub: 'end' | 'revoke', rest: string[], a: ImpersonationArgs): Promise<number> {
  const cmd = `impersonate ${sub}`;
  const grantId = requireArg(cmd, rest[0], `give the grant id: gatehouse impersonate ${sub} <grant-id>${sub === 'revoke' ? ' --reason "..."' : ''}`);
  noMoreArgs(cmd, rest, 1);
  const reason = sub === 'revoke' ? requireText(cmd, '--reason', a.reason, 'why the grant is revoked; it is recorded on the grant and audited') : '';
  const bearer = sessionToken(ctx.env);
  return withImpersonation(ctx.settings, async (c) => {
    const g =
      sub === 'end'
        ? needGrant('EndImpersonation', (await rpc('EndImpersonation', call(c, c.endImpersonation, { grantId }, { bearer }), grantHint)).grant)
        : needGrant('RevokeImpersonation', (await rpc('RevokeImpersonation', call(c, c.revokeImpersonation, { grantId, reason }, { bearer }), grantHint)).grant);
    if (a.json) {
      ctx.out(JSON.stringify(impersonationV1.Grant.toJSON(g)));
      return 0;
    }
    ctx.out(`${sub === 'end' ? 'Ended' : 'Revoked'} grant ${g.grantId} (${g.targetUserId} in ${g.customerDomain}): ${grantStateName(g.state)}; its token is refused from now on.`);
    for (const line of grantFields(g, ctx.clock ?? systemClock)) ctx.out(line);
    return 0;
  });
}

/** `gatehouse impersonate list [--account ID] [--domain D] [--limit N] [--json]`: active grants, soonest expiry first. */
async function listActive(ctx: CommandContext, rest: string[], a: ImpersonationArgs): Promise<number> {
  const cmd = 'impersonate list';
  const clock = ctx.clock ?? systemClock;
  noMoreArgs(cmd, rest, 0);
  const accountId = a.account === undefined ? undefined : requireText(cmd, '--account', a.account, 'an account id');
  const customerDomain = a.domain === undefined ? undefined : domainOf(cmd, a.domain);
  const limit = limitOf(cmd, a);
  const bearer = sessionToken(ctx.env);
  return withImpersonation(ctx.settings, async (c) => {
    const grants = await allPages(
      async (pageToken, wanted) => {
        const req = impersonationV1.ListActiveRequest.fromPartial({ accountId, customerDomain, pageSize: pageSize(wanted), pageToken });
        const r = await rpc('ListActive', call(c, c.listActive, req, { bearer }), sessionHint);
        return { items: r.grants, next: r.nextPageToken };
      },
      'with --account, --domain or --limit',
      limit,
    );
    if (a.json) {
      ctx.out(JSON.stringify(grants.map((g) => impersonationV1.Grant.toJSON(g))));
      return 0;
    }
    if (grants.length === 0) {
      ctx.out('no active grants');
      return 0;
    }
    const rows = grants.map((g) => [g.grantId, who(g.employee), g.targetUserId, g.customerDomain, reasonName(g.reason), g.ticketRef || '-', iso(g.startedAt), at(g.expiresAt, clock)]);
    for (const line of table([['ID', 'EMPLOYEE', 'TARGET', 'DOMAIN', 'REASON', 'TICKET', 'STARTED', 'EXPIRES'], ...rows])) ctx.out(line);
    return 0;
  });
}

/** `gatehouse impersonate status [--account ID] [--json]`: locked or not, blocked domains, active grants. */
async function status(ctx: CommandContext, rest: string[], a: ImpersonationArgs): Promise<number> {
  const cmd = 'impersonate status';
  const clock = ctx.clock ?? systemClock;
  noMoreArgs(cmd, rest, 0);
  const accountId = a.account === undefined ? undefined : requireText(cmd, '--account', a.account, 'an account id');
  const bearer = sessionToken(ctx.env);
  return withImpersonation(ctx.settings, async (c) => {
    const res = await rpc('GetImpersonationStatus', call(c, c.getImpersonationStatus, { accountId }, { bearer }), sessionHint);
    const s = needStatus('GetImpersonationStatus', res.status);
    if (a.json) {
      ctx.out(JSON.stringify(impersonationV1.ImpersonationStatus.toJSON(s)));
      return 0;
    }
    for (const line of statusFields(s, clock)) ctx.out(line);
    if (s.locked) ctx.out(`Only the security officer lifts the lock: \`gatehouse impersonate unlock ${s.employee?.accountId || '<account-id>'} --note "..."\`.`);
    // Only the employee can justify their own anomaly.
    if (accountId === undefined) for (const b of s.blockedDomains) ctx.out(`Blocked in ${b.customerDomain} until anomaly ${b.anomalyId} is justified and accepted: \`gatehouse anomalies justify ${b.anomalyId} --justification "..." --ticket <ref>\`.`);
    return 0;
  });
}

/** `gatehouse impersonate unlock <account-id> --note "..."` (officer). */
async function unlock(ctx: CommandContext, rest: string[], a: ImpersonationArgs): Promise<number> {
  const cmd = 'impersonate unlock';
  const accountId = requireArg(cmd, rest[0], 'give the account id: gatehouse impersonate unlock <account-id> --note "..."');
  noMoreArgs(cmd, rest, 1);
  const note = requireText(cmd, '--note', a.note, 'why the lock is lifted; it is audited');
  const bearer = sessionToken(ctx.env);
  return withImpersonation(ctx.settings, async (c) => {
    const res = await rpc('UnlockImpersonation', call(c, c.unlockImpersonation, { accountId, note }, { bearer }), sessionHint);
    const s = needStatus('UnlockImpersonation', res.status);
    if (a.json) {
      ctx.out(JSON.stringify(impersonationV1.ImpersonationStatus.toJSON(s)));
      return 0;
    }
    ctx.out(`Unlocked ${employeeText(s.employee)}: ${standingText(s, ctx.clock ?? systemClock)}.`);
    for (const line of statusFields(s, ctx.clock ?? systemClock)) ctx.out(line);
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// gatehouse anomalies ...

/** `gatehouse anomalies list|justify|resolve`. */
export async function anomalies(ctx: CommandContext, sub: string | undefined, rest: string[], a: ImpersonationArgs): Promise<number> {
  if (sub === 'list') return listAnomalies(ctx, rest, a);
  if (sub === 'justify') return justify(ctx, rest, a);
  if (sub === 'resolve') return resolve(ctx, rest, a);
  throw new UsageError(`anomalies: unknown subcommand ${JSON.stringify(sub ?? '')} (list, justify, resolve)`);
}

/** `gatehouse anomalies list [--state S ...] [--account ID] [--domain D] [--limit N] [--json]`: newest first. */
async function listAnomalies(ctx: CommandContext, rest: string[], a: ImpersonationArgs): Promise<number> {
  const cmd = 'anomalies list';
  noMoreArgs(cmd, rest, 0);
  const states = namedValues(cmd, '--state', a.state ?? [], ANOMALY_STATES, 'open, justified, accepted or rejected');
  const accountId = a.account === undefined ? undefined : requireText(cmd, '--account', a.account, 'an account id');
  const customerDomain = a.domain === undefined ? undefined : domainOf(cmd, a.domain);
  const limit = limitOf(cmd, a);
  const bearer = sessionToken(ctx.env);
  return withImpersonation(ctx.settings, async (c) => {
    const list = await allPages(
      async (pageToken, wanted) => {
        const req = impersonationV1.ListAnomaliesRequest.fromPartial({ states, accountId, customerDomain, pageSize: pageSize(wanted), pageToken });
        const r = await rpc('ListAnomalies', call(c, c.listAnomalies, req, { bearer }), sessionHint);
        return { items: r.anomalies, next: r.nextPageToken };
      },
      'with --state, --account, --domain or --limit',
      limit,
    );
    if (a.json) {
      ctx.out(JSON.stringify(list.map((x) => impersonationV1.Anomaly.toJSON(x))));
      return 0;
    }
    if (list.length === 0) {
      ctx.out('no anomalies');
      return 0;
    }
    const rows = list.map((x) => [x.anomalyId, who(x.employee), x.customerDomain, anomalyStateName(x.state), iso(x.openedAt), String(x.targetUserIds.length)]);
    for (const line of table([['ID', 'EMPLOYEE', 'DOMAIN', 'STATE', 'OPENED', 'TARGETS'], ...rows])) ctx.out(line);
    return 0;
  });
}

/** `gatehouse anomalies justify <anomaly-id> (--justification T | --justification-file F) --ticket REF [--ticket REF2 ...]`. */
async function justify(ctx: CommandContext, rest: string[], a: ImpersonationArgs): Promise<number> {
  const cmd = 'anomalies justify';
  const anomalyId = requireArg(cmd, rest[0], 'give the anomaly id: gatehouse anomalies justify <anomaly-id> --justification "..." --ticket <ref> [--ticket <ref> ...]');
  noMoreArgs(cmd, rest, 1);
  const justification = justificationOf(cmd, a, 'why the burst of impersonations was legitimate');
  const ticketRefs = ticketsOf(cmd, a, 'one or more tickets that support the justification; repeat --ticket for more');
  const bearer = sessionToken(ctx.env);
  return withImpersonation(ctx.settings, async (c) => {
    const res = await rpc('JustifyAnomaly', call(c, c.justifyAnomaly, { anomalyId, justification, ticketRefs }, { bearer }), (err) =>
      err.code === grpc.status.FAILED_PRECONDITION ? 'Only an OPEN anomaly can be justified: `gatehouse anomalies list --state open`.' : sessionHint(err),
    );
    const x = needAnomaly('JustifyAnomaly', res.anomaly);
    if (a.json) {
      ctx.out(JSON.stringify(impersonationV1.Anomaly.toJSON(x)));
      return 0;
    }
    ctx.out(`Anomaly ${x.anomalyId} is ${anomalyStateName(x.state)}: it waits for the security officer; impersonation in ${x.customerDomain} stays blocked until it is accepted.`);
    return 0;
  });
}

/** `gatehouse anomalies resolve <anomaly-id> (--accept | --reject) --note "..."` (officer). */
async function resolve(ctx: CommandContext, rest: string[], a: ImpersonationArgs): Promise<number> {
  const cmd = 'anomalies resolve';
  const clock = ctx.clock ?? systemClock;
  const anomalyId = requireArg(cmd, rest[0], 'give the anomaly id: gatehouse anomalies resolve <anomaly-id> (--accept | --reject) --note "..."');
  noMoreArgs(cmd, rest, 1);
  if (Boolean(a.accept) === Boolean(a.reject)) {
    throw new UsageError(`${cmd}: give exactly one of --accept (the justification holds: lift the block) or --reject (lock the employee out of impersonation and revoke their grants)`);
  }
  const resolution = a.accept ? AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT : AnomalyResolution.ANOMALY_RESOLUTION_REJECT;
  const note = requireText(cmd, '--note', a.note, 'the reason for the decision; it is audited');
  const bearer = sessionToken(ctx.env);
  return withImpersonation(ctx.settings, async (c) => {
    const res = await rpc('ResolveAnomaly', call(c, c.resolveAnomaly, { anomalyId, resolution, note }, { bearer }), sessionHint);
    const x = needAnomaly('ResolveAnomaly', res.anomaly);
    if (a.json) {
      ctx.out(JSON.stringify({ anomaly: impersonationV1.Anomaly.toJSON(x), status: res.status ? impersonationV1.ImpersonationStatus.toJSON(res.status) : null }));
      return 0;
    }
    ctx.out(`Anomaly ${x.anomalyId} ${anomalyStateName(x.state)}.`);
    for (const line of anomalyFields(x, clock)) ctx.out(line);
    if (res.status) ctx.out(`${employeeText(res.status.employee ?? x.employee)}: ${standingText(res.status, clock)}.`);
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// gatehouse access-log

/** `gatehouse access-log <domain> [--since T] [--until T] [--limit N] [--json]`: the customer-visible record of staff access, newest first. */
export async function accessLog(ctx: CommandContext, rest: string[], a: ImpersonationArgs): Promise<number> {
  const cmd = 'access-log';
  const customerDomain = requireArg(cmd, rest[0], 'give the customer domain: gatehouse access-log <domain> [--since T] [--until T] [--limit N] [--json]').toLowerCase();
  noMoreArgs(cmd, rest, 1);
  const since = a.since === undefined ? undefined : parseTime(cmd, '--since', a.since);
  const until = a.until === undefined ? undefined : parseTime(cmd, '--until', a.until);
  if (since && until && since >= until) throw new UsageError(`${cmd}: --since must be before --until`);
  const started = since || until ? { startTime: since, endTime: until } : undefined;
  const limit = limitOf(cmd, a);
  const bearer = sessionToken(ctx.env);
  return withImpersonation(ctx.settings, async (c) => {
    const entries = await allPages(
      async (pageToken, wanted) => {
        const req = impersonationV1.ListAccessForDomainRequest.fromPartial({ customerDomain, started, pageSize: pageSize(wanted), pageToken });
        const r = await rpc('ListAccessForDomain', call(c, c.listAccessForDomain, req, { bearer }), sessionHint);
        return { items: r.entries, next: r.nextPageToken };
      },
      'with --since, --until or --limit',
      limit,
    );
    if (a.json) {
      ctx.out(JSON.stringify(entries.map((e) => impersonationV1.AccessLogEntry.toJSON(e))));
      return 0;
    }
    if (entries.length === 0) {
      ctx.out(`no staff access to ${customerDomain}${started ? ' in that time range' : ''}`);
      return 0;
    }
    entries.forEach((e, i) => {
      if (i > 0) ctx.out('');
      for (const line of fields([
        ['started', iso(e.startedAt)],
        ['ended', iso(e.endedAt)],
        ['state', grantStateName(e.state)],
        ['employee', `${e.employeeDisplayName || '-'} (${roleName(e.employeeRole)})`],
        ['target', e.targetUserId],
        ['reason', reasonName(e.reason)],
        ['ticket', e.ticketRef || '-'],
        ['justification', e.justification || '-'],
        ['touched', touchedText(e.touched)],
        ['grant', e.grantId],
      ])) {
        ctx.out(line);
      }
    });
    return 0;
  });
}
