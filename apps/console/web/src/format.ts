/** Formats an ISO-8601 instant for reading in the viewer's time zone; '' stays '—'. */
export function formatTime(iso: string): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString('en-GB', {
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  });
}

/** Milliseconds as hh:mm:ss (never negative), for the daily cut-off countdown. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  return [hours, minutes, seconds].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * Turns a datetime-local value (the viewer's local time, no zone) into the API's ISO-8601 UTC
 * form; an empty or unreadable value means "not set" ('').
 */
export function localInputToIso(value: string): string {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

/** Splits a comma separated list (ticket references), dropping blanks. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Human names of the roles; the role id stays in every accessible label. */
export const ROLE_NAMES: Readonly<Record<string, string>> = {
  security_officer: 'Security officer',
  manager: 'Manager',
  team_lead: 'Team lead',
  developer: 'Developer',
  support: 'Support',
};

/** Human names of the impersonation reasons. */
export const REASON_NAMES: Readonly<Record<string, string>> = {
  customer_support_case: 'Customer support case',
  bug_investigation: 'Bug investigation',
  incident_response: 'Incident response',
};

/** The [value, text] pairs of a select, in the order given; the text is the value unless `text` says otherwise. */
export function choices<V extends string>(
  values: readonly V[],
  text: (value: V) => string = (value) => value,
): ReadonlyArray<readonly [V, string]> {
  return values.map((value) => [value, text(value)] as const);
}
