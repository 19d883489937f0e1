import { InvalidArgumentError } from '@gatehouse/core';
import { MAX_THRESHOLD, MAX_WINDOW_MS, MIN_WINDOW_MS, validateRule } from './alert-rule.js';
import type { AlertRule, AlertSeverity, FieldRef } from './alert-rule.js';
import { clip, formatWindow, plural } from './summary.js';
import type { SummaryInput } from './summary.js';

/**
 * The rules every deployment runs (issue 3 item 6, DESIGN.md §5 "Rules", P11). Their shape is
 * fixed here; config may only change threshold, window and enabled, so an operator can tune
 * noise without being able to quietly change what a rule means.
 *
 * Each rule's JSDoc states its EVENT CONTRACT: what the emitting service must send for the rule
 * to see it. The emitting services follow these contracts; a change here is a contract change.
 * Common to all: one audit event per occurrence (no client-side aggregation for an identified
 * account), and ids in the event's clear fields, never only in hashed_details.
 */

/** Ids of the built-in rules, in the order ListAlertRules shows them. */
export const BUILT_IN_RULE_IDS = [
  'otp.failures_per_account',
  'otp.replay',
  'allowlist.denials_per_account',
  'secrets.release_redeemed_twice',
  'secrets.release_redeem_misuse',
  'secrets.release_expired_unredeemed',
  'impersonation.anomaly',
  'identity.new_ip_live_session',
  'identity.account_locked',
  'identity.role_change',
] as const;

/** Id of a built-in rule. */
export type BuiltInRuleId = (typeof BUILT_IN_RULE_IDS)[number];

/** The parameters of a built-in rule that config may override; absent keys keep the default. */
export interface BuiltInRuleSettings {
  readonly enabled?: boolean;
  readonly threshold?: number;
  readonly windowMs?: number;
}

/** Per-rule overrides, keyed by rule id; a rule not named runs with its defaults. */
export type BuiltInRulesConfig = { readonly [K in BuiltInRuleId]?: BuiltInRuleSettings };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const SUBJECT_ID: FieldRef = { field: 'EVENT_FIELD_SUBJECT_ID' };
const ACTOR_ID: FieldRef = { field: 'EVENT_FIELD_ACTOR_ID' };

/** A built-in rule's fixed shape plus its default parameters. */
interface BuiltInDefinition {
  readonly name: string;
  readonly description: string;
  readonly severity: AlertSeverity;
  readonly services: readonly string[];
  readonly actions: readonly string[];
  readonly outcomes: readonly string[];
  readonly environments: readonly string[];
  readonly detailMatches: Readonly<Record<string, string>>;
  readonly groupBy: readonly FieldRef[];
  readonly windowMs: number;
  readonly threshold: number;
  readonly summary: (input: SummaryInput) => string;
}

/** The group's first value (the account, release or anomaly id the rule groups by). */
const groupId = (input: SummaryInput): string => clip(input.groupValues[0] ?? '');

