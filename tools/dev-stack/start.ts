/**
 * `npm start`: builds what is needed, then runs the whole stack on the embedded default
 * (stack.ts). No shebang: package.json runs `node --import tsx` on it, and tsx's lexer misreads
 * a shebang followed by a backquote in a comment once the file has a dynamic import. On a fresh clone the generated contracts (libs/contracts/src/gen) do not exist
 * until the build has generated them, and every workspace library that talks gRPC loads them;
 * so this entry loads only @gatehouse/pki (no generated code) to check the settings, builds,
 * and only then imports the stack. CI runs it on a fresh clone (fresh-clone-check.mjs).
 *
 * Settings (environment): GATEHOUSE_DEV_BASE_PORT (7101), GATEHOUSE_DEV_METRICS_BASE_PORT (9101),
 * GATEHOUSE_DEV_DIR (.gatehouse), GATEHOUSE_DEV_SKIP_BUILD (unset: build; set: only generate the
 * contracts if they are missing).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { devStackLayout, DevStackSettingError } from '@gatehouse/pki';

const root = path.resolve(import.meta.dirname, '../..');
const t0 = performance.now();

/** Runs nx once; the daemon is off, since it would outlive Ctrl-C. */
function nx(args: string[], what: string): void {
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/nx/dist/bin/nx.js'), ...args, '--output-style=static'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, NX_TUI: 'false', NX_DAEMON: 'false' },
  });
  if (r.status !== 0) {
    console.error(`${what} failed; see above`);
    process.exit(r.status ?? 1);
  }
}

try {
  devStackLayout(process.env, root); // a bad GATEHOUSE_DEV_* value fails now, not after the build
} catch (err) {
  if (!(err instanceof DevStackSettingError)) throw err;
  console.error(err.message);
  process.exit(2);
}

if (!process.env['GATEHOUSE_DEV_SKIP_BUILD']) {
  console.log('building the services and the CLI (cached after the first run)...');
  nx(['run-many', '-t', 'build', '--projects=tag:type:app'], 'build');
} else if (!fs.existsSync(path.join(root, 'libs/contracts/src/gen/descriptor-set.ts'))) {
  nx(['run', 'contracts:generate'], 'generating the contracts');
}

const stack = await import('./stack.js');
stack.runStack(t0).catch(stack.stopAfterError);
