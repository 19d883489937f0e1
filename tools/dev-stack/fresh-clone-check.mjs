#!/usr/bin/env node
// The README's first command, `npm install && npm start`, on a fresh clone of this checkout, as a
// newcomer runs it: `git clone` (HEAD, so only committed work) into a temp folder, `npm install`,
// `npm start` until all five services are SERVING, then Ctrl-C: SIGINT to the whole process
// group, as a terminal sends it. Passes only if the stack came up and, after Ctrl-C, no process
// of the clone is left (in the group or anywhere with its working directory in the clone, which
// catches daemons) and no port of the stack is still open. Exit 0 pass, 1 fail, 2 usage.
//
// Bounded: each phase has a deadline (seconds: GATEHOUSE_FRESH_CLONE_INSTALL_S, default 900;
// GATEHOUSE_FRESH_CLONE_START_S, default 600; GATEHOUSE_FRESH_CLONE_STOP_S, default 30). Ports:
// ten consecutive free ones from 19000-19899 (below the ephemeral range and away from the
// dev-stack test's 10000-18999 and the audit outbox test's 20000-29999). The clone is deleted
// afterwards, pass or fail (GATEHOUSE_FRESH_CLONE_KEEP=1 keeps it). npm uses its cache
// (prefer-offline); better-sqlite3 still compiles from source when no prebuilt binary is reachable.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = path.resolve(import.meta.dirname, '../..');
const SERVICES = ['identity', 'allowlist', 'secrets', 'impersonation', 'audit'];
const t0 = Date.now();
const secs = (from = t0) => `${((Date.now() - from) / 1000).toFixed(1)} s`;
const log = (line) => console.log(`[fresh-clone ${secs()}] ${line}`);

