import type {
  AccessLogEntryView,
  AccountView,
  AlertView,
  AnomalyView,
  AuditEntryView,
  EntryView,
  GrantView,
  ImpersonationLockView,
  MeView,
  Role,
  SessionView,
} from '@gatehouse/console-api';
import { allowlistV1, auditEventV1, auditV1, commonV1, identityV1, impersonationV1 } from '@gatehouse/contracts';

/**
 * Proto → view translation: enum names lower-cased without their prefix, times as ISO strings,
 * people by display name (the access log never shows an e-mail, issue 13 item 5).
 */
export const iso = (d: Date | undefined): string => (d && d.getTime() > 0 ? d.toISOString() : '');

/** `ROLE_SECURITY_OFFICER` → `security_officer` for an enum's JSON name and its prefix. */
export function enumView(json: string, prefix: string): string {
  if (json.endsWith('_UNSPECIFIED') || json === 'UNRECOGNIZED') return '';
  return (json.startsWith(prefix) ? json.slice(prefix.length) : json).toLowerCase();
}

/** The enum value of a view name (`security_officer` → ROLE_SECURITY_OFFICER), or undefined if there is none. */
export function enumValue<E extends number>(view: string, prefix: string, fromJSON: (o: unknown) => E): E | undefined {
  if (!/^[a-z_]{1,64}$/.test(view)) return undefined;
  const v = fromJSON(`${prefix}${view.toUpperCase()}`);
  return v === -1 || v === 0 ? undefined : v;
}

export const roleView = (r: commonV1.Role): Role => enumView(commonV1.roleToJSON(r), 'ROLE_') as Role;
export const rolesView = (roles: readonly commonV1.Role[]): Role[] => roles.map(roleView).filter((r) => r !== ('' as Role));
const who = (p: commonV1.Principal | undefined): string => p?.displayName || p?.accountId || '';

export function meView(account: identityV1.Account | undefined, s: identityV1.SessionInfo | undefined, dailyCutoffAt: Date): MeView {
  const p = s?.principal ?? account?.principal;
  return {
    accountId: p?.accountId ?? '',
    email: p?.email ?? '',
    displayName: p?.displayName ?? '',
    roles: rolesView(p?.roles ?? []),
    scope: s?.scope === identityV1.SessionScope.SESSION_SCOPE_REGISTER_IP_ONLY ? 'register_ip_only' : 'full',
    sessionId: s?.sessionId ?? '',
    pinnedIp: s?.pinnedIp ?? '',
    expiresAt: iso(s?.expiresAt),
    absoluteExpiresAt: iso(s?.absoluteExpiresAt),
    dailyCutoffAt: dailyCutoffAt.toISOString(),
  };
}

export function sessionView(r: identityV1.SessionRecord, currentId: string): SessionView {
  const status = enumView(identityV1.sessionStatusToJSON(r.status), 'SESSION_STATUS_');
  return {
    sessionId: r.info?.sessionId ?? '',
    status: status === 'revoked' || status === 'expired' ? status : 'active',
    scope: r.info?.scope === identityV1.SessionScope.SESSION_SCOPE_REGISTER_IP_ONLY ? 'register_ip_only' : 'full',
    pinnedIp: r.info?.pinnedIp ?? '',
    issuedAt: iso(r.info?.issuedAt),
    expiresAt: iso(r.info?.expiresAt),
    current: r.info?.sessionId === currentId,
  };
}

export function grantView(g: impersonationV1.Grant | undefined): GrantView {
  return {
    grantId: g?.grantId ?? '',
    employee: who(g?.employee),
    targetUserId: g?.targetUserId ?? '',
    customerDomain: g?.customerDomain ?? '',
    reason: enumView(impersonationV1.impersonationReasonToJSON(g?.reason ?? 0), 'IMPERSONATION_REASON_') as GrantView['reason'],
    justification: g?.justification ?? '',
    ticketRef: g?.ticketRef ?? '',
    startedAt: iso(g?.startedAt),
    expiresAt: iso(g?.expiresAt),
    state: (enumView(impersonationV1.grantStateToJSON(g?.state ?? 0), 'GRANT_STATE_') || 'active') as GrantView['state'],
  };
}

export function anomalyView(a: impersonationV1.Anomaly | undefined): AnomalyView {
  const rule = a?.rule;
  const minutes = rule?.window ? Math.round(Number(rule.window.seconds) / 60) : 0;
  return {
    anomalyId: a?.anomalyId ?? '',
    employee: who(a?.employee),
    employeeAccountId: a?.employee?.accountId ?? '',
    customerDomain: a?.customerDomain ?? '',
    ruleSummary: rule ? `${rule.ruleId}: ${rule.distinctTargets} distinct customer users within ${minutes} minutes` : '',
    targetUserIds: a?.targetUserIds ?? [],
    refusedTargetUserId: a?.refusedTargetUserId ?? '',
    openedAt: iso(a?.openedAt),
    state: (enumView(impersonationV1.anomalyStateToJSON(a?.state ?? 0), 'ANOMALY_STATE_') || 'open') as AnomalyView['state'],
    justification: a?.justification ?? '',
    ticketRefs: a?.ticketRefs ?? [],
    resolutionNote: a?.resolutionNote ?? '',
  };
}

