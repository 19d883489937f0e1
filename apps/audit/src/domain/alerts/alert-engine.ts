import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@gatehouse/core';
import type { AuditEventData, LogRecord } from '../event.js';
import { validateRules } from './alert-rule.js';
import type { AlertRule, AlertSeverity } from './alert-rule.js';
import { builtInSummary } from './built-in-rules.js';
import { encodeGroupKey, fieldLabel, fieldValue } from './event-field.js';
import { genericSummary } from './summary.js';
import type { Summarizer, SummaryInput } from './summary.js';
import { CountWindow, DistinctWindow } from './window-state.js';
import type { WindowState } from './window-state.js';

/**
 * An alert as the engine raises it: everything the proto Alert holds at raise time (the store
 * adds state and acknowledgement). Deterministic in the log: replaying the same records yields
 * the same alerts, ids and times included, so a restart can tell stored alerts by id.
 */
export interface RaisedAlert {
  /** 32 hex chars of SHA-256(rule id, group key, first sequence). */
  readonly alertId: string;
  readonly ruleId: string;
  readonly ruleName: string;
  readonly severity: AlertSeverity;
  readonly summary: string;
  /** `<field>=<value>` pairs joined by "," ("" for a rule without group_by). */
  readonly groupKey: string;
  /**
   * The count (or distinct count) that reached the threshold. Equal to the threshold: a group
   * keeps only its `threshold` most recent entries (see WindowState), which bounds memory.
   */
  readonly count: number;
  readonly threshold: number;
  readonly windowMs: number;
  /** Sequence of the first event counted. */
  readonly firstSequence: number;
  /** Sequence of the event that completed the rule. */
  readonly lastSequence: number;
  /**
   * The completing record's appendedAt (the server clock; never the emitter's claimed time).
   * Taken from the log rather than a clock so a replay reproduces it, and so a stored alert
   * alone says when its group's quiet period started (see `replay`).
   */
  readonly raisedAt: Date;
}

/** What `replay` needs to know of an alert already stored; the proto Alert has every field. */
export type RaisedAlertRef = Pick<RaisedAlert, 'ruleId' | 'groupKey' | 'lastSequence' | 'raisedAt'>;

/** Tuning of the engine; defaults suit one audit instance. */
export interface AlertEngineOptions {
  /**
   * Most groups kept per rule (default 100,000). Beyond it the least recently active group is
   * evicted, so a flood of distinct keys (random actor ids) cannot exhaust memory. An evicted
   * group forgets its count and its quiet period.
   */
  readonly maxGroupsPerRule?: number;
  /** Writes alert summaries; default: the built-in rule's template, else a generic line. */
  readonly summarize?: Summarizer;
}

/** Per-rule occupancy, for the service's metrics and logs. */
export interface AlertRuleStats {
  readonly ruleId: string;
  readonly groups: number;
  /** Groups evicted by the cap since start; non-zero means the cap is too low or a flood. */
  readonly evictedGroups: number;
}

/** Default of AlertEngineOptions.maxGroupsPerRule. */
export const DEFAULT_MAX_GROUPS_PER_RULE = 100_000;

/**
 * The audit service's own alert events. A rule without an explicit action list never counts
 * them: a catch-all rule grouped by subject would otherwise raise an alert for every alert
 * event, which raises another event, forever.
 */
const ENGINE_OWN_ACTIONS: ReadonlySet<string> = new Set(['ACTION_AUDIT_ALERT_RAISE', 'ACTION_AUDIT_ALERT_ACKNOWLEDGE']);

/** How often (in event time) idle groups are swept. */
const SWEEP_EVERY_MS = 1_000;

interface GroupState {
  readonly window: WindowState;
  /** The group's values, aligned with the rule's group_by (for summaries). */
  values: readonly string[];
  /** Event time before which the group may not fire again (its last firing + window). */
  quietUntil: number;
  /** Event time of the last change; groups are kept in this order (least recent first). */
  lastTouched: number;
}

interface CompiledRule {
  readonly rule: AlertRule;
  readonly services: ReadonlySet<string> | null;
  readonly actions: ReadonlySet<string> | null;
  readonly outcomes: ReadonlySet<string> | null;
  readonly environments: ReadonlySet<string> | null;
  readonly details: ReadonlyArray<readonly [string, string]>;
  readonly labels: readonly string[];
  /** Insertion order = lastTouched order: a touched group is re-inserted at the end. */
  readonly groups: Map<string, GroupState>;
  evicted: number;
}

