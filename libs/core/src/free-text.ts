import { InvalidArgumentError } from './errors.js';

/**
 * A free-text request field (a reason, a label, a note) as every service accepts it: trimmed,
 * at most `max` characters, no control characters (audit refuses them in event details, so an
 * action must refuse them before it changes anything). INVALID_ARGUMENT names the field.
 */
export function freeText(value: unknown, field: string, opts: { required: boolean; max: number }): string {
  const v = typeof value === 'string' ? value.trim() : '';
  if (opts.required && v.length === 0) throw new InvalidArgumentError(field, 'is required');
  if ([...v].length > opts.max) throw new InvalidArgumentError(field, `must be at most ${opts.max} characters`);
  if (/\p{Cc}/u.test(v)) throw new InvalidArgumentError(field, 'must not contain control characters');
  return v;
}
