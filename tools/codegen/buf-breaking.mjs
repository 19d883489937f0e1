#!/usr/bin/env node
// `buf breaking` against main: once main has contracts, a change that breaks wire or source
// compatibility of a published v1 contract fails CI. We compare with the previous commit of
// main (or GATEHOUSE_BREAKING_AGAINST, any git revision). On the commit that first adds proto/,
// or in a clone without history, there is nothing to compare and it says so.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const tryGit = (...args) => {
  try {
    return git(...args);
  } catch {
    return undefined;
  }
};

const wanted = process.env.GATEHOUSE_BREAKING_AGAINST ?? 'HEAD~1';
const sha = tryGit('rev-parse', '--verify', `${wanted}^{commit}`);
if (!sha) {
  console.log(`buf breaking: no ${wanted} to compare against (first commit or shallow clone); skipped`);
  process.exit(0);
}
if (tryGit('cat-file', '-e', `${sha}:proto`) === undefined) {
  console.log(`buf breaking: ${wanted} (${sha.slice(0, 12)}) has no proto/ yet; nothing to compare`);
  process.exit(0);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-breaking-'));
try {
  const tar = execFileSync('git', ['archive', '--format=tar', sha, 'proto', 'buf.yaml'], { cwd: root, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  try {
    execFileSync(path.join(root, 'node_modules/.bin/buf'), ['breaking', '--against', dir], { cwd: root, stdio: 'inherit' });
  } catch {
    console.error(`buf breaking: the contracts break compatibility with ${wanted} (${sha.slice(0, 12)}); deprecate instead of renumbering or removing`);
    process.exitCode = 1;
  }
  if (!process.exitCode) console.log(`buf breaking: no breaking change against ${wanted} (${sha.slice(0, 12)})`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
