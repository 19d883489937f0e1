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

/** One command of the usage text: its words (`accounts approve`), its lines, and its section. */
interface UsageEntry {
  key: string[];
  lines: string[];
  section: number;
}

/**
 * The usage text taken apart: sections (blank-line separated, headed by unindented lines),
 * entries (`  gatehouse <words> ...` plus the deeper-indented lines under them) and notes (other
 * two-space lines, e.g. "  Roles: ..."). Derived from the one usage text, so per-command help
 * cannot drift from it.
 */
function parseUsage(usage: string): { headers: string[][]; notes: string[][]; entries: UsageEntry[] } {
  const headers: string[][] = [];
  const notes: string[][] = [];
  const entries: UsageEntry[] = [];
  let section = -1;
  let inSection = false;
  let current: UsageEntry | undefined;
  for (const line of usage.split('\n')) {
    if (!line.trim()) {
      inSection = false;
      current = undefined;
      continue;
    }
    if (!inSection) {
      section += 1;
      headers.push([]);
      notes.push([]);
      inSection = true;
    }
    const indent = line.length - line.trimStart().length;
    const m = /^ {2}gatehouse (.*)$/.exec(line);
    if (m) {
      const key: string[] = [];
      for (const word of (m[1] ?? '').split(/\s+/)) {
        if (!/^[a-z][a-z-]*$/.test(word)) break;
        key.push(word);
      }
      current = { key, lines: [line], section };
      entries.push(current);
    } else if (indent === 0) {
      headers[section]?.push(line);
      current = undefined;
    } else if (indent > 2 && current) {
      current.lines.push(line);
    } else {
      notes[section]?.push(line);
      current = undefined;
    }
  }
  return { headers, notes, entries };
}

const startsWith = (words: readonly string[], prefix: readonly string[]) => prefix.every((w, i) => words[i] === w);

/**
 * The help of one command, from the usage text: `accounts approve` → its entry; `accounts` →
 * every `accounts ...` entry; `access-log example.com` → the access-log entry. Each under its
 * section's heading, with the section's notes its options name (`--roles` → "Roles: ...").
 * Undefined when no command matches `words`.
 */
export function helpFor(usage: string, words: readonly string[]): string | undefined {
  const { headers, notes, entries } = parseUsage(usage);
  const prefixes = entries.filter((e) => e.key.length > 0 && startsWith(words, e.key));
  const longest = Math.max(0, ...prefixes.map((e) => e.key.length));
  let hits = prefixes.filter((e) => e.key.length === longest);
  if (hits.length === 0 && words.length > 0) hits = entries.filter((e) => startsWith(e.key, words));
  if (hits.length === 0) return undefined;
  const out: string[] = [];
  for (const section of [...new Set(hits.map((e) => e.section))]) {
    const mine = hits.filter((e) => e.section === section);
    if (out.length) out.push('');
    out.push(...(headers[section] ?? []));
    for (const e of mine) out.push(...e.lines);
    const text = mine.flatMap((e) => e.lines).join(' ');
    for (const note of notes[section] ?? []) {
      const label = /^\s*([A-Za-z-]+):/.exec(note)?.[1];
      if (label && text.includes(`--${label.toLowerCase()}`)) out.push(note);
    }
  }
  out.push('', 'Every command: gatehouse --help');
  return out.join('\n');
}
