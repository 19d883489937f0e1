import type { AuditEventData } from '../event.js';
import type { FieldRef } from './alert-rule.js';

/**
 * The value of one field of an event, or "" when the event has none (no subject, anonymous
 * actor, no IP, ENVIRONMENT_UNSPECIFIED, missing details key). Rules treat "" as "no value":
 * an empty key would merge unrelated events (every anonymous caller) into one group.
 */
export function fieldValue(event: AuditEventData, ref: FieldRef): string {
  switch (ref.field) {
    case 'EVENT_FIELD_ACTOR_ID':
      return event.actor.id;
    case 'EVENT_FIELD_SUBJECT_ID':
      return event.subject?.id ?? '';
    case 'EVENT_FIELD_CUSTOMER_DOMAIN':
      return event.customerDomain;
    case 'EVENT_FIELD_SOURCE_IP':
      return event.sourceIp;
    case 'EVENT_FIELD_ENVIRONMENT':
      return event.environment === 'ENVIRONMENT_UNSPECIFIED' ? '' : event.environment;
    case 'EVENT_FIELD_SERVICE':
      return event.service;
    case 'EVENT_FIELD_ACTION':
      return event.action;
    case 'EVENT_FIELD_DETAIL':
      return ownValue(event.details, ref.detailKey ?? '');
    case 'EVENT_FIELD_HASHED_DETAIL':
      return ownValue(event.hashedDetails, ref.detailKey ?? '');
  }
}

/**
 * The `<field>` part of a group key (`actor_id`, `details.reason`...), as the proto Alert's
 * group_key documents it: short and readable by the officer.
 */
export function fieldLabel(ref: FieldRef): string {
  switch (ref.field) {
    case 'EVENT_FIELD_ACTOR_ID':
      return 'actor_id';
    case 'EVENT_FIELD_SUBJECT_ID':
      return 'subject_id';
    case 'EVENT_FIELD_CUSTOMER_DOMAIN':
      return 'customer_domain';
    case 'EVENT_FIELD_SOURCE_IP':
      return 'source_ip';
    case 'EVENT_FIELD_ENVIRONMENT':
      return 'environment';
    case 'EVENT_FIELD_SERVICE':
      return 'service';
    case 'EVENT_FIELD_ACTION':
      return 'action';
    case 'EVENT_FIELD_DETAIL':
      return `details.${ref.detailKey ?? ''}`;
    case 'EVENT_FIELD_HASHED_DETAIL':
      return `hashed_details.${ref.detailKey ?? ''}`;
  }
}

/**
 * Encodes group values as `<field>=<value>` pairs joined by ",". `%`, `,` and `=` in values are
 * percent-encoded so that two different groups can never produce the same key (ids are free
 * text up to 256 characters), while ordinary ids stay readable.
 */
export function encodeGroupKey(labels: readonly string[], values: readonly string[]): string {
  let key = '';
  for (let i = 0; i < labels.length; i++) {
    if (i > 0) key += ',';
    key += `${labels[i] ?? ''}=${escapeValue(values[i] ?? '')}`;
  }
  return key;
}

const NEEDS_ESCAPE = /[%,=]/;

function escapeValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/%/g, '%25').replace(/,/g, '%2C').replace(/=/g, '%3D');
}

/** Details are plain records from storage; never read inherited keys such as "constructor". */
function ownValue(map: Readonly<Record<string, string>>, key: string): string {
  return Object.hasOwn(map, key) ? (map[key] ?? '') : '';
}
