import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import { loadTlsMaterial, type ClientTlsMaterial } from '@gatehouse/pki';
import { balancedTarget, checkHealth, dial, dialBalanced } from '@gatehouse/service-kit';
import { testSessionIssuer, uniqueDbName, type TestSessionIssuer } from '@gatehouse/testing';
import { ROOT, STACK, freePort, retryOnPortClash, stackFolder, startIdentityDoubleProcess, type StackService } from '../stack.js';

type ClientCtor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>) => C;

/** One replica: a child process of the service's bundle, on a port it keeps across restarts. */
export interface Replica {
  service: StackService;
  index: number;
  port: number;
  address: string;
  child: ChildProcess;
  stderr: string[];
}

/** Two replicas of every service on one MongoDB, and the balanced clients that reach them. */
export interface ReplicaStack {
  dir: string;
  pkiDir: string;
  sessions: TestSessionIssuer;
  replicas: Record<StackService, [Replica, Replica]>;
  /** Every stderr line of every replica of a service, old processes' included (log level warn). */
  logs: Record<StackService, string[]>;
  /** Client TLS material of certificate `client` (cli, dev-backend, or a service's own) for `server`. */
  material(client: string, server: StackService): Promise<ClientTlsMaterial>;
  /** A client of BOTH replicas of `server` (round robin, retry of UNAVAILABLE for the idempotent methods). */
  balanced<C extends grpc.Client>(Ctor: ClientCtor<C>, server: StackService, client?: string): Promise<C>;
  /** A client of one replica only. */
  direct<C extends grpc.Client>(Ctor: ClientCtor<C>, server: StackService, index: 0 | 1, client?: string): Promise<C>;
  /** Health of one replica as a probe sees it. */
  health(server: StackService, index: 0 | 1): Promise<string>;
  /** SIGTERM, wait for its exit (drained), start it again on its port, wait until SERVING. */
  restart(server: StackService, index: 0 | 1): Promise<{ exit: number | null; downMs: number }>;
  stop(): Promise<void>;
}

/** How long a replica may take to become SERVING on a loaded 2-core machine. */
const START_TIMEOUT_MS = 60_000;

/**
 * Starts two replicas of each of the five services from the built bundles (what the images
 * run), every replica its own process on loopback, all on the MongoDB at `mongoUrl` (one
 * database per service, shared by its two replicas), mTLS from a fresh CA. Each service's
 * peers (audit, allowlist) are reached through one target over both of their replicas.
 * Sessions come from a test issuer the non-identity services trust (GATEHOUSE_SESSION_KEYS_FILE),
 * checked by identity's double in its own process; identity's replicas are real.
 */
export function startReplicaStack(mongoUrl: string, extraEnv: Partial<Record<StackService, Record<string, string>>> = {}): Promise<ReplicaStack> {
  return retryOnPortClash(() => startOnce(mongoUrl, extraEnv));
}