function seconds(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 7200) {
    console.error(`${name}: expected whole seconds from 1 to 7200, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}
const installS = seconds('GATEHOUSE_FRESH_CLONE_INSTALL_S', 900);
const startS = seconds('GATEHOUSE_FRESH_CLONE_START_S', 600);
const stopS = seconds('GATEHOUSE_FRESH_CLONE_STOP_S', 30);
const keep = process.env['GATEHOUSE_FRESH_CLONE_KEEP'] === '1';

/** The environment of a newcomer's shell: none of our own settings, no CI switches (nx would then start its daemon, which must not outlive Ctrl-C either). */
function newcomerEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('GATEHOUSE_') || k.startsWith('NX_') || k === 'CI' || k.startsWith('npm_')) continue;
    env[k] = v;
  }
  return { ...env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', ...extra };
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function pickBase() {
  for (let i = 0; i < 50; i++) {
    const base = 19_000 + 20 * Math.floor(Math.random() * 44);
    const ports = Array.from({ length: 11 }, (_, k) => base + k);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no eleven consecutive free ports in 19000-19899');
}

/** Processes of `pgid`, and any process whose working directory or command line is inside `dir`. */
function leftovers(pgid, dir) {
  const found = new Map();
  const ps = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' });
  for (const line of ps.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    let cwd = '';
    try {
      cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // gone, or not ours to read
    }
    if (Number(m[2]) === pgid || cwd === dir || cwd.startsWith(`${dir}/`) || m[3].includes(dir)) found.set(pid, m[3]);
  }
  return found;
}

/** Spawns `cmd` in its own process group (so Ctrl-C can be sent to all of it), output to `logFile` and kept in memory. */
function launch(cmd, args, cwd, env, logFile) {
  const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const sink = fs.createWriteStream(logFile);
  const state = { child, out: '', exited: false, code: null, signal: null };
  for (const s of [child.stdout, child.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (d) => {
      state.out += d;
      sink.write(d);
    });
  }
  child.on('exit', (code, signal) => Object.assign(state, { exited: true, code, signal }));
  child.on('error', (err) => Object.assign(state, { exited: true, code: -1, out: `${state.out}\n${err.message}` }));
  return state;
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

const tail = (text, n = 60) => text.trimEnd().split('\n').slice(-n).join('\n');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-fresh-clone-'));
const clone = path.join(tmp, 'gatehouse');
let install;
let start;
const failures = [];

async function main() {
  const head = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  log(`git clone ${root} (HEAD ${head}) -> ${clone}`);
  execFileSync('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', root, clone], { stdio: ['ignore', 'inherit', 'inherit'] });

  log(`npm install (at most ${installS} s)`);
  const tInstall = Date.now();
  install = launch('npm', ['install'], clone, newcomerEnv({}), path.join(tmp, 'npm-install.log'));
  while (!install.exited && Date.now() - tInstall < installS * 1000) await sleep(250);
  if (!install.exited) {
    killGroup(install.child.pid, 'SIGKILL');
    failures.push(`npm install did not finish within ${installS} s`);
    console.log(tail(install.out));
    return;
  }
  if (install.code !== 0) {
    failures.push(`npm install failed (${install.signal ?? `exit ${install.code}`})`);
    console.log(tail(install.out));
    return;
  }
  log(`npm install done in ${secs(tInstall)}: ${tail(install.out, 3).replace(/\n/g, ' | ')}`);

  const base = await pickBase();
  log(`npm start on ports ${base}-${base + 4} (metrics ${base + 5}-${base + 9}, console ${base + 10}), at most ${startS} s until SERVING`);
  const tStart = Date.now();
  start = launch('npm', ['start'], clone, newcomerEnv({ GATEHOUSE_DEV_BASE_PORT: String(base), GATEHOUSE_DEV_METRICS_BASE_PORT: String(base + 5), GATEHOUSE_DEV_CONSOLE_PORT: String(base + 10) }), path.join(tmp, 'npm-start.log'));
  const up = () => /Gatehouse dev stack is up/.test(start.out);
  while (!up() && !start.exited && Date.now() - tStart < startS * 1000) await sleep(250);
  if (!up()) {
    failures.push(start.exited ? `npm start exited (${start.signal ?? `exit ${start.code}`}) before the stack was up` : `the stack was not up within ${startS} s`);
    console.log(tail(start.out));
    return;
  }
  await sleep(300); // the rest of the table
  const table = start.out.split('\n').filter((l) => /^service +address|^[a-z]+ +127\.0\.0\.1:\d+ /.test(l));
  for (const l of table) console.log(`    ${l}`);
  for (const svc of SERVICES) {
    if (!new RegExp(`^${svc}\\s+127\\.0\\.0\\.1:\\d+\\s+\\S+\\s+\\S+\\s+SERVING\\s*$`, 'm').test(start.out)) failures.push(`${svc} is not SERVING`);
  }
  const consoleRow = new RegExp(`^console\\s+http://127\\.0\\.0\\.1:${base + 10}/\\s+SERVING`, 'm');
  if (!consoleRow.test(start.out)) failures.push('the console is not answering (no "console <url> SERVING" row)');
  log(`stack up in ${secs(tStart)} (build included)`);

  const pgid = start.child.pid;
  const before = leftovers(pgid, clone);
  const serviceProcs = [...before.values()].filter((a) => /dist\/apps\/[a-z]+\/main\.mjs/.test(a));
  log(`${before.size} process(es) of the clone are running, ${serviceProcs.length} of them services`);
  if (serviceProcs.length !== 6) failures.push(`expected 6 processes (5 services and the console), found ${serviceProcs.length}: ${[...before.values()].join(' ; ')}`);

  log('Ctrl-C: SIGINT to the process group of npm start');
  const tStop = Date.now();
  killGroup(pgid, 'SIGINT');
  while (!start.exited && Date.now() - tStop < stopS * 1000) await sleep(100);
  if (!start.exited) failures.push(`npm start did not exit within ${stopS} s of Ctrl-C`);
  else log(`npm start exited (${start.signal ?? `exit ${start.code}`}) ${secs(tStop)} after Ctrl-C`);
  // npm returns at once; the launcher stops the services behind it. Everything must be gone within the same bound.
  let left = leftovers(pgid, clone);
  while (left.size > 0 && Date.now() - tStop < stopS * 1000) {
    await sleep(250);
    left = leftovers(pgid, clone);
  }
  if (left.size === 0) log(`every process of the clone gone ${secs(tStop)} after Ctrl-C`);
  if (!/all services stopped/.test(start.out)) failures.push('the launcher did not report "all services stopped"');
  for (const [pid, args] of left) failures.push(`left behind: pid ${pid}: ${args}`);
  const open = [];
  for (let p = base; p <= base + 10; p++) if (await portOpen(p)) open.push(p);
  if (open.length) failures.push(`ports still open after Ctrl-C: ${open.join(', ')}`);
  if (left.size === 0 && open.length === 0) log('no process and no port left behind');
  if (failures.length) console.log(tail(start.out, 30));
}

async function cleanup() {
  for (const s of [install, start]) if (s && !s.exited) killGroup(s.child.pid, 'SIGKILL');
  if (start) for (const pid of leftovers(start.child.pid, clone).keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (keep) log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    failures.push(`interrupted (${sig})`);
    void cleanup().then(() => process.exit(1));
  });
}

try {
  await main();
} catch (err) {
  failures.push(err instanceof Error ? err.message : String(err));
} finally {
  await cleanup();
}
if (failures.length) {
  console.log(`FRESH CLONE CHECK FAILED after ${secs()}:`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exit(1);
}
console.log(`FRESH CLONE CHECK PASSED in ${secs()}: npm install && npm start brought all five services to SERVING, and Ctrl-C left nothing behind.`);
