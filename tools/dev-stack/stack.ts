/**
 * The dev stack itself, loaded by start.ts once the build has generated the contracts: makes a
 * dev PKI under <GATEHOUSE_DEV_DIR>/pki on first start, starts the five services (one process
 * each) on fixed loopback ports with SQLite under <GATEHOUSE_DEV_DIR>/data, prints their
 * addresses and health, restarts a crashed service with backoff, and stops everything on Ctrl-C
 * with no process left behind. The folders and ports come from @gatehouse/pki's devStackLayout,
 * the same definition the CLI reads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEV_STACK_DEFAULTS, devStackLayout, ensurePki, loadTlsMaterial, type ClientTlsMaterial, type DevStackLayout } from '@gatehouse/pki';
import { checkHealth } from '@gatehouse/service-kit';
import { CONSOLE_DEFAULT_PORT, DEV_CLIENTS, SERVICES, type ServiceName } from './services.js';

const root = path.resolve(import.meta.dirname, '../..');
const layout: DevStackLayout = devStackLayout(process.env, root);
const { host, pkiDir, dataDir } = layout;

interface Proc {
  name: ServiceName | 'console';
  port: number;
  metricsPort: number;
  child?: ChildProcess;
  restarts: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
}

let stopping = false;
const procs: Proc[] = SERVICES.map((name) => ({
  name,
  port: layout.port(name),
  metricsPort: layout.metricsPort(name),
  restarts: 0,
  startedAt: 0,
}));
const auditAddr = layout.address('audit');
const consolePort = Number(process.env['GATEHOUSE_DEV_CONSOLE_PORT'] ?? layout.port('identity') - DEV_STACK_DEFAULTS.basePort + CONSOLE_DEFAULT_PORT);
if (!Number.isInteger(consolePort) || consolePort < 1 || consolePort > 65535) throw new Error(`GATEHOUSE_DEV_CONSOLE_PORT: expected a port 1-65535, got ${process.env['GATEHOUSE_DEV_CONSOLE_PORT']}`);
const consoleProc: Proc = { name: 'console', port: consolePort, metricsPort: 0, restarts: 0, startedAt: 0 };

function childEnv(p: Proc): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_DEV_')) env[k] = v;
  return {
    ...env,
    GATEHOUSE_ENV: 'dev',
    GATEHOUSE_HOST: host,
    GATEHOUSE_PORT: String(p.port),
    GATEHOUSE_METRICS_PORT: String(p.metricsPort),
    GATEHOUSE_STORE: 'sqlite',
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_TLS_DIR: pkiDir,
    GATEHOUSE_AUDIT_ADDR: auditAddr,
    GATEHOUSE_IDENTITY_ADDR: layout.address('identity'),
    GATEHOUSE_ALLOWLIST_ADDR: layout.address('allowlist'),
    GATEHOUSE_PARENT_PID: String(process.pid),
    // The console relays the browser's IP; only a named trusted proxy may (issue 13 item 3).
    GATEHOUSE_TRUSTED_PROXIES: process.env['GATEHOUSE_TRUSTED_PROXIES'] ?? 'console',
    GATEHOUSE_IMPERSONATION_ADDR: layout.address('impersonation'),
    GATEHOUSE_CONSOLE_HOST: host,
    GATEHOUSE_CONSOLE_PORT: String(consolePort),
    // Dev only: loopback is allowlisted by configuration, so the first officer gets a FULL session.
    ...(p.name === 'allowlist' ? { GATEHOUSE_ALLOWLIST_STATIC_CIDRS: process.env['GATEHOUSE_ALLOWLIST_STATIC_CIDRS'] ?? '127.0.0.1/32,::1/128' } : {}),
  };
}

function prefixLines(name: string, stream: NodeJS.ReadableStream, out: NodeJS.WritableStream): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      out.write(`${name.padEnd(13)}| ${buf.slice(0, i)}\n`);
      buf = buf.slice(i + 1);
    }
  });
}

function launch(p: Proc): void {
  const main = path.join(root, 'dist/apps', p.name, 'main.mjs');
  const child = spawn(process.execPath, ['--enable-source-maps', main], { cwd: root, env: childEnv(p), stdio: ['ignore', 'pipe', 'pipe'] });
  p.child = child;
  p.startedAt = Date.now();
  if (child.stdout) prefixLines(p.name, child.stdout, process.stdout);
  if (child.stderr) prefixLines(p.name, child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    p.child = undefined;
    if (stopping) return;
    if (Date.now() - p.startedAt > 60_000) p.restarts = 0;
    const delay = Math.min(30_000, 500 * 2 ** p.restarts);
    p.restarts += 1;
    console.error(`${p.name} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms (restart #${p.restarts})`);
    p.timer = setTimeout(() => launch(p), delay);
  });
}

async function waitServing(material: ClientTlsMaterial, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reports = await Promise.all(
      procs.map((p) => checkHealth(`${host}:${p.port}`, { mode: 'mtls', material: { ...material, expectedServerName: p.name } }, 1_000)),
    );
    if (reports.every((r) => r.status === 'SERVING') || Date.now() > deadline) return reports;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** True once `url` answers HTTP 200 (the console's page), within `timeoutMs`. */
