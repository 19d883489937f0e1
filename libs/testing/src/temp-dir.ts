import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A private (0700) scratch folder for one test. */
export interface TempDir {
  readonly path: string;
  /** Removes it and everything in it; safe to call twice. */
  cleanup(): Promise<void>;
}

const leftovers = new Set<string>();
let exitHookInstalled = false;

/**
 * Creates a fresh folder under the OS temp dir. Tests should call cleanup(); whatever they leave
 * (a failed assertion, a killed case) is removed when the process exits, so runs don't fill /tmp.
 */
export async function tempDir(prefix = 'test'): Promise<TempDir> {
  const safe = prefix.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40) || 'test';
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), `gatehouse-${safe}-`));
  leftovers.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const left of leftovers) fs.rmSync(left, { recursive: true, force: true });
    });
  }
  return {
    path: dir,
    cleanup: async () => {
      leftovers.delete(dir);
      await fs.promises.rm(dir, { recursive: true, force: true });
    },
  };
}
