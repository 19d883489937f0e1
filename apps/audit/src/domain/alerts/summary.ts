import type { AuditEventData } from '../event.js';
import type { AlertRule } from './alert-rule.js';
import { fieldLabel } from './event-field.js';

/**
 * What a summary may be written from. Summaries are shown to the officer and streamed to
 * WatchAlerts, so they name ids only: never a hashed value (it would let a reader confirm a
 * guess offline) and never free text beyond ids and rule parameters.
 */
export interface SummaryInput {
  readonly rule: AlertRule;
  /** The count (or distinct count) that reached the threshold. */
  readonly count: number;
  /** The group's values, aligned with rule.groupBy. */
  readonly groupValues: readonly string[];
  /** The event that completed the rule (for its ids: actor, subject, domain, IP). */
  readonly event: AuditEventData;
}

/** Turns an alert into one line of human text. */
export type Summarizer = (input: SummaryInput) => string;

/** Longest value quoted in a summary; ids are at most 256 characters, a line should stay short. */
const MAX_VALUE_IN_SUMMARY = 96;

/** "15m", "1h30m", "7d": how a window reads in a summary. */
export function formatWindow(ms: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ];
  let rest = Math.max(0, Math.round(ms));
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out === '' ? '0s' : out;
}

/** Keeps one quoted value short, so one long id cannot make a summary unreadable. */
export function clip(value: string): string {
  return value.length <= MAX_VALUE_IN_SUMMARY ? value : `${value.slice(0, MAX_VALUE_IN_SUMMARY - 1)}…`;
}

/** "1 event", "5 events". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The summary of a configured rule, which has no template: what was counted, for which group,
 * within which window. Hashed detail values are replaced by "(hashed)".
 */
export function genericSummary(input: SummaryInput): string {
  const { rule, count } = input;
  const what =
    rule.aggregation === 'distinct_count' && rule.distinctField !== undefined
      ? `${plural(count, `distinct ${fieldLabel(rule.distinctField)} value`)} in events`
      : plural(count, 'event');
  const group = describeGroup(rule, input.groupValues);
  return `${what} matching "${clip(rule.name)}"${group === '' ? '' : ` for ${group}`} within ${formatWindow(rule.windowMs)}`;
}

/** `actor_id=acc-1, hashed_details.phone=(hashed)`: the group as a reader sees it. */
export function describeGroup(rule: AlertRule, values: readonly string[]): string {
  return rule.groupBy
    .map((ref, i) => {
      const value = ref.field === 'EVENT_FIELD_HASHED_DETAIL' ? '(hashed)' : clip(values[i] ?? '');
      return `${fieldLabel(ref)}=${value}`;
    })
    .join(', ');
}
