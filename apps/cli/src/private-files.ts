import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './commands/pki.js';

/**
 * A file for a secret (a release token, a bundle, a key share), created before the secret
 * exists so that a path that is taken is refused before anything irreversible happens:
 * exclusively (never over an existing file or through a symlink) with mode 0600. Write, then
 * commit; discard removes it when the secret never came.
 */
export interface PrivateFile {
  readonly path: string;
  write(data: string | Buffer): void;
  commit(): void;
  discard(): void;
}

/** Creates `file` exclusively with mode 0600; an existing file is a usage error naming `what`. */
export function createPrivateFile(cmd: string, file: string, what: string): PrivateFile {
  const full = path.resolve(file);
  let fd: number;
  try {
    fd = fs.openSync(full, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${cmd}: ${full} exists; ${what} is never written over an existing file: remove it or choose a new path`);
    throw new UsageError(`${cmd}: cannot create ${full} (${code ?? String(err)})`);
  }
  let open = true;
  const close = (): void => {
    if (open) fs.closeSync(fd);
    open = false;
  };
  try {
    fs.fchmodSync(fd, 0o600); // whatever the umask
  } catch (err) {
    close();
    fs.rmSync(full, { force: true });
    throw err;
  }
  return {
    path: full,
    write(data) {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let at = 0; at < buf.length; ) at += fs.writeSync(fd, buf, at, buf.length - at);
    },
    commit() {
      fs.fsyncSync(fd);
      close();
    },
    discard() {
      close();
      fs.rmSync(full, { force: true });
    },
  };
}

/** Creates a new folder with mode 0700 for secret files; an existing path is a usage error. */
export function createPrivateDir(cmd: string, dir: string): string {
  const full = path.resolve(dir);
  try {
    fs.mkdirSync(full, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${cmd}: ${full} exists; give a new folder (it is created with mode 0700)`);
    throw new UsageError(`${cmd}: cannot create the folder ${full} (${code ?? String(err)})`);
  }
  fs.chmodSync(full, 0o700);
  return full;
}

/** The bytes of a file holding a secret; an unreadable file is a usage error (its content is never shown). */
export function readSecretFile(cmd: string, flag: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`${cmd}: cannot read ${flag} ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