async function waitHttp(url: string, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok) return true;
    } catch {
      // not listening yet
    }
  }
  return false;
}

async function stopAll(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the stack...`);
  const all = [...procs, consoleProc];
  for (const p of all) clearTimeout(p.timer);
  const exits = all
    .filter((p) => p.child)
    .map((p) => new Promise<void>((resolve) => {
      const c = p.child!;
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    }));
  const timer = setTimeout(() => {
    for (const p of all) p.child?.kill('SIGKILL');
  }, 12_000);
  await Promise.all(exits);
  clearTimeout(timer);
  console.log('all services stopped.');
  process.exit(0);
}

/** Starts the stack; `t0` is when `npm start` began (the build is part of the time shown). */
export async function runStack(t0: number): Promise<void> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  await ensurePki(pkiDir, { services: [...SERVICES], clients: DEV_CLIENTS });
  const material = await loadTlsMaterial(pkiDir, 'cli');
  process.on('SIGINT', () => void stopAll('SIGINT'));
  process.on('SIGTERM', () => void stopAll('SIGTERM'));
  process.on('exit', () => {
    for (const p of [...procs, consoleProc]) p.child?.kill('SIGKILL');
  });
  for (const p of procs) launch(p);
  const reports = await waitServing(material, 30_000);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log('');
  console.log('service        address            metrics                          version      health');
  for (const [i, p] of procs.entries()) {
    const r = reports[i];
    console.log(
      `${p.name.padEnd(15)}${`${host}:${p.port}`.padEnd(19)}${`http://${host}:${p.metricsPort}/metrics`.padEnd(33)}${(r?.version ?? '-').padEnd(13)}${r?.status ?? '?'}${r?.error ? ` (${r.error})` : ''}`,
    );
  }
  const ok = reports.every((r) => r.status === 'SERVING');
  // The console starts once identity has written its dev issuer key (the console's stand-in for Google signs with it).
  launch(consoleProc);
  const consoleUrl = `http://${host.includes(':') ? `[${host}]` : host}:${consolePort}/`;
  const consoleUp = await waitHttp(consoleUrl, 20_000);
  console.log(`${'console'.padEnd(15)}${consoleUrl.padEnd(52)}${consoleUp ? 'SERVING' : 'not answering yet'}`);
  console.log('');
  console.log(ok ? `Gatehouse dev stack is up (${secs} s). Data: ${path.relative(root, dataDir)}  PKI: ${path.relative(root, pkiDir)}` : 'some services are not SERVING yet; watching...');
  // The CLI reads the same variables (devStackLayout): show them when they are not the defaults.
  const vars = ['GATEHOUSE_DEV_DIR', 'GATEHOUSE_DEV_BASE_PORT'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]} `).join('');
  console.log(`Console: ${consoleUrl}   Try: ${vars}npm run gatehouse -- status        Stop: Ctrl-C`);
}

/** Stops what was started after a failure of {@link runStack}. */
export function stopAfterError(err: unknown): void {
  console.error(err);
  void stopAll('error');
}