/**
 * Evaluates alert rules on the live log, one record at a time in sequence order (P11: an
 * anomaly is seen as the event that completes it is appended, not by a later batch query).
 *
 * Semantics per (rule, group): a sliding window over event time (appendedAt, clamped to never
 * go back), window (t − W, t]. COUNT counts matching events, DISTINCT_COUNT the distinct values
 * of the distinct field. When the aggregate reaches the threshold the rule fires once and the
 * group's entries are cleared; the group stays quiet until W after the firing, so it fires at
 * most once per window, and a burst after that fires again. Events with an empty value for a
 * group_by field (or the distinct field) are skipped.
 *
 * Memory is bounded: a group keeps at most `threshold` entries, idle groups are swept once
 * their window and quiet period have passed, and groups per rule are capped.
 */
export class AlertEngine {
  private readonly compiled: CompiledRule[];
  private readonly allRules: readonly AlertRule[];
  private readonly byId = new Map<string, CompiledRule>();
  private readonly maxGroups: number;
  private readonly summarize: Summarizer;
  private lastSequence = -Infinity;
  private now = -Infinity;
  private nextSweepAt = -Infinity;
  /** Stored alerts not yet passed in the log, ordered by lastSequence (see `replay`). */
  private pending: RaisedAlertRef[] = [];
  /** The same, by (rule, group, lastSequence), to recognise the completing record. */
  private readonly pendingExact = new Map<string, RaisedAlertRef>();

  constructor(rules: readonly AlertRule[], options: AlertEngineOptions = {}) {
    validateRules(rules);
    const maxGroups = options.maxGroupsPerRule ?? DEFAULT_MAX_GROUPS_PER_RULE;
    if (!Number.isInteger(maxGroups) || maxGroups < 1) {
      throw new InvalidArgumentError('maxGroupsPerRule', `must be a positive integer, got ${String(maxGroups)}`);
    }
    this.maxGroups = maxGroups;
    this.summarize = options.summarize ?? defaultSummarizer;
    this.allRules = [...rules];
    this.compiled = rules.filter((r) => r.enabled).map(compile);
    for (const c of this.compiled) this.byId.set(c.rule.ruleId, c);
  }

  /** Every rule, enabled or not, as ListAlertRules shows them. */
  get rules(): readonly AlertRule[] {
    return this.allRules;
  }

  /** The longest window of an enabled rule: how far back a restart must replay. */
  get maxWindowMs(): number {
    return this.compiled.reduce((max, c) => Math.max(max, c.rule.windowMs), 0);
  }

  /**
   * Evaluates one record and returns the alerts it completes (usually none). Records must come
   * in sequence order; a record at or below the last sequence seen is ignored, so an
   * at-least-once feed (Watch after a reconnect) cannot double count.
   */
  observe(record: LogRecord): RaisedAlert[] {
    return this.process(record);
  }

  /**
   * Re-seeds the engine after a restart. Feed the records appended since
   * `resumeAt − maxWindowMs` (resumeAt: now, or the appendedAt of the first record that may not
   * have been evaluated) and the alerts stored with raisedAt since `resumeAt − 2 × maxWindowMs`.
   * Returns the alerts the records raise that are not among `alreadyRaised` (a caller without
   * them may pass none and skip returned alerts whose id is stored).
   *
   * Why stored alerts: whether a group fires depends on when it last fired, which may lie
   * before the replayed records. Each stored alert restores its group's quiet period and
   * clears the entries it consumed, at its place in the log, so the replay raises neither an
   * alert the live run held back nor a second alert for a burst already reported.
   * May be called several times (records in chunks, in order); observe() may follow.
   */
  replay(records: Iterable<LogRecord>, alreadyRaised: Iterable<RaisedAlertRef> = []): RaisedAlert[] {
    this.addPending(alreadyRaised);
    const raised: RaisedAlert[] = [];
    for (const record of records) {
      for (const alert of this.process(record)) raised.push(alert);
    }
    return raised;
  }

  /** Groups held per enabled rule. */
  stats(): AlertRuleStats[] {
    return this.compiled.map((c) => ({ ruleId: c.rule.ruleId, groups: c.groups.size, evictedGroups: c.evicted }));
  }

