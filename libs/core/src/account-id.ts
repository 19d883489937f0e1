import { InvalidArgumentError } from './errors.js';

/** Account ids as services accept them from callers: printable, no spaces, never starting with an operator character. */
const ACCOUNT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,255}$/;

/**
 * An account id named in a request (a filter, a claimed employee). Checked before anything is
 * decided or recorded: audit refuses control characters in actor and detail fields, so an id it
 * would refuse must be refused here, with the field named, and `$ne` is just an invalid id.
 */
export function checkAccountId(value: string, field = 'account_id'): string {
  if (typeof value !== 'string' || !ACCOUNT_ID_RE.test(value)) {
    throw new InvalidArgumentError(field, 'is not an account id (1-256 letters, digits and . _ : @ -, not starting with a symbol)');
  }
  return value;
}
