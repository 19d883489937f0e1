import { InvalidArgumentError, PermissionDeniedError } from '@gatehouse/core';

/**
 * An audit event in plain values (enums by their proto names), as AuditService validates and
 * stores it. Shared so that every emitting service applies the very rules audit enforces
 * before an event reaches its outbox: a refused event fails the action that made it, in the
 * emitting service's own tests, instead of blocking the outbox later.
 */
export interface AuditEventData {
  eventId: string;
  occurredAt: Date;
  service: string;
  action: string;
  outcome: string;
  actor: { kind: string; id: string; displayName: string };
  subject?: { kind: string; id: string; displayName: string } | undefined;
  customerDomain: string;
  sourceIp: string;
  environment: string;
  requestId: string;
  details: Record<string, string>;
  /** After Append: values in "hmac-sha256:<hex>" form, never clear. */
  hashedDetails: Record<string, string>;
  /** On a critical action's outcome event: the id of its confirmed ATTEMPTED intent. Empty or absent otherwise. */
  intentEventId?: string;
  /** The emitting service's causal counter (its outbox insertion number); 0 or absent when not numbered. */
  causalCounter?: number;
}

/** Limits of one Append call and one event (the contract states them). */
export const APPEND_LIMITS = {
  maxEvents: 500,
  maxBatchBytes: 1024 * 1024,
  maxDetailEntries: 32,
  maxDetailValueChars: 512,
  maxHashedValueBytes: 1024,
  maxIdChars: 256,
  maxFutureSkewMs: 5 * 60_000,
} as const;

const EVENT_ID = /^[A-Za-z0-9._:-]{8,128}$/;
const DETAIL_KEY = /^[a-z][a-z0-9_]{0,63}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** Keys whose values are secrets by name: never accepted, clear or hashed (ASVS 16.2.5). */
const FORBIDDEN_KEYS = /(^|_)(password|passphrase|secret|seed|share|otp|code|pin|private_key|token|id_token|session_token|cookie)($|_)/;
/** Keys that must go to hashed_details (personal data, searchable but not readable). */
const SENSITIVE_KEYS = new Set(['phone', 'phone_number', 'email', 'customer_user_id', 'secret_name', 'token_fingerprint']);

/** Which service may emit which action family: an event must belong to its service. */
const ACTION_PREFIX: Readonly<Record<string, string>> = {
  SERVICE_IDENTITY: 'ACTION_IDENTITY_',
  SERVICE_ALLOWLIST: 'ACTION_ALLOWLIST_',
  SERVICE_SECRETS: 'ACTION_SECRETS_',
  SERVICE_IMPERSONATION: 'ACTION_IMPERSONATION_',
  SERVICE_AUDIT: 'ACTION_AUDIT_',
  SERVICE_PRODUCT_BACKEND: 'ACTION_PRODUCT_BACKEND_',
  SERVICE_CLI: 'ACTION_CLI_',
};

/** The Service value a caller may use, from its certificate identity (`<kind>:<name>`). */
export function serviceForCaller(caller: { kind: string; name: string }): string | undefined {
  if (caller.kind === 'backend') return 'SERVICE_PRODUCT_BACKEND';
  if (caller.kind === 'operator') return 'SERVICE_CLI';
  return caller.kind === 'service' && Object.hasOwn(SERVICE_BY_NAME, caller.name) ? SERVICE_BY_NAME[caller.name] : undefined;
}

/** The Service value of each service certificate name (built once: Append checks it per event). */
const SERVICE_BY_NAME: Readonly<Record<string, string>> = {
  identity: 'SERVICE_IDENTITY',
  allowlist: 'SERVICE_ALLOWLIST',
  secrets: 'SERVICE_SECRETS',
  impersonation: 'SERVICE_IMPERSONATION',
  audit: 'SERVICE_AUDIT',
};

/** Strict dotted-quad IPv4 (no leading zeros, no short forms). */
function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** Canonical IPv4 or IPv6 (RFC 5952 lower-case compressed form), as the contract requires. */
export function isCanonicalIp(s: string): boolean {
  if (isIpv4(s)) return true;
  if (!s.includes(':') || s.length > 45 || /[^0-9a-f:.]/.test(s)) return false;
  try {
    return new URL(`http://[${s}]/`).hostname === `[${s}]`;
  } catch {
    return false;
  }
}