const DEFINITIONS: { readonly [K in BuiltInRuleId]: BuiltInDefinition } = {
  /**
   * OTP failures per account: a burst of wrong codes is online guessing (or a stolen first
   * factor being pushed through the second).
   *
   * Event contract (IdentityService): every checked code that is wrong emits
   * ACTION_IDENTITY_OTP_VERIFY (TOTP/HOTP), ACTION_IDENTITY_SMS_VERIFY (SMS) or
   * ACTION_IDENTITY_HOTP_RESYNC (resync) with OUTCOME_FAILURE, and
   * subject = { kind: SUBJECT_KIND_ACCOUNT, id: <account id> } — the account, not the
   * credential or the sign-in, so all second factors of one account count together.
   * A refusal because the account is locked is OUTCOME_DENIED and is not counted.
   */
  'otp.failures_per_account': {
    name: 'OTP failures per account',
    description: 'Failed OTP, SMS or HOTP-resync code checks for one account within the window (online guessing).',
    severity: 'ALERT_SEVERITY_HIGH',
    services: ['SERVICE_IDENTITY'],
    actions: ['ACTION_IDENTITY_OTP_VERIFY', 'ACTION_IDENTITY_SMS_VERIFY', 'ACTION_IDENTITY_HOTP_RESYNC'],
    outcomes: ['OUTCOME_FAILURE'],
    environments: [],
    detailMatches: {},
    groupBy: [SUBJECT_ID],
    windowMs: 15 * MINUTE,
    threshold: 5,
    summary: (i) => `${plural(i.count, 'failed OTP attempt')} for account ${groupId(i)} within ${formatWindow(i.rule.windowMs)}`,
  },
  /**
   * OTP replay: an already used (or older) code was presented, which means someone else saw
   * the code (ASVS 2.8.5).
   *
   * Event contract (IdentityService): each refused replay emits ACTION_IDENTITY_OTP_REPLAY
   * (any outcome; OUTCOME_DENIED expected) with subject = { kind: SUBJECT_KIND_ACCOUNT,
   * id: <account id> }. Never the code itself. Replays on one account within the window raise
   * one alert.
   */
  'otp.replay': {
    name: 'OTP code replay',
    description: 'An already used OTP code was presented again: the code was observed by someone else.',
    severity: 'ALERT_SEVERITY_MEDIUM',
    services: ['SERVICE_IDENTITY'],
    actions: ['ACTION_IDENTITY_OTP_REPLAY'],
    outcomes: [],
    environments: [],
    detailMatches: {},
    groupBy: [SUBJECT_ID],
    windowMs: 15 * MINUTE,
    threshold: 1,
    summary: (i) =>
      i.count === 1
        ? `OTP code replay refused for account ${groupId(i)}`
        : `${plural(i.count, 'OTP code replay')} refused for account ${groupId(i)} within ${formatWindow(i.rule.windowMs)}`,
  },
  /**
   * Allowlist denials per account: a known account repeatedly calling from IPs that are not
   * allowed (stolen session used from elsewhere, or a misconfigured VPN worth a look).
   *
   * Event contract (AllowlistService): each denied Check emits ACTION_ALLOWLIST_CHECK_DENY
   * (OUTCOME_DENIED) with details.claimed_account_id = <account id> when the check named an
   * account, actor = the calling backend (ACTOR_KIND_SERVICE: the account is only what that
   * backend claims, issue 17 item 2), and source_ip = the denied IP. Denials for an identified
   * account are never aggregated into one event. Anonymous denials (no claimed account; these
   * may be aggregated under floods) are not counted: an empty group key is skipped, so
   * unrelated anonymous callers never merge into one "account".
   */
  'allowlist.denials_per_account': {
    name: 'Allowlist denials per account',
    description: 'Allowlist checks denied for one identified account within the window.',
    severity: 'ALERT_SEVERITY_MEDIUM',
    services: ['SERVICE_ALLOWLIST'],
    actions: ['ACTION_ALLOWLIST_CHECK_DENY'],
    outcomes: [],
    environments: [],
    detailMatches: {},
    groupBy: [{ field: 'EVENT_FIELD_DETAIL', detailKey: 'claimed_account_id' }],
    windowMs: 10 * MINUTE,
    threshold: 10,
    summary: (i) =>
      `${plural(i.count, 'allowlist denial')} for account ${groupId(i)} within ${formatWindow(i.rule.windowMs)}` +
      (i.event.sourceIp === '' ? '' : ` (last from ${clip(i.event.sourceIp)}`) +
      (i.event.actor.id === '' ? '' : `${i.event.sourceIp === '' ? ' (' : ', '}claimed by ${clip(i.event.actor.id)}`) +
      (i.event.sourceIp === '' && i.event.actor.id === '' ? '' : ')'),
  },
  /**
   * A release redeemed twice: a single-use release token was presented after its redemption,
   * so the token leaked or a deployment is replaying it.
   *
   * Event contract (SecretsService): a refused redemption emits
   * ACTION_SECRETS_RELEASE_REDEEM_REFUSED with details.reason = "already_redeemed" (exactly)
   * and subject = { kind: SUBJECT_KIND_RELEASE, id: <release id> }. Never the token.
   */
  'secrets.release_redeemed_twice': {
    name: 'Release redeemed twice',
    description: 'A release was presented for redemption after it had already been redeemed: its token leaked or is replayed.',
    severity: 'ALERT_SEVERITY_CRITICAL',
    services: ['SERVICE_SECRETS'],
    actions: ['ACTION_SECRETS_RELEASE_REDEEM_REFUSED'],
    outcomes: [],
    environments: [],
    detailMatches: { reason: 'already_redeemed' },
    groupBy: [SUBJECT_ID],
    windowMs: 24 * HOUR,
    threshold: 1,
    summary: (i) =>
      `Release ${groupId(i)} was presented again after it was redeemed` +
      (i.count > 1 ? ` (${i.count} times within ${formatWindow(i.rule.windowMs)})` : ''),
  },
  /**
   * A release token misused: presented after it expired or was revoked, from outside its bound
   * CIDR or with another client certificate than the one it is bound to, or a token that is
   * unknown or malformed. Any of these means the token travelled where it should not.
   *
   * Event contract (SecretsService): such a refused redemption emits
   * ACTION_SECRETS_RELEASE_REDEEM_REFUSED with details.class = "misuse" (exactly), details.reason
   * naming the case, and subject = { kind: SUBJECT_KIND_RELEASE, id: <release id> } when the
   * token names a release (none for an unknown or malformed token). A second redemption is
   * class "replay" (the rule above), so one presentation never raises two alerts.
   */
  'secrets.release_redeem_misuse': {
    name: 'Release token misused',
    description: 'A release token was presented expired, revoked, unknown, or outside its CIDR or certificate binding.',
    severity: 'ALERT_SEVERITY_HIGH',
    services: ['SERVICE_SECRETS'],
    actions: ['ACTION_SECRETS_RELEASE_REDEEM_REFUSED'],
    outcomes: [],
    environments: [],
    detailMatches: { class: 'misuse' },
    groupBy: [SUBJECT_ID],
    windowMs: 24 * HOUR,
    threshold: 1,
    summary: (i) =>
      (!i.event.subject ? 'An unknown or malformed release token was presented' : `Release ${groupId(i)} was presented against its terms`) +
      (i.event.details['reason'] ? ` (${clip(i.event.details['reason'])})` : '') +
      (i.event.sourceIp === '' ? '' : ` from ${clip(i.event.sourceIp)}`),
  },
  /**
   * A release that expired unredeemed: secrets were approved for a deployment that never
   * took them, so the approval was unneeded or the deployment failed.
   *
   * Event contract (SecretsService): when a release passes its expiry without redemption, the
   * expiry job emits ACTION_SECRETS_RELEASE_EXPIRED_UNREDEEMED once (actor ACTOR_KIND_SYSTEM)
   * with subject = { kind: SUBJECT_KIND_RELEASE, id: <release id> }.
   */
  'secrets.release_expired_unredeemed': {
    name: 'Release expired unredeemed',
    description: 'An approved release expired without being redeemed.',
    severity: 'ALERT_SEVERITY_HIGH',
    services: ['SERVICE_SECRETS'],
    actions: ['ACTION_SECRETS_RELEASE_EXPIRED_UNREDEEMED'],
    outcomes: [],
    environments: [],
    detailMatches: {},
    groupBy: [SUBJECT_ID],
    windowMs: 24 * HOUR,
    threshold: 1,
    summary: (i) => `Release ${groupId(i)} expired without being redeemed`,
  },
  /**
   * Impersonation anomaly (P11's canonical case): the impersonation burst rule opened an
   * anomaly the employee must justify; the officer must see it at once.
   *
   * Event contract (ImpersonationService): each anomaly opened emits
   * ACTION_IMPERSONATION_ANOMALY once with subject = { kind: SUBJECT_KIND_ANOMALY,
   * id: <anomaly id> }, actor = the employee ({ kind: ACTOR_KIND_EMPLOYEE, id: <account id> })
   * and customer_domain = the domain concerned. Each anomaly id raises its own alert.
   */
  'impersonation.anomaly': {
    name: 'Impersonation anomaly',
    description: 'An impersonation anomaly was opened (several users of one customer domain impersonated in a short time).',
    severity: 'ALERT_SEVERITY_CRITICAL',
    services: ['SERVICE_IMPERSONATION'],
    actions: ['ACTION_IMPERSONATION_ANOMALY'],
    outcomes: [],
    environments: [],
    detailMatches: {},
    groupBy: [SUBJECT_ID],
    windowMs: HOUR,
    threshold: 1,
    summary: (i) =>
      `Impersonation anomaly ${groupId(i)}` +
      (i.event.actor.id === '' ? '' : ` for employee ${clip(i.event.actor.id)}`) +
      (i.event.customerDomain === '' ? '' : ` on customer domain ${clip(i.event.customerDomain)}`),
  },
  /**
   * New IP for a LIVE session: an account reaching production data from an IP it never used
   * is the first sign of a stolen session or a stolen laptop.
   *
   * Event contract: IdentityService emits ACTION_IDENTITY_SIGN_IN_NEW_IP when a session reaching
   * LIVE is issued to an IP never seen for the account; AllowlistService emits
   * ACTION_ALLOWLIST_DAILY_IP_NEW_FOR_LIVE when an account holding a LIVE role registers a daily
   * IP it never used. Both with environment = ENVIRONMENT_LIVE, actor = { kind:
   * ACTOR_KIND_EMPLOYEE, id: <account id> } (the account itself, even when the officer acts
   * for it) and source_ip = the new IP. One alert per account per window: a second new IP in
   * the window is folded into the open alert.
   */
  'identity.new_ip_live_session': {
    name: 'New IP for a LIVE session',
    description: 'An account reached LIVE, or registered a daily IP for LIVE, from an IP it never used before.',
    severity: 'ALERT_SEVERITY_HIGH',
    services: ['SERVICE_IDENTITY', 'SERVICE_ALLOWLIST'],
    actions: ['ACTION_IDENTITY_SIGN_IN_NEW_IP', 'ACTION_ALLOWLIST_DAILY_IP_NEW_FOR_LIVE'],
    outcomes: [],
    environments: ['ENVIRONMENT_LIVE'],
    detailMatches: {},
    groupBy: [ACTOR_ID],
    windowMs: HOUR,
    threshold: 1,
    summary: (i) => {
      const ip = i.event.sourceIp === '' ? '' : ` ${clip(i.event.sourceIp)}`;
      return i.event.action === 'ACTION_ALLOWLIST_DAILY_IP_NEW_FOR_LIVE'
        ? `Account ${groupId(i)} registered a new daily IP${ip} for LIVE`
        : `Account ${groupId(i)} reached LIVE from a new IP${ip}`;
    },
  },
  /**
   * An account locked after too many failed second-factor attempts (issue 13 item 1): someone
   * holds the first factor, or the employee lost the device. Identity has revoked the account's
   * sessions and impersonation its grants; the officer finds out why before unlocking.
   *
   * Event contract: IdentityService emits ACTION_IDENTITY_ACCOUNT_LOCK once per lockout, with
   * subject = { kind: SUBJECT_KIND_ACCOUNT, id: <account id> }.
   */
  'identity.account_locked': {
    name: 'Account locked',
    description: 'An account locked after too many failed second-factor attempts; its sessions and impersonation grants were revoked.',
    severity: 'ALERT_SEVERITY_HIGH',
    services: ['SERVICE_IDENTITY'],
    actions: ['ACTION_IDENTITY_ACCOUNT_LOCK'],
    outcomes: [],
    environments: [],
    detailMatches: {},
    groupBy: [SUBJECT_ID],
    windowMs: HOUR,
    threshold: 1,
    summary: (i) => `Account ${groupId(i)} locked after too many failed second-factor attempts; its sessions were revoked`,
  },
  /**
   * Role changes (issue 13 item 2): every grant or change of roles is worth a look, and the
   * privileged ones (security_officer, manager, team_lead) go through the two-person rule.
   *
   * Event contract (IdentityService): each step, with subject = { kind: SUBJECT_KIND_ACCOUNT,
   * id: <account id> } and OUTCOME_SUCCESS: a request waiting for a second officer
   * (ACTION_IDENTITY_ROLE_CHANGE_REQUEST), its approval (ACTION_IDENTITY_ROLE_CHANGE_APPROVE),
   * and the change applied (ACTION_IDENTITY_ROLES_SET, ACTION_IDENTITY_ACCOUNT_APPROVE, or
   * ACTION_IDENTITY_BOOTSTRAP_OFFICER for an officer appointed with a bootstrap token). A
   * critical action's intent (OUTCOME_ATTEMPTED) and refusals are not counted.
   */
  'identity.role_change': {
    name: 'Role change',
    description: 'Roles were requested, approved or changed for an account (two-person rule for security_officer, manager and team_lead).',
    severity: 'ALERT_SEVERITY_HIGH',
    services: ['SERVICE_IDENTITY'],
    actions: ['ACTION_IDENTITY_ROLE_CHANGE_REQUEST', 'ACTION_IDENTITY_ROLE_CHANGE_APPROVE', 'ACTION_IDENTITY_ROLES_SET', 'ACTION_IDENTITY_ACCOUNT_APPROVE', 'ACTION_IDENTITY_BOOTSTRAP_OFFICER'],
    outcomes: ['OUTCOME_SUCCESS'],
    environments: [],
    detailMatches: {},
    // Per account AND step, so the request, its approval and the change applied each raise one.
    groupBy: [SUBJECT_ID, { field: 'EVENT_FIELD_ACTION' }],
    windowMs: MINUTE,
    threshold: 1,
    summary: (i) => `Role change on account ${groupId(i)} (${clip(i.groupValues[1] ?? '')}): check who did it and why`,
  },
};

