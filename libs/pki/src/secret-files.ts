import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes a secret file atomically with 0600 permissions (its folder 0700), never replacing an
 * existing one: if another process created it first, EEXIST is thrown and the caller reads
 * theirs. Replicas starting together on one volume thus agree on one key.
 */
export function writeSecretFileOnce(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file); // fails if another process created it first
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * The content of a secret file, created with `create()` on first use (0600). Files that others
 * can read are tightened to 0600 rather than trusted as they are.
 */
export function loadOrCreateSecretFile(file: string, create: () => string): string {
  if (!fs.existsSync(file)) {
    try {
      writeSecretFileOnce(file, create());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  return fs.readFileSync(file, 'utf8');
}

/** Replaces a secret file atomically (0600): for values that are meant to change, like a one-time token. */
export function replaceSecretFile(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}