/** Shannon entropy in bits per character. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * Why a value looks like a secret (a JWT, a PEM block, a long high-entropy token), or
 * undefined. Append refuses such values anywhere in an event: tokens are referenced by id.
 */
export function secretLooking(value: string): string | undefined {
  if (/eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./.test(value)) return 'looks like a JWT; reference tokens by id';
  if (/-----BEGIN [A-Z ]+-----/.test(value)) return 'looks like a PEM key or certificate';
  if (/^otpauth:\/\//i.test(value)) return 'looks like an OTP seed URI';
  for (const run of value.match(/[A-Za-z0-9+/=_-]{32,}/g) ?? []) {
    const mixed = /[a-z]/.test(run) && /[A-Z]/.test(run) && /[0-9]/.test(run);
    if (mixed && entropy(run) >= 4.3) return 'looks like a raw secret or token (long high-entropy string)';
  }
  return undefined;
}

/** The path prefix naming an event in error messages. */
function at(index: number, event: AuditEventData): string {
  return `events[${index}]${event.eventId && EVENT_ID.test(event.eventId) ? ` (${event.eventId})` : ''}`;
}

function checkString(path: string, value: string, max: number, required: boolean): void {
  if (required && value.length === 0) throw new InvalidArgumentError(path, 'is required');
  // Code points, not UTF-16 units; a string no longer than max in units is within it (no spread needed).
  if (value.length > max && [...value].length > max) throw new InvalidArgumentError(path, `is longer than ${max} characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidArgumentError(path, 'contains control characters');
  const secret = secretLooking(value);
  if (secret) throw new InvalidArgumentError(path, `refused: ${secret}`);
}

function checkEnum(path: string, value: string, prefix: string, allowUnspecified = false): void {
  if (!value.startsWith(prefix) || value.endsWith('_UNRECOGNIZED') || value === 'UNRECOGNIZED') {
    throw new InvalidArgumentError(path, `unknown value ${JSON.stringify(value)}`);
  }
  if (!allowUnspecified && value === `${prefix}UNSPECIFIED`) throw new InvalidArgumentError(path, 'is required');
}

/**
 * Validates one event fully, naming the event and field of the first problem. Pure: the
 * caller passes `now` (the server clock) and the certificate identity of the appender.
 */
export function validateEvent(index: number, e: AuditEventData, caller: { kind: string; name: string }, now: Date): void {
  const p = at(index, e);
  if (!EVENT_ID.test(e.eventId)) throw new InvalidArgumentError(`${p}.event_id`, 'must be 8 to 128 characters of [A-Za-z0-9._:-]');
  if (!(e.occurredAt instanceof Date) || Number.isNaN(e.occurredAt.getTime()) || e.occurredAt.getTime() <= 0) {
    throw new InvalidArgumentError(`${p}.occurred_at`, 'is required (UTC timestamp)');
  }
  if (e.occurredAt.getTime() > now.getTime() + APPEND_LIMITS.maxFutureSkewMs) {
    throw new InvalidArgumentError(`${p}.occurred_at`, 'is more than 5 minutes in the future');
  }
  checkEnum(`${p}.service`, e.service, 'SERVICE_');
  checkEnum(`${p}.action`, e.action, 'ACTION_');
  checkEnum(`${p}.outcome`, e.outcome, 'OUTCOME_');
  const prefix = ACTION_PREFIX[e.service];
  if (!prefix || !e.action.startsWith(prefix)) {
    throw new InvalidArgumentError(`${p}.action`, `${e.action} does not belong to ${e.service}`);
  }
  const allowed = serviceForCaller(caller);
  if (allowed !== e.service) {
    throw new PermissionDeniedError(`${p}.service: ${caller.kind}:${caller.name} may not append events of ${e.service}`);
  }
  checkEnum(`${p}.actor.kind`, e.actor.kind, 'ACTOR_KIND_');
  checkString(`${p}.actor.id`, e.actor.id, APPEND_LIMITS.maxIdChars, e.actor.kind !== 'ACTOR_KIND_ANONYMOUS');
  checkString(`${p}.actor.display_name`, e.actor.displayName, APPEND_LIMITS.maxIdChars, false);
  if (e.subject) {
    checkEnum(`${p}.subject.kind`, e.subject.kind, 'SUBJECT_KIND_');
    checkString(`${p}.subject.id`, e.subject.id, APPEND_LIMITS.maxIdChars, true);
    checkString(`${p}.subject.display_name`, e.subject.displayName, APPEND_LIMITS.maxIdChars, false);
  }
  if (e.customerDomain !== '' && !DOMAIN.test(e.customerDomain)) {
    throw new InvalidArgumentError(`${p}.customer_domain`, 'must be a lower-case DNS name');
  }
  if (e.sourceIp !== '' && !isCanonicalIp(e.sourceIp)) {
    throw new InvalidArgumentError(`${p}.source_ip`, `${JSON.stringify(e.sourceIp.slice(0, 64))} is not a canonical IPv4 or IPv6 address`);
  }
  checkEnum(`${p}.environment`, e.environment, 'ENVIRONMENT_', true);
  const intent = e.intentEventId ?? '';
  if (intent !== '') {
    if (!EVENT_ID.test(intent)) throw new InvalidArgumentError(`${p}.intent_event_id`, 'must be 8 to 128 characters of [A-Za-z0-9._:-]');
    if (e.outcome === 'OUTCOME_ATTEMPTED' || intent === e.eventId) throw new InvalidArgumentError(`${p}.intent_event_id`, 'an intent (OUTCOME_ATTEMPTED) links to no other intent; only its outcome event names it');
  }
  const counter = e.causalCounter ?? 0;
  if (!Number.isSafeInteger(counter) || counter < 0) throw new InvalidArgumentError(`${p}.causal_counter`, 'must be a non-negative integer');
  if (e.requestId !== '' && !REQUEST_ID.test(e.requestId)) throw new InvalidArgumentError(`${p}.request_id`, 'must be 1 to 128 characters of [A-Za-z0-9._:-]');
  const detailKeys = Object.keys(e.details);
  const hashedKeys = Object.keys(e.hashedDetails);
  if (detailKeys.length + hashedKeys.length > APPEND_LIMITS.maxDetailEntries) {
    throw new InvalidArgumentError(`${p}.details`, `at most ${APPEND_LIMITS.maxDetailEntries} entries in details and hashed_details together`);
  }
  for (const k of detailKeys) {
    const kp = `${p}.details[${JSON.stringify(k.slice(0, 64))}]`;
    if (!DETAIL_KEY.test(k)) throw new InvalidArgumentError(kp, 'key must match ^[a-z][a-z0-9_]{0,63}$');
    if (FORBIDDEN_KEYS.test(k)) throw new InvalidArgumentError(kp, 'refused: secrets (codes, OTPs, tokens, seeds, passwords) never go to audit');
    if (SENSITIVE_KEYS.has(k)) throw new InvalidArgumentError(kp, 'is sensitive: send it in hashed_details');
    checkString(kp, e.details[k] ?? '', APPEND_LIMITS.maxDetailValueChars, false);
  }
  for (const k of hashedKeys) {
    const kp = `${p}.hashed_details[${JSON.stringify(k.slice(0, 64))}]`;
    if (!DETAIL_KEY.test(k)) throw new InvalidArgumentError(kp, 'key must match ^[a-z][a-z0-9_]{0,63}$');
    if (FORBIDDEN_KEYS.test(k)) throw new InvalidArgumentError(kp, 'refused: secrets (codes, OTPs, tokens, seeds, passwords) never go to audit, not even hashed');
    const v = e.hashedDetails[k] ?? '';
    if (v.length === 0) throw new InvalidArgumentError(kp, 'is empty');
    if (Buffer.byteLength(v, 'utf8') > APPEND_LIMITS.maxHashedValueBytes) {
      throw new InvalidArgumentError(kp, `is longer than ${APPEND_LIMITS.maxHashedValueBytes} bytes`);
    }
  }
}

/** Validates a whole batch before anything is written: one bad event refuses the batch. */
export function validateBatch(events: readonly AuditEventData[], caller: { kind: string; name: string }, now: Date): void {
  if (events.length === 0) throw new InvalidArgumentError('events', 'at least one event is required');
  if (events.length > APPEND_LIMITS.maxEvents) throw new InvalidArgumentError('events', `at most ${APPEND_LIMITS.maxEvents} events per batch`);
  const seen = new Set<string>();
  events.forEach((e, i) => {
    validateEvent(i, e, caller, now);
    if (seen.has(e.eventId)) throw new InvalidArgumentError(`events[${i}] (${e.eventId}).event_id`, 'repeats an event id of this batch');
    seen.add(e.eventId);
  });
}
