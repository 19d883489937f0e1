#!/usr/bin/env node
// `buf breaking` against main: once main has contracts, a change that breaks wire or source
// compatibility of a published v1 contract fails CI. On the commit that first adds proto/
// (or in a clone without main's history) there is nothing to compare and it says so.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
let against;
for (const ref of [process.env.GATEHOUSE_BREAKING_AGAINST, 'origin/main', 'main'].filter(Boolean)) {
  try {
    git('rev-parse', '--verify', `${ref}^{commit}`);
    // Compare with main's previous state when we are on main itself.
    const head = git('rev-parse', 'HEAD');
    const refSha = git('rev-parse', ref);
    against = refSha === head ? `${ref}~1` : ref;
    git('rev-parse', '--verify', `${against}^{commit}`);
    break;
  } catch {
    against = undefined;
  }
}
if (!against) {
  console.log('buf breaking: no earlier main commit to compare against; skipped');
  process.exit(0);
}
try {
  git('cat-file', '-e', `${against}:proto`);
} catch {
  console.log(`buf breaking: ${against} has no proto/ yet; nothing to compare`);
  process.exit(0);
}
execFileSync(path.join(root, 'node_modules/.bin/buf'), ['breaking', '--against', `.git#ref=${against},subdir=.`], { cwd: root, stdio: 'inherit' });
console.log(`buf breaking: no breaking change against ${against}`);
