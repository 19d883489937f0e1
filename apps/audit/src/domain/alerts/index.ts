/**
 * Alert rules of the audit service (issue 3 item 6, P11): the rule model, the built-in rules
 * and the engine that evaluates them on the live log. Pure domain code: the rpc layer maps
 * these types to the proto, the store persists RaisedAlerts.
 */
export {
  validateRule,
  validateRules,
  ALERT_SEVERITIES,
  EVENT_FIELDS,
  MIN_WINDOW_MS,
  MAX_WINDOW_MS,
  MAX_THRESHOLD,
  MAX_GROUP_BY,
  type AlertRule,
  type AlertSeverity,
  type AlertAggregation,
  type EventField,
  type FieldRef,
} from './alert-rule.js';
export {
  builtInRules,
  builtInSummary,
  isBuiltInRuleId,
  BUILT_IN_RULE_IDS,
  type BuiltInRuleId,
  type BuiltInRuleSettings,
  type BuiltInRulesConfig,
} from './built-in-rules.js';
export {
  AlertEngine,
  alertIdFor,
  DEFAULT_MAX_GROUPS_PER_RULE,
  type AlertEngineOptions,
  type AlertRuleStats,
  type RaisedAlert,
  type RaisedAlertRef,
} from './alert-engine.js';
export { fieldValue, fieldLabel, encodeGroupKey } from './event-field.js';
export { formatWindow, genericSummary, type Summarizer, type SummaryInput } from './summary.js';
