#!/usr/bin/env -S node --import tsx
/**
 * `npm start`: the whole stack on the embedded default. Builds what is needed, makes a dev PKI
 * under .gatehouse/pki on first start, starts the five services (one process each) on fixed
 * loopback ports with SQLite under .gatehouse/data, prints their addresses and health, restarts
 * a crashed service with backoff, and stops everything on Ctrl-C with no process left behind.
 *
 * Settings (environment): GATEHOUSE_DEV_BASE_PORT (7101), GATEHOUSE_DEV_METRICS_BASE_PORT (9101),
 * GATEHOUSE_DEV_DIR (.gatehouse), GATEHOUSE_DEV_SKIP_BUILD (unset).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensurePki, loadTlsMaterial, type ClientTlsMaterial } from '@gatehouse/pki';
import { checkHealth } from '@gatehouse/service-kit';
import { DEV_CLIENTS, PORT_OFFSET, SERVICES, type ServiceName } from './services.js';

const root = path.resolve(import.meta.dirname, '../..');
const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65_000) {
    console.error(`${name}: expected a port number between 1 and 65000, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
};
const basePort = num('GATEHOUSE_DEV_BASE_PORT', 7101);
const metricsBase = num('GATEHOUSE_DEV_METRICS_BASE_PORT', 9101);
const stateDir = path.resolve(root, process.env['GATEHOUSE_DEV_DIR'] ?? '.gatehouse');
const pkiDir = path.join(stateDir, 'pki');
const dataDir = path.join(stateDir, 'data');
const host = '127.0.0.1';
const t0 = performance.now();

function build(): void {
  if (process.env['GATEHOUSE_DEV_SKIP_BUILD']) return;
  console.log('building the services and the CLI (cached after the first run)...');
  const r = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/nx/dist/bin/nx.js'), 'run-many', '-t', 'build', '--projects=tag:type:app', '--output-style=static'],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NX_TUI: 'false' } },
  );
  if (r.status !== 0) {
    console.error('build failed; see above');
    process.exit(r.status ?? 1);
  }
}

interface Proc {
  name: ServiceName;
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
  port: basePort + PORT_OFFSET[name],
  metricsPort: metricsBase + PORT_OFFSET[name],
  restarts: 0,
  startedAt: 0,
}));
const auditAddr = `${host}:${basePort + PORT_OFFSET.audit}`;

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
    GATEHOUSE_IDENTITY_ADDR: `${host}:${basePort + PORT_OFFSET.identity}`,
    GATEHOUSE_ALLOWLIST_ADDR: `${host}:${basePort + PORT_OFFSET.allowlist}`,
    GATEHOUSE_PARENT_PID: String(process.pid),
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

async function stopAll(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the stack...`);
  for (const p of procs) clearTimeout(p.timer);
  const exits = procs
    .filter((p) => p.child)
    .map((p) => new Promise<void>((resolve) => {
      const c = p.child!;
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    }));
  const timer = setTimeout(() => {
    for (const p of procs) p.child?.kill('SIGKILL');
  }, 12_000);
  await Promise.all(exits);
  clearTimeout(timer);
  console.log('all services stopped.');
  process.exit(0);
}

async function main(): Promise<void> {
  build();
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  await ensurePki(pkiDir, { services: [...SERVICES], clients: DEV_CLIENTS });
  const material = await loadTlsMaterial(pkiDir, 'cli');
  process.on('SIGINT', () => void stopAll('SIGINT'));
  process.on('SIGTERM', () => void stopAll('SIGTERM'));
  process.on('exit', () => {
    for (const p of procs) p.child?.kill('SIGKILL');
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
  console.log('');
  console.log(ok ? `Gatehouse dev stack is up (${secs} s). Data: ${path.relative(root, dataDir)}  PKI: ${path.relative(root, pkiDir)}` : 'some services are not SERVING yet; watching...');
  console.log('Try: npm run gatehouse -- status        Stop: Ctrl-C');
}

main().catch((err: unknown) => {
  console.error(err);
  void stopAll('error');
});
