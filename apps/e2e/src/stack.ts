import net from 'node:net';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensurePki, loadTlsMaterial, type ClientTlsMaterial } from '@gatehouse/pki';

/** The repository root, found from this file. */
export const ROOT = path.resolve(import.meta.dirname, '../../..');

/** The services, audit first (the others ship events to it). */
export const STACK = ['audit', 'identity', 'allowlist', 'secrets', 'impersonation'] as const;
export type StackService = (typeof STACK)[number];

/** One running service process. */
export interface ServiceProcess {
  name: StackService;
  child: ChildProcess;
  port: number;
  metricsPort: number;
  address: string;
  stderr: string[];
}

/** The whole stack, started from the built bundles on port 0 with its own data and PKI. */
export interface Stack {
  dir: string;
  pkiDir: string;
  services: Record<StackService, ServiceProcess>;
  /** Client TLS material for a certificate issued to the test (`cli` operator, `dev-backend` backend). */
  material(client: 'cli' | 'dev-backend' | 'console', server: StackService): Promise<ClientTlsMaterial>;
  stop(): Promise<Array<{ name: StackService; code: number | null; signal: NodeJS.Signals | null }>>;
}

async function waitForFile(file: string, child: ChildProcess, name: string, stderr: string[], timeoutMs: number): Promise<{ port: number; metricsPort: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready:\n${stderr.join('')}`);
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as { port: number; metricsPort: number };
    await sleep(50);
  }
  throw new Error(`${name} was not ready within ${timeoutMs} ms:\n${stderr.join('')}`);
}

/**
 * Starts the five services as real processes (the esbuild bundles `npm start` runs) on
 * loopback port 0, each with its own SQLite file, mTLS from a fresh CA, and audit shipping.
 */
export function startStack(extraEnv: Record<string, string> = {}): Promise<Stack> {
  return retryOnPortClash(() => startStackOnce(extraEnv));
}

/**
 * Starts a stack again (at most 3 times) when a port picked up front was taken by another test
 * process before a service bound it (EADDRINUSE): the stacks choose their ports before starting,
 * because their services call each other both ways.
 */
export async function retryOnPortClash<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !String((err as Error).message).includes('EADDRINUSE')) throw err;
    }
  }
}

/** A fresh folder (`prefix` in the temp dir) with a stack's PKI: the five services, the cli operator, the dev backend and the console. */
export async function stackFolder(prefix: string): Promise<{ dir: string; pkiDir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const pkiDir = path.join(dir, 'pki');
  await ensurePki(pkiDir, {
    services: [...STACK],
    clients: [
      { name: 'cli', kind: 'operator' },
      { name: 'dev-backend', kind: 'backend' },
      { name: 'console', kind: 'backend' },
    ],
  });
  return { dir, pkiDir };
}

async function startStackOnce(extraEnv: Record<string, string>): Promise<Stack> {
  const { dir, pkiDir } = await stackFolder('gatehouse-e2e-');
  const services = {} as Record<StackService, ServiceProcess>;
  // Services call each other both ways (identity ↔ allowlist), so ports are chosen up front.
  const ports = Object.fromEntries(await Promise.all(STACK.map(async (s) => [s, await freePort()] as const))) as Record<StackService, number>;
  const auditAddr = `127.0.0.1:${ports.audit}`;
  const addr = (name: StackService) => `127.0.0.1:${ports[name]}`;
  // A stack that trusts a test session issuer (GATEHOUSE_SESSION_KEYS_FILE): the real identity
  // cannot vouch for sessions it never issued, so the other services check those sessions
  // (VerifySession, WatchRevocations) against identity's double, on a thread of its own.
  const keysFile = extraEnv['GATEHOUSE_SESSION_KEYS_FILE'];
  const sessionIdentity = keysFile ? await startIdentityDoubleProcess(pkiDir, keysFile) : undefined;
  const start = async (name: StackService) => {
    const main = path.join(ROOT, 'dist/apps', name, 'main.mjs');
    if (!fs.existsSync(main)) throw new Error(`${main} is missing: run nx run-many -t build first`);
    const ready = path.join(dir, `${name}.ready.json`);
    const stderr: string[] = [];
    const child = spawn(process.execPath, [main], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        PATH: process.env['PATH'] ?? '',
        GATEHOUSE_ENV: 'dev',
        GATEHOUSE_HOST: '127.0.0.1',
        GATEHOUSE_PORT: String(ports[name]),
        GATEHOUSE_METRICS_PORT: '0',
        GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
        GATEHOUSE_TLS_DIR: pkiDir,
        GATEHOUSE_AUDIT_ADDR: auditAddr,
        GATEHOUSE_ALLOWLIST_ADDR: addr('allowlist'),
        GATEHOUSE_IDENTITY_ADDR: addr('identity'),
        GATEHOUSE_READY_FILE: ready,
        GATEHOUSE_LOG_LEVEL: 'warn',
        GATEHOUSE_SHUTDOWN_GRACE_MS: '5000',
        ...(name === 'allowlist' ? { GATEHOUSE_ALLOWLIST_STATIC_CIDRS: '127.0.0.1/32,::1/128' } : {}),
        ...extraEnv,
        ...(sessionIdentity && name !== 'identity' ? { GATEHOUSE_IDENTITY_ADDR: `127.0.0.1:${sessionIdentity.port}` } : {}),
      },
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => stderr.push(d));
    const info = await waitForFile(ready, child, name, stderr, 20_000);
    services[name] = { name, child, port: info.port, metricsPort: info.metricsPort, address: `127.0.0.1:${info.port}`, stderr };
  };
  try {
    // In dependency order, so each service is told where the ones it calls listen.
    await start('audit');
    await start('allowlist');
    await start('identity');
    await Promise.all(STACK.filter((s) => !['audit', 'allowlist', 'identity'].includes(s)).map(start));
  } catch (err) {
    for (const s of Object.values(services)) s.child.kill('SIGKILL');
    await sessionIdentity?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    pkiDir,
    services,
    material: async (client, server) => ({ ...(await loadTlsMaterial(pkiDir, client)), expectedServerName: server }),
    stop: async () => {
      const results = await Promise.all(
        Object.values(services).map(
          (s) =>
            new Promise<{ name: StackService; code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
              if (s.child.exitCode !== null || s.child.signalCode !== null) {
                resolve({ name: s.name, code: s.child.exitCode, signal: s.child.signalCode });
                return;
              }
              const timer = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
              s.child.once('exit', (code, signal) => {
                clearTimeout(timer);
                resolve({ name: s.name, code, signal });
              });
              s.child.kill('SIGTERM');
            }),
        ),
      );
      await sessionIdentity?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      return results;
    },
  };
}

/** Identity's double (libs/testing) in a process of its own, so spawnSync in a test cannot stall its answers. */
export async function startIdentityDoubleProcess(pkiDir: string, keysFile: string): Promise<{ port: number; stop(): Promise<void> }> {
  const child = fork(path.join(import.meta.dirname, 'identity-double-process.ts'), [pkiDir, keysFile], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the identity double exited with ${code} before listening`)));
  });
  return {
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send('stop');
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** A free loopback port (bound and released; the service binds it again at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
