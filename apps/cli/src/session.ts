import fs from 'node:fs';
import { UsageError } from './commands/pki.js';
import { readStoredSession, sessionFilePath } from './session-store.js';

/**
 * The employee's session token for calls that need one: GATEHOUSE_SESSION_TOKEN, or the file
 * named by GATEHOUSE_SESSION_FILE, or else the session `gatehouse login` stored in the config
 * folder. The token is never printed.
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
  let stored: string | undefined;
  try {
    stored = readStoredSession(env);
  } catch (err) {
    throw new UsageError(`cannot read your stored session ${sessionFilePath(env)} (${(err as NodeJS.ErrnoException).code ?? String(err)}); run \`gatehouse login\` again`);
  }
  if (stored) return stored;
  throw new UsageError(
    'this command needs your session: run `gatehouse login` first (or set GATEHOUSE_SESSION_TOKEN or GATEHOUSE_SESSION_FILE)',
  );
}