  private process(record: LogRecord): RaisedAlert[] {
    const sequence = record.sequence;
    if (sequence <= this.lastSequence) return [];
    this.lastSequence = sequence;
    // The server clock may step back; windows must not, or a group could fire twice.
    const appended = record.appendedAt.getTime();
    const t = Number.isFinite(appended) && appended > this.now ? appended : this.now;
    this.now = t;
    this.applyPendingBefore(sequence);
    if (t >= this.nextSweepAt) {
      this.sweep(t);
      this.nextSweepAt = t + SWEEP_EVERY_MS;
    }

    const event = record.event;
    let raised: RaisedAlert[] | undefined;
    for (const c of this.compiled) {
      if (!matches(c, event)) continue;
      const rule = c.rule;
      const values = groupValues(rule, event);
      if (values === null) continue;
      let distinctValue = '';
      if (rule.distinctField !== undefined) {
        distinctValue = fieldValue(event, rule.distinctField);
        if (distinctValue === '') continue;
      }
      const groupKey = encodeGroupKey(c.labels, values);
      const group = this.touchGroup(c, groupKey, values, t);
      group.window.pruneThrough(t - rule.windowMs);
      group.window.add(t, sequence, distinctValue);

      const stored = this.pendingExact.get(exactKey(rule.ruleId, groupKey, sequence));
      if (stored !== undefined) {
        // This record completed an alert that is already stored: restore, do not raise again.
        this.pendingExact.delete(exactKey(rule.ruleId, groupKey, sequence));
        group.window.clear();
        group.quietUntil = Math.max(group.quietUntil, stored.raisedAt.getTime() + rule.windowMs);
        continue;
      }
      if (group.window.size < rule.threshold || t < group.quietUntil) continue;

      const alert = this.raise(rule, groupKey, group, sequence, t, event);
      group.window.clear();
      group.quietUntil = t + rule.windowMs;
      (raised ??= []).push(alert);
    }
    return raised ?? [];
  }

  private raise(rule: AlertRule, groupKey: string, group: GroupState, lastSequence: number, t: number, event: AuditEventData): RaisedAlert {
    const firstSequence = group.window.firstSequence();
    const count = group.window.size;
    return {
      alertId: alertIdFor(rule.ruleId, groupKey, firstSequence),
      ruleId: rule.ruleId,
      ruleName: rule.name,
      severity: rule.severity,
      summary: this.summarize({ rule, count, groupValues: group.values, event }),
      groupKey,
      count,
      threshold: rule.threshold,
      windowMs: rule.windowMs,
      firstSequence,
      lastSequence,
      raisedAt: new Date(t),
    };
  }

  /** Finds or creates the group and moves it to the most recently touched end. */
  private touchGroup(c: CompiledRule, key: string, values: readonly string[], t: number): GroupState {
    let group = c.groups.get(key);
    if (group !== undefined) {
      c.groups.delete(key);
    } else {
      if (c.groups.size >= this.maxGroups) this.evictOldest(c);
      group = {
        window: c.rule.aggregation === 'distinct_count' ? new DistinctWindow(c.rule.threshold) : new CountWindow(c.rule.threshold),
        values,
        quietUntil: -Infinity,
        lastTouched: t,
      };
    }
    group.values = values;
    group.lastTouched = Math.max(group.lastTouched, t);
    c.groups.set(key, group);
    return group;
  }

  private evictOldest(c: CompiledRule): void {
    for (const key of c.groups.keys()) {
      c.groups.delete(key);
      c.evicted++;
      return;
    }
  }

  /**
   * Drops groups idle for a whole window: their entries have left the window and their quiet
   * period has ended, so they hold nothing. Groups are in lastTouched order, so this stops at
   * the first live one.
   */
  private sweep(t: number): void {
    for (const c of this.compiled) {
      const cutoff = t - c.rule.windowMs;
      for (const [key, group] of c.groups) {
        if (group.lastTouched > cutoff || group.quietUntil > t) break;
        c.groups.delete(key);
      }
    }
  }

  private addPending(alerts: Iterable<RaisedAlertRef>): void {
    let added = false;
    for (const a of alerts) {
      if (!(a.raisedAt instanceof Date) || !Number.isFinite(a.raisedAt.getTime()) || !Number.isFinite(a.lastSequence)) {
        throw new InvalidArgumentError('alreadyRaised', `alert of rule "${String(a.ruleId)}" lacks a valid raisedAt or lastSequence`);
      }
      const ref: RaisedAlertRef = { ruleId: a.ruleId, groupKey: a.groupKey, lastSequence: a.lastSequence, raisedAt: a.raisedAt };
      if (ref.lastSequence <= this.lastSequence) {
        this.applyStored(ref); // its place in the log is behind us already
        continue;
      }
      this.pending.push(ref);
      this.pendingExact.set(exactKey(ref.ruleId, ref.groupKey, ref.lastSequence), ref);
      added = true;
    }
    if (added) this.pending.sort((a, b) => a.lastSequence - b.lastSequence);
  }

