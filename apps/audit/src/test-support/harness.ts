import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { AuditServiceClient, auditEventV1 } from '@gatehouse/contracts';
import { ensurePki, loadTlsMaterial } from '@gatehouse/pki';
import { runService, type HostedService } from '@gatehouse/service-host';
import { call, dial } from '@gatehouse/service-kit';
import { startIdentityDouble, testSessionIssuer, type IdentityDouble, type TestSessionIssuer } from '@gatehouse/testing';
import { auditService } from '../service.js';

/** A real audit service on loopback port 0 (mTLS), with its own data dir, PKI and session issuer. */
export interface AuditHarness {
  dir: string;
  hosted: HostedService;
  address: string;
  sessions: TestSessionIssuer;
  /** Identity's revocation stream and VerifySession, trusting `sessions`' keys. */
  identity: IdentityDouble;
  /** A client presenting the certificate of `name` (identity, allowlist, dev-backend, cli, shipper). */
  client(name: string): Promise<AuditServiceClient>;
  /** Stops the service (drains) and starts it again on the same data (a restart). */
  restart(): Promise<void>;
  /** Stops the service, keeping its data and port for `up`. */
  down(): Promise<void>;
  /** Starts it again after `down`, on the same port and data. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the audit service in-process; `env` adds or overrides variables. */
export async function startAudit(env: Record<string, string> = {}, existingDir?: string): Promise<AuditHarness> {
  const dir = existingDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'audit-svc-'));
  const pkiDir = path.join(dir, 'pki');
  await ensurePki(pkiDir, {
    services: ['audit', 'identity', 'allowlist', 'secrets', 'impersonation'],
    clients: [
      { name: 'cli', kind: 'operator' },
      { name: 'dev-backend', kind: 'backend' },
      { name: 'shipper', kind: 'backend' },
    ],
  });
  const sessions = testSessionIssuer(path.join(dir, 'sessions'));
  const identity = await startIdentityDouble({ security: { mode: 'mtls', material: await loadTlsMaterial(pkiDir, 'identity') }, keysFile: sessions.keysFile });
  const fullEnv = {
    GATEHOUSE_PORT: '0',
    GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
    GATEHOUSE_TLS_DIR: pkiDir,
    GATEHOUSE_LOG_LEVEL: 'silent',
    GATEHOUSE_SESSION_KEYS_FILE: sessions.keysFile,
    GATEHOUSE_IDENTITY_ADDR: `127.0.0.1:${identity.server.port}`,
    GATEHOUSE_AUDIT_READERS: 'shipper',
    GATEHOUSE_SHUTDOWN_GRACE_MS: '2000',
    ...env,
  };
  let hosted = await runService(auditService, { env: fullEnv });
  const clients: grpc.Client[] = [];
  const harness: AuditHarness = {
    dir,
    hosted,
    address: `127.0.0.1:${hosted.server.port}`,
    sessions,
    identity,
    client: async (name) => {
      const material = { ...(await loadTlsMaterial(pkiDir, name)), expectedServerName: 'audit' };
      const c = dial(AuditServiceClient, harness.address, { mode: 'mtls', material });
      clients.push(c);
      return c;
    },
    restart: async () => {
      await harness.down();
      await harness.up();
    },
    down: async () => {
      await hosted.shutdown('down');
    },
    up: async () => {
      hosted = await runService(auditService, { env: { ...fullEnv, GATEHOUSE_PORT: String(hosted.server.port) } });
      harness.hosted = hosted;
    },
    stop: async () => {
      for (const c of clients) c.close();
      await hosted.shutdown('test over');
      await identity.stop();
      // A folder the harness made is its own to remove; a caller's folder (a restart on the
      // same data from another harness) stays for the caller.
      if (!existingDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

let counter = 0;
/** A valid event of `service` (default identity) with a fresh id; override any field. */
export function event(overrides: Partial<auditEventV1.AuditEvent> = {}): auditEventV1.AuditEvent {
  counter += 1;
  return auditEventV1.AuditEvent.fromPartial({
    eventId: `evt-${process.pid}-${Date.now()}-${counter}`,
    occurredAt: new Date(),
    service: auditEventV1.Service.SERVICE_IDENTITY,
    action: auditEventV1.Action.ACTION_IDENTITY_OTP_VERIFY,
    outcome: auditEventV1.Outcome.OUTCOME_SUCCESS,
    actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_EMPLOYEE, id: 'acc-alice', displayName: 'alice@example.com' },
    subject: { kind: auditEventV1.SubjectKind.SUBJECT_KIND_ACCOUNT, id: 'acc-alice', displayName: '' },
    sourceIp: '203.0.113.7',
    ...overrides,
  });
}

/** Appends and returns the results (throws the gRPC error). */
export function append(client: AuditServiceClient, events: auditEventV1.AuditEvent[]) {
  return call(client, client.append, { events });
}