const SETTING_KEYS = new Set(['enabled', 'threshold', 'windowMs']);

/**
 * The built-in rules with config applied. Config comes from the environment at start, so it is
 * checked here by key: an unknown rule id or setting (a typo) is refused with
 * INVALID_ARGUMENT naming it, instead of silently running the default.
 */
export function builtInRules(config: BuiltInRulesConfig = {}): AlertRule[] {
  for (const id of Object.keys(config)) {
    if (!(BUILT_IN_RULE_IDS as readonly string[]).includes(id)) {
      throw new InvalidArgumentError(id, `unknown built-in rule; known: ${BUILT_IN_RULE_IDS.join(', ')}`);
    }
  }
  return BUILT_IN_RULE_IDS.map((ruleId) => {
    const def = DEFINITIONS[ruleId];
    const settings = config[ruleId] ?? {};
    checkSettings(ruleId, settings);
    const rule: AlertRule = {
      ruleId,
      name: def.name,
      description: def.description,
      severity: def.severity,
      services: def.services,
      actions: def.actions,
      outcomes: def.outcomes,
      environments: def.environments,
      detailMatches: def.detailMatches,
      groupBy: def.groupBy,
      aggregation: 'count',
      windowMs: settings.windowMs ?? def.windowMs,
      threshold: settings.threshold ?? def.threshold,
      enabled: settings.enabled ?? true,
      builtIn: true,
    };
    validateRule(rule, `${ruleId}.`);
    return rule;
  });
}