  /** Applies the stored alerts whose completing record lies before `sequence`. */
  private applyPendingBefore(sequence: number): void {
    if (this.pending.length === 0) return;
    let i = 0;
    while (i < this.pending.length && (this.pending[i]?.lastSequence ?? Infinity) < sequence) {
      const ref = this.pending[i];
      if (ref !== undefined) {
        this.pendingExact.delete(exactKey(ref.ruleId, ref.groupKey, ref.lastSequence));
        this.applyStored(ref);
      }
      i++;
    }
    if (i > 0) this.pending = this.pending.slice(i);
  }

  /**
   * Restores what a stored alert implies for its group: quiet for a window after it was
   * raised, and the entries up to its completing record consumed. Idempotent.
   */
  private applyStored(ref: RaisedAlertRef): void {
    const c = this.byId.get(ref.ruleId);
    if (c === undefined) return; // rule removed or disabled since
    const raisedAt = ref.raisedAt.getTime();
    let group = c.groups.get(ref.groupKey);
    if (group === undefined) {
      if (raisedAt + c.rule.windowMs <= this.now) return; // its quiet period is over
      group = this.touchGroup(c, ref.groupKey, decodeGroupValues(ref.groupKey), raisedAt);
    }
    group.quietUntil = Math.max(group.quietUntil, raisedAt + c.rule.windowMs);
    group.window.dropThroughSequence(ref.lastSequence);
  }
}

/** SHA-256 over (rule id, group key, first sequence): stable across restarts and replays. */
export function alertIdFor(ruleId: string, groupKey: string, firstSequence: number): string {
  // The rule id cannot hold "\n" and the sequence is digits, so the input parses one way only.
  return createHash('sha256').update(`gatehouse.alert.v1\n${ruleId}\n${groupKey}\n${firstSequence}`).digest('hex').slice(0, 32);
}

function defaultSummarizer(input: SummaryInput): string {
  return builtInSummary(input) ?? genericSummary(input);
}

function compile(rule: AlertRule): CompiledRule {
  const set = (values: readonly string[]): ReadonlySet<string> | null => (values.length === 0 ? null : new Set(values));
  return {
    rule,
    services: set(rule.services),
    actions: set(rule.actions),
    outcomes: set(rule.outcomes),
    environments: set(rule.environments),
    details: Object.entries(rule.detailMatches),
    labels: rule.groupBy.map(fieldLabel),
    groups: new Map(),
    evicted: 0,
  };
}

function matches(c: CompiledRule, event: AuditEventData): boolean {
  if (c.actions === null ? ENGINE_OWN_ACTIONS.has(event.action) : !c.actions.has(event.action)) return false;
  if (c.services !== null && !c.services.has(event.service)) return false;
  // An intent says only that a critical action was about to happen: a rule counts it only when it asks for it.
  if (c.outcomes === null ? event.outcome === 'OUTCOME_ATTEMPTED' : !c.outcomes.has(event.outcome)) return false;
  if (c.environments !== null && !c.environments.has(event.environment)) return false;
  for (const [key, value] of c.details) {
    if (!Object.hasOwn(event.details, key) || event.details[key] !== value) return false;
  }
  return true;
}

/** The event's group values, or null when one is empty (the event belongs to no group). */
function groupValues(rule: AlertRule, event: AuditEventData): string[] | null {
  const values: string[] = [];
  for (const ref of rule.groupBy) {
    const value = fieldValue(event, ref);
    if (value === '') return null;
    values.push(value);
  }
  return values;
}

/** Values back from a stored group key (only for summaries of groups restored by replay). */
function decodeGroupValues(groupKey: string): string[] {
  if (groupKey === '') return [];
  return groupKey.split(',').map((pair) => {
    const value = pair.slice(pair.indexOf('=') + 1);
    return value.replace(/%2C/g, ',').replace(/%3D/g, '=').replace(/%25/g, '%');
  });
}

function exactKey(ruleId: string, groupKey: string, sequence: number): string {
  return `${ruleId}\n${sequence}\n${groupKey}`;
}
