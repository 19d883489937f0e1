#!/usr/bin/env node
// Runs a project's tests with Node's own runner. Node 20 expands no globs and finds no .ts
// files by itself, so we list `*.test.ts` below the given folders and hand them over.
// Usage: node tools/test-runner/run.mjs <dir> [<dir>...] [--allow-none] [-- extra node --test flags]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const sep = args.indexOf('--');
const allowNone = args.includes('--allow-none');
const dirs = (sep === -1 ? args : args.slice(0, sep)).filter((a) => a !== '--allow-none');
const extra = sep === -1 ? [] : args.slice(sep + 1);

function find(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === 'test-fixtures' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) find(full, out);
    else if (entry.name.endsWith('.test.ts') || entry.name.endsWith('.test.mjs')) out.push(full);
  }
  return out;
}

const files = dirs.flatMap((d) => find(d, [])).sort();
if (files.length === 0) {
  // A project whose behaviour is covered elsewhere (the e2e suite) may say so explicitly.
  console.log(`no test files under ${dirs.join(', ')}${allowNone ? ' (allowed: covered by the e2e suite)' : ''}`);
  process.exit(allowNone ? 0 : 1);
}
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${process.env.GATEHOUSE_TEST_CONCURRENCY ?? 2}`,
    // A test that fails while a server or timer is still open must not hang the run: exit when
    // the tests are done, and fail any single test that runs longer than five minutes.
    '--test-force-exit',
    '--test-timeout=300000',
    ...extra,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, GATEHOUSE_LOG_LEVEL: process.env.GATEHOUSE_LOG_LEVEL ?? 'silent' } },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
