import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

type Env = Record<string, string | undefined>;

/**
 * The CLI's own configuration folder: GATEHOUSE_CONFIG_DIR, else $XDG_CONFIG_HOME/gatehouse,
 * else ~/.config/gatehouse.
 */
export function configDir(env: Env): string {
  const explicit = env['GATEHOUSE_CONFIG_DIR'];
  if (explicit) return path.resolve(explicit);
  const xdg = env['XDG_CONFIG_HOME'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'gatehouse');
  return path.join(env['HOME'] || os.homedir(), '.config', 'gatehouse');
}

/** Where `gatehouse login` keeps the session token. */
export function sessionFilePath(env: Env): string {
  return path.join(configDir(env), 'session');
}

/**
 * Stores the session token, readable by the owner only: the folder 0700, the file 0600. The
 * token is written to a new 0600 file that then replaces the old one, so it is never readable by
 * others, not even for a moment, whatever the old file's permissions were.
 */
export function saveSession(env: Env, token: string): string {
  const dir = configDir(env);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const file = sessionFilePath(env);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  try {
    fs.writeFileSync(tmp, token, { mode: 0o600, flag: 'wx' });
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return file;
}

/**
 * The stored session token, or undefined when there is none. A file found with permissions wider
 * than 0600 is narrowed to 0600 first.
 */
export function readStoredSession(env: Env): string | undefined {
  const file = sessionFilePath(env);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  const token = fs.readFileSync(file, 'utf8').trim();
  return token || undefined;
}

/** Deletes the stored session; true if there was one. */
export function deleteStoredSession(env: Env): boolean {
  const file = sessionFilePath(env);
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
