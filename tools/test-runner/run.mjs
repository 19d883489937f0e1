#!/usr/bin/env node
// Runs a project's tests with Node's own runner and accounts for every test of every file.
// Node 20 expands no globs and finds no .ts files by itself, so we list `*.test.ts` below the
// given folders (or take the given files) and run each file in its own process.
//
// Why one process per file, run by us and not by `node --test`: on Node 20, `--test-force-exit`
// silently dropped the 7 tests of a file from a CI run (the child exited before its last events
// were written, and a child that reports nothing still counts as a passing file). So:
// - each file runs with the spec reporter (for people) and count-reporter.mjs (for us), and the
//   run fails if a file reports fewer results than it declared, reports none, or ends before the
//   test runner finished it;
// - nothing forces the exit: a file whose tests are done but whose process does not exit (a
//   server, timer, socket or child process left open) is killed after a grace period and fails,
//   named; a file that runs longer than the test timeout is killed and fails, as `--test-timeout`
//   does for a file on Node 20;
// - the process group of each file is ours, so a child process a test left running is found,
//   killed and reported.
//
// Usage: node tools/test-runner/run.mjs <dir|file> [...] [--allow-none] [-- extra node flags]
// Environment: GATEHOUSE_TEST_CONCURRENCY (files at once, default 2), GATEHOUSE_TEST_EXIT_GRACE_MS
// (how long a file may stay alive after its tests are done, default 30000).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FileAccount } from './file-account.mjs';

const args = process.argv.slice(2);
const sep = args.indexOf('--');
const allowNone = args.includes('--allow-none');
const roots = (sep === -1 ? args : args.slice(0, sep)).filter((a) => a !== '--allow-none');
const extra = sep === -1 ? [] : args.slice(sep + 1);

const timeoutFlag = extra.find((a) => a.startsWith('--test-timeout='));
const fileTimeoutMs = timeoutFlag ? Number(timeoutFlag.slice('--test-timeout='.length)) : 300_000;
const exitGraceMs = Number(process.env.GATEHOUSE_TEST_EXIT_GRACE_MS ?? 30_000);
const concurrency = Math.max(1, Number(process.env.GATEHOUSE_TEST_CONCURRENCY ?? 2));
const reporter = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'count-reporter.mjs')).href;
// count-reporter.mjs writes to a file we read as it grows (a spawned child's extra stdio is a
// socket, which the reporter's destination cannot open).
const eventsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-test-runner-'));
process.on('exit', () => fs.rmSync(eventsDir, { recursive: true, force: true }));
let fileNumber = 0;

/** @param {string} dir @param {string[]} out */
function find(dir, out) {
  if (!fs.existsSync(dir)) return out;
  if (fs.statSync(dir).isFile()) return [...out, dir];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === 'test-fixtures' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) find(full, out);
    else if (entry.name.endsWith('.test.ts') || entry.name.endsWith('.test.mjs')) out.push(full);
  }
  return out;
}

/** @type {{ file: string, root: string }[]} */
const files = roots.flatMap((root) => find(root, []).sort().map((file) => ({ file, root })));
if (files.length === 0) {
  // A project whose behaviour is covered elsewhere (the e2e suite) may say so explicitly.
  console.log(`no test files under ${roots.join(', ')}${allowNone ? ' (allowed: covered by the e2e suite)' : ''}`);
  process.exit(allowNone ? 0 : 1);
}

/** @type {Set<import('node:child_process').ChildProcess>} */
const running = new Set();

/** Signals the file's whole process group (it leads one: spawned detached). */
function killGroup(/** @type {import('node:child_process').ChildProcess} */ child, /** @type {NodeJS.Signals} */ signal) {
  try {
    process.kill(-(/** @type {number} */ (child.pid)), signal);
    return true;
  } catch {
    return false; // the group is gone
  }
}

/**
 * Whether a process other than a zombie is in the process group (Linux: /proc; elsewhere the
 * check is skipped). A zombie is dead, only not yet reaped by whoever inherited it.
 * @param {number} pgid
 */
