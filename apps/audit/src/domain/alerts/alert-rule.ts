import { InvalidArgumentError } from '@gatehouse/core';

/**
 * Alert rules in the domain's own terms. This mirrors `gatehouse.audit.v1.AlertRule` field by
 * field (enum values as their proto names, durations in milliseconds), so the rpc layer maps it
 * without logic and the rules engine stays free of generated code.
 */

/** Severity of the alerts a rule raises (proto `AlertSeverity` names, UNSPECIFIED excluded). */
export type AlertSeverity = 'ALERT_SEVERITY_LOW' | 'ALERT_SEVERITY_MEDIUM' | 'ALERT_SEVERITY_HIGH' | 'ALERT_SEVERITY_CRITICAL';

/** The severities a rule may carry, lowest first; used to validate configured rules. */
export const ALERT_SEVERITIES: readonly AlertSeverity[] = [
  'ALERT_SEVERITY_LOW',
  'ALERT_SEVERITY_MEDIUM',
  'ALERT_SEVERITY_HIGH',
  'ALERT_SEVERITY_CRITICAL',
];

/** Proto `AlertAggregation`: COUNT counts events, DISTINCT_COUNT counts distinct values of a field. */
export type AlertAggregation = 'count' | 'distinct_count';

/** A field of an event that rules group by or count (proto `EventField` names). */
export type EventField =
  | 'EVENT_FIELD_ACTOR_ID'
  | 'EVENT_FIELD_SUBJECT_ID'
  | 'EVENT_FIELD_CUSTOMER_DOMAIN'
  | 'EVENT_FIELD_SOURCE_IP'
  | 'EVENT_FIELD_ENVIRONMENT'
  | 'EVENT_FIELD_SERVICE'
  | 'EVENT_FIELD_ACTION'
  | 'EVENT_FIELD_DETAIL'
  | 'EVENT_FIELD_HASHED_DETAIL';

/** Every EventField, so configured rules can be checked without the generated enum. */
export const EVENT_FIELDS: readonly EventField[] = [
  'EVENT_FIELD_ACTOR_ID',
  'EVENT_FIELD_SUBJECT_ID',
  'EVENT_FIELD_CUSTOMER_DOMAIN',
  'EVENT_FIELD_SOURCE_IP',
  'EVENT_FIELD_ENVIRONMENT',
  'EVENT_FIELD_SERVICE',
  'EVENT_FIELD_ACTION',
  'EVENT_FIELD_DETAIL',
  'EVENT_FIELD_HASHED_DETAIL',
];

/** Proto `EventFieldRef`: a field, plus the key for DETAIL and HASHED_DETAIL. */
export interface FieldRef {
  readonly field: EventField;
  /** For EVENT_FIELD_DETAIL and EVENT_FIELD_HASHED_DETAIL only: the details key. */
  readonly detailKey?: string | undefined;
}

/**
 * A declarative rule: among events matching services, actions, outcomes, environments and
 * detail values, grouped by `groupBy`, raise an alert when the count (or distinct count) within
 * a sliding window reaches the threshold. It fires at most once per group per window.
 */
export interface AlertRule {
  /** Stable id, e.g. "otp.failures_per_account"; part of every alert id. */
  readonly ruleId: string;
  readonly name: string;
  readonly description: string;
  readonly severity: AlertSeverity;
  /** Proto Service names; empty: any service. */
  readonly services: readonly string[];
  /** Proto Action names; empty: any action (except the audit service's own alert events). */
  readonly actions: readonly string[];
  /** Proto Outcome names; empty: any outcome but OUTCOME_ATTEMPTED (intents count only where listed). */
  readonly outcomes: readonly string[];
  /** Proto Environment names (AlertRule.environments); empty: any, including none. */
  readonly environments: readonly string[];
  /** Every pair must be present, equal, in the event's (clear) details. */
  readonly detailMatches: Readonly<Record<string, string>>;
  /** Fields whose values form the group key; empty: a single group. */
  readonly groupBy: readonly FieldRef[];
  readonly aggregation: AlertAggregation;
  /** For 'distinct_count' only: the field whose distinct values are counted. */
  readonly distinctField?: FieldRef | undefined;
  readonly windowMs: number;
  /** The aggregate at which the rule fires; at least 1. */
  readonly threshold: number;
  readonly enabled: boolean;
  /** True when the parameters come from config (builtInRules), false for a configured rule. */
  readonly builtIn: boolean;
}

/** Shortest window: below a second a "burst" is noise and the 1 s alert latency dominates. */
export const MIN_WINDOW_MS = 1_000;
/** Longest window: state per group lives this long, and replay after a restart reads this far back. */
export const MAX_WINDOW_MS = 7 * 24 * 60 * 60 * 1_000;
/**
 * Highest threshold. The engine keeps at most `threshold` entries per group, so this bounds the
 * memory of one group; no sensible alert needs more.
 */
export const MAX_THRESHOLD = 10_000;
/** Most group_by fields; a longer key adds nothing and costs memory per group. */
export const MAX_GROUP_BY = 8;

const RULE_ID = /^[a-z][a-z0-9_.-]{0,63}$/;
/** The event schema's details key form; a rule naming another key could never match. */
const DETAIL_KEY = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_DETAIL_VALUE = 512;
const MAX_NAME = 128;
const MAX_DESCRIPTION = 2048;

/**
 * Checks a rule before the engine uses it, so a bad configured rule is refused at start (or on
 * create) with INVALID_ARGUMENT naming the field, instead of silently never firing. `prefix` is
 * prepended to field names (e.g. `rules[3].`) when the caller validates a list.
 */
