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
