import { freeText, InvalidArgumentError } from '@gatehouse/core';
import type { AccessedRecords, BurstEntry, BurstRule } from './model.js';

/** The burst rule's id, as FAILED_PRECONDITION messages, anomalies and audit name it. */
export const BURST_RULE_ID = 'impersonation.burst';

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
/** Opaque product ids (users, records): printable, no spaces, never starting with an operator character. */
const OPAQUE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@+/=-]{0,255}$/;
const RESOURCE_TYPE_RE = /^[a-z][a-z0-9_]{0,63}$/;
const REPORT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Ids this service issues: `gr_…`, `an_…`. */
export const GRANT_ID_RE = /^gr_[A-Za-z0-9_-]{16}$/;
export const ANOMALY_ID_RE = /^an_[A-Za-z0-9_-]{16}$/;

export const MAX_JUSTIFICATION = 2000;
export const MAX_ANOMALY_JUSTIFICATION = 4000;
export const MAX_TICKET = 200;
export const MAX_TICKETS = 20;
export const MAX_NOTE = 1000;
export const MAX_RECORD_ENTRIES = 100;
export const MAX_RECORD_IDS = 1000;
export const MAX_RECORD_COUNT = 1_000_000_000;

/**
 * A customer domain, lower-cased: domains are case-insensitive, and "Example.COM" must count
 * toward the same burst as "example.com" (P11 could otherwise be dodged by spelling).
 */
export function checkDomain(value: string, field = 'customer_domain'): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(field, 'is required (a DNS name such as example.com)');
  const d = value.toLowerCase();
  if (!DOMAIN_RE.test(d)) throw new InvalidArgumentError(field, 'must be a DNS name such as example.com (letters, digits, hyphens and dots; no trailing dot)');
  return d;
}

/** An opaque product id: a target user or a record. */
export function checkOpaqueId(value: string, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(field, 'is required');
  if (value.length > 256) throw new InvalidArgumentError(field, 'is longer than 256 characters');
  if (!OPAQUE_ID_RE.test(value)) throw new InvalidArgumentError(field, 'must be an opaque id: letters, digits and . _ : @ + / = - (no spaces, not starting with a symbol)');
  return value;
}

export { checkAccountId } from '@gatehouse/core';

export function checkGrantId(value: string, field = 'grant_id'): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(field, 'is required');
  if (!GRANT_ID_RE.test(value)) throw new InvalidArgumentError(field, 'is not a grant id (gr_…)');
  return value;
}

export function checkAnomalyId(value: string, field = 'anomaly_id'): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(field, 'is required');
  if (!ANOMALY_ID_RE.test(value)) throw new InvalidArgumentError(field, 'is not an anomaly id (an_…)');
  return value;
}

/** A justification the employee writes (shown to the customer): trimmed, at least `min` characters. */
export function checkJustification(value: string, min: number, max: number, field = 'justification'): string {
  const text = freeText(value, field, { required: true, max });
  if ([...text].length < min) throw new InvalidArgumentError(field, `is too short: at least ${min} characters explaining why (got ${[...text].length})`);
  return text;
}

export function checkTicket(value: string, field = 'ticket_ref'): string {
  return freeText(value, field, { required: true, max: MAX_TICKET });
}

/** Duration of a grant in ms: absent → the default; 1 minute to the maximum. */
export function grantDuration(requestedMs: number | undefined, defaultMs: number, maxMs: number): number {
  if (requestedMs === undefined) return defaultMs;
  if (!Number.isFinite(requestedMs) || requestedMs < 60_000) throw new InvalidArgumentError('duration', 'must be at least 1 minute');
  if (requestedMs > maxMs) throw new InvalidArgumentError('duration', `must be at most ${Math.round(maxMs / 60_000)} minutes`);
  return Math.floor(requestedMs);
}

export function checkReportId(value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError('report_id', 'is required (a client-generated id, e.g. a UUID)');
  if (!REPORT_ID_RE.test(value)) throw new InvalidArgumentError('report_id', 'must be 1 to 128 characters of letters, digits and . _ : -');
  return value;
}

/** The records of a RecordAccess report, checked entry by entry (ids are shown to the customer's admin). */
export function checkAccessedRecords(records: readonly AccessedRecords[]): AccessedRecords[] {
  if (records.length === 0) throw new InvalidArgumentError('records', 'at least one entry is required');
  if (records.length > MAX_RECORD_ENTRIES) throw new InvalidArgumentError('records', `at most ${MAX_RECORD_ENTRIES} entries`);
  return records.map((r, i) => {
    const f = `records[${i}]`;
    if (typeof r.resourceType !== 'string' || !RESOURCE_TYPE_RE.test(r.resourceType)) throw new InvalidArgumentError(`${f}.resource_type`, 'must be a lower-case kind such as "contact" ([a-z][a-z0-9_]*, at most 64)');
    if (!['read', 'write', 'delete'].includes(r.operation)) throw new InvalidArgumentError(`${f}.operation`, 'is required: READ, WRITE or DELETE');
    if (!Number.isInteger(r.count) || r.count < 1 || r.count > MAX_RECORD_COUNT) throw new InvalidArgumentError(`${f}.count`, `must be from 1 to ${MAX_RECORD_COUNT}`);
    if (r.recordIds.length > MAX_RECORD_IDS) throw new InvalidArgumentError(`${f}.record_ids`, `at most ${MAX_RECORD_IDS} ids`);
    const ids = r.recordIds.map((id, j) => checkOpaqueId(id, `${f}.record_ids[${j}]`));
    if (new Set(ids).size > r.count) throw new InvalidArgumentError(`${f}.count`, 'must be at least the number of distinct record_ids');
    return { resourceType: r.resourceType, operation: r.operation, count: r.count, recordIds: ids };
  });
}

/** The burst rule's verdict on the window (entries already pruned to it). */
export interface BurstVerdict {
  fires: boolean;
  /** Distinct targets in the window, in order of first grant. */
  targets: string[];
  grantIds: string[];
}

/**
 * P11: the employee already holds grants for `distinctTargets` distinct users of this domain
 * within the window → the next start is refused and an anomaly opens. `entries` must already be
 * limited to the window.
 */
export function evaluateBurst(entries: readonly BurstEntry[], rule: BurstRule): BurstVerdict {
  const sorted = [...entries].sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  const targets: string[] = [];
  for (const e of sorted) if (!targets.includes(e.targetUserId)) targets.push(e.targetUserId);
  return { fires: targets.length >= rule.distinctTargets, targets, grantIds: sorted.map((e) => e.grantId) };
}

/** The entries still inside the window at `now`. */
export function inWindow(entries: readonly BurstEntry[], now: Date, windowMs: number): BurstEntry[] {
  const since = now.getTime() - windowMs;
  return entries.filter((e) => e.startedAt.getTime() > since);
}
