import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError } from '@gatehouse/core';
import type { KeyFile, KeyFileStore } from '../domain/seal/index.js';

/**
 * The sealed key file on disk (P3: the key lives outside the database): JSON, mode 0600 in a
 * 0700 folder. The first write (Initialize) is exclusive, so two processes initialising the
 * same folder cannot both win and orphan one set of shares; later writes (rotation) replace
 * it atomically (temporary file, fsync, rename, fsync of the folder), so a crash never leaves
 * half a key file.
 */
export class FileKeyFileStore implements KeyFileStore {
  /** What the last read found: a write after "nothing" must create (exclusively), after a file must replace. */
  private sawFile = false;

  constructor(private readonly file: string) {}

  async read(): Promise<KeyFile | undefined> {
    let text: string;
    try {
      const stat = await fs.stat(this.file);
      if ((stat.mode & 0o077) !== 0) await fs.chmod(this.file, 0o600);
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.sawFile = false;
        return undefined;
      }
      throw err;
    }
    this.sawFile = true;
    // The seal manager validates the structure (parseKeyFile); here it only has to be JSON.
    return JSON.parse(text) as KeyFile;
  }

  async write(file: KeyFile): Promise<void> {
    const dir = path.dirname(this.file);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const data = `${JSON.stringify(file, null, 2)}\n`;
    if (!this.sawFile) {
      // Initialize: exclusive creation; EEXIST means another process initialised first.
      let handle: fs.FileHandle;
      try {
        handle = await fs.open(this.file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new FailedPreconditionError('the secrets service is already initialised (another process wrote the key file first)');
        throw err;
      }
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.sawFile = true;
    } else {
      const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
      const handle = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, this.file);
    }
    const d = await fs.open(dir, constants.O_RDONLY);
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
}