export function validateRule(rule: AlertRule, prefix = ''): void {
  const fail = (field: string, message: string): never => {
    throw new InvalidArgumentError(`${prefix}${field}`, message);
  };
  if (typeof rule.ruleId !== 'string' || !RULE_ID.test(rule.ruleId)) {
    fail('rule_id', 'must match ^[a-z][a-z0-9_.-]{0,63}$');
  }
  if (typeof rule.name !== 'string' || rule.name.trim() === '') fail('name', 'is required');
  if (rule.name.length > MAX_NAME) fail('name', `at most ${MAX_NAME} characters`);
  if (typeof rule.description !== 'string') fail('description', 'must be a string');
  if (rule.description.length > MAX_DESCRIPTION) fail('description', `at most ${MAX_DESCRIPTION} characters`);
  if (!ALERT_SEVERITIES.includes(rule.severity)) fail('severity', `must be one of ${ALERT_SEVERITIES.join(', ')}`);

  checkEnumNames(rule.services, 'SERVICE_', 'services', fail);
  checkEnumNames(rule.actions, 'ACTION_', 'actions', fail);
  checkEnumNames(rule.outcomes, 'OUTCOME_', 'outcomes', fail);
  checkEnumNames(rule.environments, 'ENVIRONMENT_', 'environments', fail);

  if (rule.detailMatches === null || typeof rule.detailMatches !== 'object') fail('detail_matches', 'must be a map');
  for (const [key, value] of Object.entries(rule.detailMatches)) {
    if (!DETAIL_KEY.test(key)) fail(`detail_matches[${JSON.stringify(key)}]`, 'key must match ^[a-z][a-z0-9_]{0,63}$');
    if (typeof value !== 'string' || value.length > MAX_DETAIL_VALUE) {
      fail(`detail_matches[${JSON.stringify(key)}]`, `value must be a string of at most ${MAX_DETAIL_VALUE} characters`);
    }
  }

  if (!Array.isArray(rule.groupBy)) fail('group_by', 'must be a list');
  if (rule.groupBy.length > MAX_GROUP_BY) fail('group_by', `at most ${MAX_GROUP_BY} fields`);
  rule.groupBy.forEach((ref, i) => checkFieldRef(ref, `group_by[${i}]`, fail));

  if (rule.aggregation === 'distinct_count') {
    if (rule.distinctField === undefined) fail('distinct_field', 'is required for distinct_count');
    else checkFieldRef(rule.distinctField, 'distinct_field', fail);
  } else if (rule.aggregation === 'count') {
    if (rule.distinctField !== undefined) fail('distinct_field', 'must be absent for count');
  } else {
    fail('aggregation', "must be 'count' or 'distinct_count'");
  }

  if (!Number.isInteger(rule.windowMs) || rule.windowMs < MIN_WINDOW_MS || rule.windowMs > MAX_WINDOW_MS) {
    fail('window', `must be a whole number of milliseconds between 1s and 7d, got ${String(rule.windowMs)}`);
  }
  if (!Number.isInteger(rule.threshold) || rule.threshold < 1) {
    fail('threshold', `must be an integer of at least 1, got ${String(rule.threshold)}`);
  }
  if (rule.threshold > MAX_THRESHOLD) fail('threshold', `at most ${MAX_THRESHOLD}, got ${rule.threshold}`);
  if (typeof rule.enabled !== 'boolean') fail('enabled', 'must be a boolean');
  if (typeof rule.builtIn !== 'boolean') fail('built_in', 'must be a boolean');
}

/**
 * Checks a list of rules and that their ids are unique (alert ids are derived from the rule
 * id, so two rules sharing one would merge their alerts).
 */
export function validateRules(rules: readonly AlertRule[]): void {
  const seen = new Set<string>();
  rules.forEach((rule, i) => {
    validateRule(rule, `rules[${i}].`);
    if (seen.has(rule.ruleId)) throw new InvalidArgumentError(`rules[${i}].rule_id`, `duplicate rule id "${rule.ruleId}"`);
    seen.add(rule.ruleId);
  });
}

type Fail = (field: string, message: string) => never;

/**
 * The domain cannot see the generated enums, so names are checked by form: the right prefix,
 * upper snake case, not UNSPECIFIED. The rpc layer only ever produces known names.
 */
function checkEnumNames(values: readonly string[], prefix: string, field: string, fail: Fail): void {
  if (!Array.isArray(values)) fail(field, 'must be a list');
  values.forEach((value, i) => {
    if (typeof value !== 'string' || !value.startsWith(prefix) || !/^[A-Z][A-Z0-9_]*$/.test(value)) {
      fail(`${field}[${i}]`, `must be a ${prefix}* enum name, got ${JSON.stringify(value)}`);
    }
    if (value === `${prefix}UNSPECIFIED`) fail(`${field}[${i}]`, `${value} never matches an event`);
  });
}

function checkFieldRef(ref: FieldRef, field: string, fail: Fail): void {
  if (ref === null || typeof ref !== 'object' || !EVENT_FIELDS.includes(ref.field)) {
    fail(`${field}.field`, `must be one of ${EVENT_FIELDS.join(', ')}`);
  }
  const needsKey = ref.field === 'EVENT_FIELD_DETAIL' || ref.field === 'EVENT_FIELD_HASHED_DETAIL';
  const key = ref.detailKey ?? '';
  if (needsKey && !DETAIL_KEY.test(key)) {
    fail(`${field}.detail_key`, `is required for ${ref.field} and must match ^[a-z][a-z0-9_]{0,63}$`);
  }
  if (!needsKey && key !== '') fail(`${field}.detail_key`, `must be empty for ${ref.field}`);
}
