import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { auditEventV1 } from '@gatehouse/contracts';
import { ManualClock } from '@gatehouse/core';
import { ensurePki, loadTlsMaterial } from '@gatehouse/pki';
import { runService, type HostedService, type ServiceSpec } from '@gatehouse/service-host';
import { dial } from '@gatehouse/service-kit';
import { startAuditDouble, type AuditDouble } from './audit-double.js';
import { spawnChildReplica, type ChildReplica } from './child-replica.js';
import { drainOutbox } from './drain-outbox.js';
import { findMongo } from './find-mongo.js';
import { uniqueDbName } from './unique-db-name.js';
import { testSessionIssuer, type TestSessionIssuer } from './sessions.js';
import { startIdentityDouble, type IdentityDouble } from './identity-double.js';

type ClientCtor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>) => C;

/** One or more replicas of a service in-process (mTLS, loopback), sharing one store, one manual clock and one audit double. */
export interface ServiceHarness<C extends grpc.Client> {
  dir: string;
  clock: ManualClock;
  sessions: TestSessionIssuer;
  /** Identity's VerifySession and WatchRevocations, trusting `sessions`' keys: revoke through it. */
  identity: IdentityDouble;
  audit: AuditDouble;
  events: auditEventV1.AuditEvent[];
  replicas: HostedService[];
  /** Log lines of every replica (at the harness's log level), to scan for leaks. */
  logs: string[];
  /** The variables every replica starts with (a replica's own come on top). */
  env: Record<string, string>;
  /** A client of replica `i` presenting the certificate of client `name` (default the operator CLI). */
  client(name?: string, i?: number): Promise<C>;
  /** A session token minted at the harness clock's now. */
  token(o: Parameters<TestSessionIssuer['token']>[0]): string;
  /** Starts another replica on the same store. */
  addReplica(env?: Record<string, string>): Promise<HostedService>;
  /** Shuts replica `i` down and starts it again on the same data (a restart). */
  restart(i?: number, env?: Record<string, string>): Promise<HostedService>;
  /**
   * Starts a replica in a child process on the same store and environment (plus `env`), for
   * crash tests: arm GATEHOUSE_TEST_FAULT_POINT and it dies by SIGKILL there. `spec` names the
   * module file exporting the service spec and the export (e.g. apps/secrets/src/service.ts,
   * secretsService).
   */
  spawnReplica(spec: { file: string; exportName: string }, env?: Record<string, string>): Promise<ChildReplica<C>>;
  /** Waits until the outbox shipped everything (SQLite). */
  drainAudit(): Promise<void>;
  stop(): Promise<void>;
}

export type { ChildReplica };

/** What a harness needs to know about the service under test. */
export interface ServiceHarnessOptions<C extends grpc.Client> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any service's config shape
  spec: ServiceSpec<any>;
  Client: ClientCtor<C>;
  /** Client certificates to issue: `cli` (operator) is always there. */
  clients?: ReadonlyArray<{ name: string; kind: 'operator' | 'backend' | 'service' }>;
  /** Peer services with certificates (audit is always there). */
  peers?: readonly string[];
  env?: Record<string, string>;
  start?: number;
  /** Log level of the replicas (default silent); `debug` to scan every line for leaks. */
  logLevel?: 'silent' | 'warn' | 'info' | 'debug';
}

/**
 * Starts a service as production wires it (service.ts spec, real store, real mTLS) with a
 * recording audit double and test session keys: the shared shape of every service's test harness.
 */