async function startOnce(mongoUrl: string, extraEnv: Partial<Record<StackService, Record<string, string>>>): Promise<ReplicaStack> {
  const { dir, pkiDir } = await stackFolder('gatehouse-replicas-');
  const sessions = testSessionIssuer(path.join(dir, 'sessions'));
  const identityDouble = await startIdentityDoubleProcess(pkiDir, sessions.keysFile);
  // Peers call each other both ways (identity <-> allowlist), so every port is chosen up front
  // and kept by its replica across restarts: the balanced targets are static lists.
  const ports = {} as Record<StackService, [number, number]>;
  for (const s of STACK) ports[s] = [await freePort(), await freePort()];
  const target = (s: StackService) => balancedTarget(ports[s].map((p) => `127.0.0.1:${p}`));
  const dbs = Object.fromEntries(STACK.map((s) => [s, uniqueDbName(`replicas-${s}`)])) as Record<StackService, string>;
  const children: ChildProcess[] = [];
  const envOf = (s: StackService, index: number): Record<string, string> => ({
    PATH: process.env['PATH'] ?? '',
    GATEHOUSE_ENV: 'dev',
    GATEHOUSE_HOST: '127.0.0.1',
    GATEHOUSE_PORT: String(ports[s][index]),
    GATEHOUSE_METRICS_PORT: '0',
    // The replicas of one service share their data folder, as replicas share mounted files.
    GATEHOUSE_DATA_DIR: path.join(dir, 'data', s),
    GATEHOUSE_TLS_DIR: pkiDir,
    GATEHOUSE_STORE: 'mongodb',
    MONGO_URL: mongoUrl,
    GATEHOUSE_MONGO_DB: dbs[s],
    GATEHOUSE_AUDIT_ADDR: target('audit'),
    GATEHOUSE_ALLOWLIST_ADDR: target('allowlist'),
    GATEHOUSE_IDENTITY_ADDR: s === 'identity' ? target('identity') : `127.0.0.1:${identityDouble.port}`,
    GATEHOUSE_LOG_LEVEL: 'warn',
    GATEHOUSE_SHUTDOWN_GRACE_MS: '10000',
    GATEHOUSE_DEADLINE_CAP_MS: '30000',
    GATEHOUSE_RATE_LIMITS: JSON.stringify({ perCaller: { ratePerSec: 100000, burst: 100000 }, perIp: { ratePerSec: 100000, burst: 100000 } }),
    ...(s === 'identity' ? {} : { GATEHOUSE_SESSION_KEYS_FILE: sessions.keysFile }),
    ...(s === 'allowlist' ? { GATEHOUSE_ALLOWLIST_STATIC_CIDRS: '127.0.0.1/32,::1/128' } : {}),
    ...extraEnv[s],
  });
  let readyNumber = 0;
  const logs = Object.fromEntries(STACK.map((s) => [s, [] as string[]])) as Record<StackService, string[]>;
  const material = async (client: string, server: StackService) => ({ ...(await loadTlsMaterial(pkiDir, client)), expectedServerName: server });
  const health = async (s: StackService, index: number) => (await checkHealth(`127.0.0.1:${ports[s][index]}`, { mode: 'mtls', material: await material('cli', s) })).status;
  const launch = async (s: StackService, index: 0 | 1): Promise<Replica> => {
    const main = path.join(ROOT, 'dist/apps', s, 'main.mjs');
    if (!fs.existsSync(main)) throw new Error(`${main} is missing: build the services first`);
    const ready = path.join(dir, `${s}-${index}-${readyNumber++}.ready.json`);
    const stderr: string[] = [];
    const child = spawn(process.execPath, [main], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...envOf(s, index), GATEHOUSE_READY_FILE: ready } });
    children.push(child);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      stderr.push(d);
      logs[s].push(`[${s}#${index}] ${d}`);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      stderr.push(d);
      logs[s].push(`[${s}#${index}] ${d}`);
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!fs.existsSync(ready)) {
      if (child.exitCode !== null) throw new Error(`${s}#${index} exited with ${child.exitCode} before it was ready:\n${stderr.join('')}`);
      if (Date.now() > deadline) throw new Error(`${s}#${index} was not ready within ${START_TIMEOUT_MS} ms:\n${stderr.join('')}`);
      await sleep(50);
    }
    const port = (JSON.parse(fs.readFileSync(ready, 'utf8')) as { port: number }).port;
    return { service: s, index, port, address: `127.0.0.1:${port}`, child, stderr };
  };
  const waitServing = async (s: StackService, index: number, stderr: string[]) => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last = '';
    while (Date.now() < deadline) {
      last = await health(s, index);
      if (last === 'SERVING') return;
      await sleep(100);
    }
    throw new Error(`${s}#${index} is not SERVING after ${START_TIMEOUT_MS} ms (last: ${last}):\n${stderr.join('').slice(-3000)}`);
  };
  const replicas = {} as Record<StackService, [Replica, Replica]>;
  const clients: grpc.Client[] = [];
  const stopChild = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      child.kill('SIGTERM');
    });
  const stop = async () => {
    for (const c of clients) c.close();
    await Promise.all(children.map(stopChild));
    await identityDouble.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    // In dependency order; a service's second replica after its first (dev-mode files such as
    // identity's bootstrap token and secrets' dev passphrase are written once, by the first).
    for (const s of ['audit', 'allowlist', 'identity', 'secrets', 'impersonation'] as const) {
      const first = await launch(s, 0);
      const second = await launch(s, 1);
      replicas[s] = [first, second];
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    pkiDir,
    sessions,
    replicas,
    logs,
    material,
    async balanced(Ctor, server, client = 'dev-backend') {
      const c = dialBalanced(Ctor, ports[server].map((p) => `127.0.0.1:${p}`), { mode: 'mtls', material: await material(client, server) });
      clients.push(c);
      return c;
    },
    async direct(Ctor, server, index, client = 'dev-backend') {
      const c = dial(Ctor, `127.0.0.1:${ports[server][index]}`, { mode: 'mtls', material: await material(client, server) });
      clients.push(c);
      return c;
    },
    health,
    async restart(server, index) {
      const old = replicas[server][index];
      const stoppedAt = Date.now();
      const exit = await stopChild(old.child);
      const next = await launch(server, index);
      await waitServing(server, index, next.stderr);
      replicas[server][index] = next;
      return { exit, downMs: Date.now() - stoppedAt };
    },
    stop,
  };
}
