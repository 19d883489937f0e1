import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AllowlistServiceClient, type auditEventV1 } from '@gatehouse/contracts';
import { ManualClock } from '@gatehouse/core';
import { ensurePki, loadTlsMaterial } from '@gatehouse/pki';
import { runService, type HostedService } from '@gatehouse/service-host';
import { dial } from '@gatehouse/service-kit';
import { drainOutbox, startAuditDouble, testSessionIssuer, type AuditDouble, type TestSessionIssuer } from '@gatehouse/testing';
import { allowlistService } from '../service.js';

/** One or more allowlist replicas in-process (mTLS, loopback), sharing one store and one manual clock. */
export interface AllowlistHarness {
  dir: string;
  clock: ManualClock;
  sessions: TestSessionIssuer;
  audit: AuditDouble;
  events: auditEventV1.AuditEvent[];
  replicas: HostedService[];
  /** A client of replica `i` presenting certificate `name` (cli = operator, web = trusted proxy, other-backend, identity = service). */
  client(name?: string, i?: number): Promise<AllowlistServiceClient>;
  /** A session token minted at the harness clock's now. */
  token(o: Parameters<TestSessionIssuer['token']>[0]): string;
  /** Starts another replica on the same store. */
  addReplica(env?: Record<string, string>): Promise<HostedService>;
  /** Waits until the outbox shipped everything (SQLite). */
  drainAudit(): Promise<void>;
  stop(): Promise<void>;
}

/** Metadata with a forwarded-for value (honoured only from a trusted proxy). */
export function forwardedFor(value: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-forwarded-for', value);
  return md;
}

/** Starts the allowlist service with a recording audit double; `env` adds or overrides variables. */
export async function startAllowlist(env: Record<string, string> = {}, start = Date.now()): Promise<AllowlistHarness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allowlist-svc-'));
  const pkiDir = path.join(dir, 'pki');
  await ensurePki(pkiDir, {
    services: ['allowlist', 'audit', 'identity'],
    clients: [
      { name: 'cli', kind: 'operator' },
      { name: 'web', kind: 'backend' },
      { name: 'other-backend', kind: 'backend' },
    ],
  });
  const clock = new ManualClock(start);
  const sessions = testSessionIssuer(path.join(dir, 'sessions'));
  const audit = await startAuditDouble({ security: { mode: 'mtls', material: await loadTlsMaterial(pkiDir, 'audit') }, service: 'allowlist', clock });
  const baseEnv = {
    GATEHOUSE_PORT: '0',
    GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
    GATEHOUSE_TLS_DIR: pkiDir,
    GATEHOUSE_LOG_LEVEL: 'silent',
    GATEHOUSE_SHUTDOWN_GRACE_MS: '2000',
    GATEHOUSE_AUDIT_ADDR: `127.0.0.1:${audit.server.port}`,
    GATEHOUSE_SESSION_KEYS_FILE: sessions.keysFile,
    GATEHOUSE_TRUSTED_PROXIES: 'web',
    GATEHOUSE_RATE_LIMITS: JSON.stringify({ perCaller: { ratePerSec: 100000, burst: 100000 }, perIp: { ratePerSec: 100000, burst: 100000 } }),
    ...env,
  };
  const replicas: HostedService[] = [];
  const clients: grpc.Client[] = [];
  const h: AllowlistHarness = {
    dir,
    clock,
    sessions,
    audit,
    events: audit.events,
    replicas,
    async client(name = 'cli', i = 0) {
      const r = replicas[i];
      if (!r) throw new Error(`no replica ${i}`);
      const c = dial(AllowlistServiceClient, `127.0.0.1:${r.server.port}`, { mode: 'mtls', material: { ...(await loadTlsMaterial(pkiDir, name)), expectedServerName: 'allowlist' } });
      clients.push(c);
      return c;
    },
    token: (o) => sessions.token({ now: clock.now(), ...o }),
    async addReplica(extra = {}) {
      const r = await runService(allowlistService, { env: { ...baseEnv, ...extra }, clock });
      replicas.push(r);
      return r;
    },
    drainAudit: () => drainOutbox(replicas),
    async stop() {
      for (const c of clients) c.close();
      for (const r of replicas) await r.shutdown('test over');
      await audit.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await h.addReplica();
  return h;
}