export async function startServiceHarness<C extends grpc.Client>(o: ServiceHarnessOptions<C>): Promise<ServiceHarness<C>> {
  const name = o.spec.name;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-svc-`));
  const pkiDir = path.join(dir, 'pki');
  await ensurePki(pkiDir, {
    services: [...new Set([name, 'audit', 'identity', ...(o.peers ?? [])])],
    clients: [{ name: 'cli', kind: 'operator' }, ...(o.clients ?? [])],
  });
  const clock = new ManualClock(o.start ?? Date.now());
  const sessions = testSessionIssuer(path.join(dir, 'sessions'));
  const audit = await startAuditDouble({ security: { mode: 'mtls', material: await loadTlsMaterial(pkiDir, 'audit') }, service: name, clock });
  const identity = await startIdentityDouble({ security: { mode: 'mtls', material: await loadTlsMaterial(pkiDir, 'identity') }, keysFile: sessions.keysFile, clock });
  const env: Record<string, string> = {
    GATEHOUSE_PORT: '0',
    GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
    GATEHOUSE_TLS_DIR: pkiDir,
    GATEHOUSE_LOG_LEVEL: o.logLevel ?? 'silent',
    GATEHOUSE_SHUTDOWN_GRACE_MS: '2000',
    GATEHOUSE_AUDIT_ADDR: `127.0.0.1:${audit.server.port}`,
    GATEHOUSE_SESSION_KEYS_FILE: sessions.keysFile,
    GATEHOUSE_IDENTITY_ADDR: `127.0.0.1:${identity.server.port}`,
    GATEHOUSE_RATE_LIMITS: JSON.stringify({ perCaller: { ratePerSec: 100000, burst: 100000 }, perIp: { ratePerSec: 100000, burst: 100000 } }),
    ...o.env,
  };
  const replicas: HostedService[] = [];
  const replicaEnv: Array<Record<string, string>> = [];
  const clients: grpc.Client[] = [];
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const logDestination = { write: (line: string) => void logs.push(line) };
  const h: ServiceHarness<C> = {
    dir,
    clock,
    sessions,
    identity,
    audit,
    events: audit.events,
    replicas,
    logs,
    env,
    async client(clientName = 'cli', i = 0) {
      const r = replicas[i];
      if (!r) throw new Error(`no replica ${i}`);
      const c = dial(o.Client, `127.0.0.1:${r.server.port}`, { mode: 'mtls', material: { ...(await loadTlsMaterial(pkiDir, clientName)), expectedServerName: name } });
      clients.push(c);
      return c;
    },
    token: (t) => sessions.token({ now: clock.now(), ...t }),
    async addReplica(extra = {}) {
      const r = await runService(o.spec, { env: { ...env, ...extra }, clock, logDestination });
      replicas.push(r);
      replicaEnv.push(extra);
      return r;
    },
    async restart(i = 0, extra) {
      const old = replicas[i];
      if (!old) throw new Error(`no replica ${i}`);
      await old.shutdown('restart');
      const own = extra ?? replicaEnv[i] ?? {};
      const r = await runService(o.spec, { env: { ...env, ...own }, clock, logDestination });
      replicas[i] = r;
      replicaEnv[i] = own;
      return r;
    },
    spawnReplica(spec, extra = {}) {
      return spawnChildReplica({
        spec,
        env: { ...env, ...extra },
        Client: o.Client,
        pkiDir,
        serviceName: name,
        track: { child: (c) => void children.push(c), client: (c) => void clients.push(c) },
      });
    },
    drainAudit: () => drainOutbox(replicas),
    async stop() {
      for (const c of clients) c.close();
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const r of replicas) await r.shutdown('test over');
      await audit.stop();
      await identity.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/**
 * Adds a harness's first replica. A replica that refuses to start (a configuration test, a wiring
 * error) stops the harness too, so its doubles do not keep the test process alive.
 */
export async function addFirstReplica<C extends grpc.Client>(h: ServiceHarness<C>, extra?: Record<string, string>): Promise<void> {
  try {
    await h.addReplica(extra);
  } catch (err) {
    await h.stop();
    throw err;
  }
}

/** The storage backends every service suite runs on. */
export const STORAGE_BACKENDS = ['sqlite', 'mongodb'] as const;

/**
 * The variables selecting `backend` for a service's harness (a fresh database per call on
 * MongoDB), or undefined after marking the test skipped with the reason when no MongoDB is
 * reachable on loopback.
 */
export async function backendEnv(service: string, backend: (typeof STORAGE_BACKENDS)[number], skip: (why: string) => void): Promise<Record<string, string> | undefined> {
  if (backend === 'sqlite') return {};
  const mongo = await findMongo();
  if ('skipped' in mongo) {
    skip(`no MongoDB: ${mongo.skipped}`);
    return undefined;
  }
  return { GATEHOUSE_STORE: 'mongodb', MONGO_URL: mongo.url, GATEHOUSE_MONGO_DB: uniqueDbName(service) };
}

/**
 * The reason to skip a case whose suite has no harness: the one backendEnv gave. Without one the
 * suite's setup failed silently, and that is a failure, never a skip.
 */
export function skipReason(skipped: string | undefined): string {
  if (skipped === undefined) throw new Error('the suite has no harness and no reason to skip: its setup did not run');
  return skipped;
}