export function accountView(a: identityV1.Account | undefined): AccountView {
  return {
    accountId: a?.principal?.accountId ?? '',
    email: a?.principal?.email ?? '',
    displayName: a?.principal?.displayName ?? '',
    state: a?.state === identityV1.AccountState.ACCOUNT_STATE_ACTIVE ? 'active' : a?.state === identityV1.AccountState.ACCOUNT_STATE_PENDING_APPROVAL ? 'pending' : 'suspended',
    roles: rolesView(a?.principal?.roles ?? []),
    locked: a?.lockState === identityV1.LockState.LOCK_STATE_LOCKED,
    lockedAt: iso(a?.lockedAt),
    phoneNumberMask: a?.phoneNumberMask ?? '',
    createdAt: iso(a?.createdAt),
  };
}

export function alertView(a: auditV1.Alert | undefined): AlertView {
  return {
    alertId: a?.alertId ?? '',
    ruleId: a?.ruleId ?? '',
    ruleName: a?.ruleName ?? '',
    severity: (enumView(auditV1.alertSeverityToJSON(a?.severity ?? 0), 'ALERT_SEVERITY_') || 'low') as AlertView['severity'],
    state: a?.state === auditV1.AlertState.ALERT_STATE_ACKNOWLEDGED ? 'acknowledged' : 'open',
    summary: a?.summary ?? '',
    count: Number(a?.count ?? 0),
    raisedAt: iso(a?.raisedAt),
    acknowledgedBy: who(a?.acknowledgedBy),
    acknowledgementNote: a?.acknowledgementNote ?? '',
  };
}

export function lockView(s: impersonationV1.ImpersonationStatus | undefined): ImpersonationLockView {
  return {
    accountId: s?.employee?.accountId ?? '',
    employee: who(s?.employee),
    locked: s?.locked ?? false,
    lockingAnomalyId: s?.lockingAnomalyId ?? '',
    blockedDomains: (s?.blockedDomains ?? []).map((b) => b.customerDomain),
  };
}

export function entryView(e: allowlistV1.Entry | undefined): EntryView {
  return {
    entryId: e?.entryId ?? '',
    cidr: e?.cidr ?? '',
    label: e?.label ?? '',
    scope: (enumView(allowlistV1.entryScopeToJSON(e?.scope ?? 0), 'ENTRY_SCOPE_') || 'all') as EntryView['scope'],
    expiresAt: iso(e?.expiresAt),
    createdBy: who(e?.createdBy),
    reason: e?.reason ?? '',
    createdAt: iso(e?.createdAt),
  };
}

/** One audit row: the typed fields, and the details as `key=value` (audit never holds a secret in clear). */
export function auditEntryView(e: auditV1.LogEntry): AuditEntryView {
  const ev = e.event;
  const details = Object.entries(ev?.details ?? {}).map(([k, v]) => `${k}=${v}`);
  const hashed = Object.keys(ev?.hashedDetails ?? {}).map((k) => `${k}=(hashed)`);
  return {
    sequence: Number(e.sequence),
    occurredAt: iso(ev?.occurredAt),
    appendedAt: iso(e.appendedAt),
    service: enumView(auditEventV1.serviceToJSON(ev?.service ?? 0), 'SERVICE_'),
    action: enumView(auditEventV1.actionToJSON(ev?.action ?? 0), 'ACTION_'),
    outcome: enumView(auditEventV1.outcomeToJSON(ev?.outcome ?? 0), 'OUTCOME_'),
    actor: ev?.actor ? ev.actor.displayName || ev.actor.id : '',
    subject: ev?.subject ? `${enumView(auditEventV1.subjectKindToJSON(ev.subject.kind), 'SUBJECT_KIND_')}:${ev.subject.id}` : '',
    customerDomain: ev?.customerDomain ?? '',
    sourceIp: ev?.sourceIp ?? '',
    summary: [...details, ...hashed].join(' ').slice(0, 500),
  };
}

export function accessLogView(e: impersonationV1.AccessLogEntry): AccessLogEntryView {
  return {
    grantId: e.grantId,
    employee: e.employeeDisplayName,
    employeeRole: e.employeeRole ? roleView(e.employeeRole) : '',
    targetUserId: e.targetUserId,
    reason: enumView(impersonationV1.impersonationReasonToJSON(e.reason), 'IMPERSONATION_REASON_') as AccessLogEntryView['reason'],
    justification: e.justification,
    ticketRef: e.ticketRef,
    startedAt: iso(e.startedAt),
    endedAt: iso(e.endedAt),
    state: (enumView(impersonationV1.grantStateToJSON(e.state), 'GRANT_STATE_') || 'active') as AccessLogEntryView['state'],
    touched: e.touched.map((t) => `${Number(t.count)} ${t.resourceType} ${enumView(impersonationV1.accessOperationToJSON(t.operation), 'ACCESS_OPERATION_')}`),
  };
}