function liveInGroup(pgid) {
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return false;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/**
 * Runs one test file in its own process and accounts for its tests.
 * @param {string} file
 * @returns {Promise<{ account: FileAccount, problem: string | undefined }>} the output is written when the file is done
 */
async function runFile(file) {
  const eventsFile = path.join(eventsDir, `${fileNumber++}.jsonl`);
  fs.writeFileSync(eventsFile, '');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      // Kept for a Node that applies it per test; on Node 20 it only applies to `--test` runs
      // (per file), so the per-file limit below enforces the same bound.
      `--test-timeout=${fileTimeoutMs}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${reporter}`,
      `--test-reporter-destination=${eventsFile}`,
      ...extra,
      file,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // leads its own process group: what it leaves running is found and killed
      env: { ...process.env, GATEHOUSE_LOG_LEVEL: process.env.GATEHOUSE_LOG_LEVEL ?? 'silent' },
    },
  );
  running.add(child);
  const account = new FileAccount();
  /** @type {Buffer[]} */
  const output = [];
  child.stdout.on('data', (/** @type {Buffer} */ chunk) => output.push(chunk));
  child.stderr.on('data', (/** @type {Buffer} */ chunk) => output.push(chunk));
  const outputClosed = Promise.all([child.stdout, child.stderr].map((s) => new Promise((r) => s.once('close', r))));
  const exited = /** @type {Promise<[number | null, string | null]>} */ (
    new Promise((r) => child.once('exit', (code, signal) => r([code, signal])))
  );

  /** @type {string | undefined} */
  let killedFor;
  const kill = (/** @type {string} */ reason) => {
    if (killedFor) return;
    killedFor = reason;
    killGroup(child, 'SIGTERM');
    setTimeout(() => killGroup(child, 'SIGKILL'), 3000).unref();
  };
  const ceiling = setTimeout(() => kill(`ran longer than the test timeout of ${fileTimeoutMs} ms`), fileTimeoutMs);
  /** @type {NodeJS.Timeout | undefined} */
  let grace;
  // Armed while every declared test has reported (or the root plan arrived); any new event disarms it.
  const watchExit = () => {
    clearTimeout(grace);
    if (!account.settled && account.rootPlan === undefined) return;
    grace = setTimeout(
      () => kill(`its tests were done but the process did not exit within ${exitGraceMs} ms: it leaves a server, timer, socket or child process open`),
      exitGraceMs,
    );
  };

  const fd = fs.openSync(eventsFile, 'r');
  const buffer = Buffer.alloc(64 * 1024);
  let offset = 0;
  let partial = '';
  const readEvents = () => {
    let seen = false;
    for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, offset)) > 0; ) {
      offset += n;
      const lines = (partial + buffer.toString('utf8', 0, n)).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        account.add(JSON.parse(line));
        seen = true;
      }
    }
    if (seen) watchExit();
  };
  const poll = setInterval(readEvents, 100);

  const [code, signal] = await exited;
  clearInterval(poll);
  readEvents();
  fs.closeSync(fd);
  clearTimeout(ceiling);
  clearTimeout(grace);
  running.delete(child);

  // A live process left in the group is a child process a test started and never stopped (one
  // killed as the file exits may take a moment to die). It would also hold our pipes open.
  let leftovers = false;
  if (!killedFor) {
    for (let waited = 0; (leftovers = liveInGroup(/** @type {number} */ (child.pid))) && waited < 1000; waited += 50) await sleep(50);
  }
  killGroup(child, 'SIGKILL');
  // A process that left our group (detached by a test) may still hold the pipes: stop waiting then.
  await Promise.race([outputClosed, sleep(5000)]);
  child.stdout.destroy();
  child.stderr.destroy();
  process.stdout.write(Buffer.concat(output));

  let problem = account.problem({ code, signal, killedFor });
  if (!problem && leftovers) problem = 'left a child process running after its tests (killed it)';
  return { account, problem };
}

for (const signal of /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    for (const child of running) killGroup(child, 'SIGKILL');
    process.exit(130);
  });
}

/** @typedef {{ files: number, declared: number, results: number, pass: number, fail: number, cancelled: number, skipped: number, todo: number }} Totals */
/** @returns {Totals} */
const zero = () => ({ files: 0, declared: 0, results: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 });
/** @type {Map<string, Totals>} */
const perRoot = new Map(roots.map((root) => [root, zero()]));
const total = zero();
/** @type {string[]} */
const problems = [];

let next = 0;
async function worker() {
  while (next < files.length) {
    const { file, root } = files[next++];
    const { account, problem } = await runFile(file);
    if (problem) {
      problems.push(`✖ ${file}: ${problem}`);
      console.log(`✖ ${file}: ${problem}\n`);
    }
    for (const sum of [perRoot.get(root) ?? zero(), total]) {
      sum.files += 1;
      sum.declared += account.declared;
      sum.results += account.results;
      sum.pass += account.pass;
      sum.fail += account.fail;
      sum.cancelled += account.cancelled;
      sum.skipped += account.skipped;
      sum.todo += account.todo;
    }
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

/** @param {Totals} t */
function line(t) {
  const also = [t.cancelled ? `${t.cancelled} cancelled` : '', t.todo ? `${t.todo} todo` : ''].filter(Boolean);
  return (
    `test files ${t.files}, tests declared ${t.declared}, results ${t.results} ` +
    `(pass ${t.pass}, fail ${t.fail + t.cancelled}, skipped ${t.skipped + t.todo})${also.length ? ` [of which ${also.join(', ')}]` : ''}`
  );
}

console.log('');
for (const p of problems) console.log(p);
if (roots.length > 1) for (const [root, t] of perRoot) console.log(`${root}: ${line(t)}`);
console.log(line(total));
process.exit(problems.length > 0 || total.fail + total.cancelled > 0 ? 1 : 0);