/** The template summary of a built-in rule, or undefined for any other rule. */
export function builtInSummary(input: SummaryInput): string | undefined {
  if (!input.rule.builtIn || !isBuiltInRuleId(input.rule.ruleId)) return undefined;
  return DEFINITIONS[input.rule.ruleId].summary(input);
}

/** True when the id names a built-in rule. */
export function isBuiltInRuleId(id: string): id is BuiltInRuleId {
  return (BUILT_IN_RULE_IDS as readonly string[]).includes(id);
}

function checkSettings(ruleId: string, settings: BuiltInRuleSettings): void {
  if (settings === null || typeof settings !== 'object') throw new InvalidArgumentError(ruleId, 'must be an object');
  for (const key of Object.keys(settings)) {
    if (!SETTING_KEYS.has(key)) {
      throw new InvalidArgumentError(`${ruleId}.${key}`, 'unknown setting; known: enabled, threshold, windowMs');
    }
  }
  const { enabled, threshold, windowMs } = settings;
  if (enabled !== undefined && typeof enabled !== 'boolean') {
    throw new InvalidArgumentError(`${ruleId}.enabled`, 'must be true or false');
  }
  if (threshold !== undefined && (!Number.isInteger(threshold) || threshold < 1 || threshold > MAX_THRESHOLD)) {
    throw new InvalidArgumentError(`${ruleId}.threshold`, `must be an integer from 1 to ${MAX_THRESHOLD}, got ${String(threshold)}`);
  }
  if (windowMs !== undefined && (!Number.isInteger(windowMs) || windowMs < MIN_WINDOW_MS || windowMs > MAX_WINDOW_MS)) {
    throw new InvalidArgumentError(`${ruleId}.windowMs`, `must be whole milliseconds between 1s and 7d, got ${String(windowMs)}`);
  }
}
