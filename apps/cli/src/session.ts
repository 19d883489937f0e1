import fs from 'node:fs';
import { UsageError } from './commands/pki.js';

/**
 * The employee's session token for calls that need one: GATEHOUSE_SESSION_TOKEN, or the file
 * named by GATEHOUSE_SESSION_FILE. The token is never printed.
 */
export function sessionToken(env: Record<string, string | undefined>): string {
  const inline = env['GATEHOUSE_SESSION_TOKEN'];
  if (inline) return inline.trim();
  const file = env['GATEHOUSE_SESSION_FILE'];
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch {
      throw new UsageError(`cannot read the session file ${file} (GATEHOUSE_SESSION_FILE)`);
    }
  }
  throw new UsageError('this command needs your session: set GATEHOUSE_SESSION_TOKEN or GATEHOUSE_SESSION_FILE (sign in first)');
}
