import { UsageError } from './commands/pki.js';

/** A required option's text, trimmed; missing or blank is a usage error saying what it is for. */
export function requireText(cmd: string, flag: string, value: string | undefined, what: string): string {
  if (!value?.trim()) throw new UsageError(`${cmd}: ${flag} is required (${what})`);
  return value.trim();
}

/** A required positional argument, trimmed; missing or blank is a usage error showing `usage`. */
export function requireArg(cmd: string, value: string | undefined, usage: string): string {
  if (!value?.trim()) throw new UsageError(`${cmd}: ${usage}`);
  return value.trim();
}

/** A whole number from `min` to `max`; anything else is a usage error naming `flag`. */
export function wholeNumber(cmd: string, flag: string, value: string | undefined, min: number, max: number): number {
  const n = value === undefined || !/^\s*\d+\s*$/.test(value) ? NaN : Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${cmd}: ${flag} must be a whole number from ${min} to ${max}`);
  return n;
}

/** A duration such as "15m", "1h", "90s" or "1h30m", in seconds; anything else (or zero) is a usage error naming `flag`. */
export function parseDuration(cmd: string, flag: string, value: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(value.trim());
  const seconds = m ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : 0;
  if (!m || !Number.isSafeInteger(seconds) || seconds <= 0) throw new UsageError(`${cmd}: ${flag} must be a duration such as 15m, 1h or 90s`);
  return seconds;
}

/** An ISO 8601 date or date-time (2026-11-27, 2026-11-27T10:00:00Z); anything else is a usage error naming `flag`. */
export function parseTime(cmd: string, flag: string, value: string): Date {
  const d = new Date(value.trim());
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim()) || Number.isNaN(d.getTime())) {
    throw new UsageError(`${cmd}: ${flag} must be a date/time (ISO 8601), e.g. 2026-11-27T10:00:00Z`);
  }
  return d;
}

/**
 * The values of a repeatable, comma-separated option (`--state a,b --state c`) looked up by
 * lower-case name ('-' read as '_'), each once, in the order given; an unknown name is a usage
 * error listing the `known` ones.
 */
export function namedValues<T>(cmd: string, flag: string, values: readonly string[], byName: Readonly<Record<string, T>>, known: string): T[] {
  const found: T[] = [];
  for (const raw of values.flatMap((v) => v.split(','))) {
    const name = raw.trim().toLowerCase().replace(/-/g, '_');
    if (!name) continue;
    const value = Object.hasOwn(byName, name) ? byName[name] : undefined;
    if (value === undefined) throw new UsageError(`${cmd}: ${flag} must be ${known}, got ${JSON.stringify(raw.trim())}`);
    if (!found.includes(value)) found.push(value);
  }
  return found;
}
