import path from 'node:path';
import { allowlistV1, AllowlistServiceService, ImpersonationServiceClient, SERVICE_NAMES } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { unary, type RunningServer } from '@gatehouse/service-kit';
import { addFirstReplica, backendEnv as backendEnvOf, startFakeService, startServiceHarness, STORAGE_BACKENDS, type ServiceHarness } from '@gatehouse/testing';
import { impersonationService } from '../service.js';

/** Impersonation replicas in-process on one store, with a fake allowlist at the true boundary. */
export interface ImpersonationHarness extends ServiceHarness<ImpersonationServiceClient> {
  /** IPs the fake allowlist answers ALLOW for (127.0.0.1 at start). */
  allowlisted: Set<string>;
  /** Makes the fake allowlist fail every Check (UNAVAILABLE), or answer again. */
  allowlistDown(down: boolean): void;
}

/**
 * Starts the impersonation service as production wires it (real store, real mTLS) with a
 * recording audit double and a fake AllowlistService. Clients: cli (operator), crm and other-crm
 * (product backends). `env` adds or overrides variables. One replica is started.
 */
export async function startImpersonation(env: Record<string, string> = {}, start = Date.now()): Promise<ImpersonationHarness> {
  const h = await startServiceHarness({
    spec: impersonationService,
    Client: ImpersonationServiceClient,
    clients: [
      { name: 'crm', kind: 'backend' },
      { name: 'other-crm', kind: 'backend' },
    ],
    peers: ['allowlist'],
    logLevel: 'debug',
    env: { GATEHOUSE_IMPERSONATION_EXPIRY_SCAN_MS: '100', ...env },
    start,
  });
  const allowlisted = new Set<string>(['127.0.0.1']);
  let down = false;
  const allowlist: RunningServer = await startFakeService({
    name: SERVICE_NAMES.allowlist,
    definition: AllowlistServiceService,
    security: { mode: 'mtls', material: await loadTlsMaterial(path.join(h.dir, 'pki'), 'allowlist') },
    handlers: {
      Check: unary<allowlistV1.CheckRequest, allowlistV1.CheckResponse>(async (req) => {
        if (down) throw new Error('allowlist down (test)');
        return allowlistV1.CheckResponse.fromPartial({
          decision: allowlisted.has(req.ip) ? allowlistV1.CheckDecision.CHECK_DECISION_ALLOW : allowlistV1.CheckDecision.CHECK_DECISION_DENY,
          canonicalIp: req.ip,
        });
      }),
    },
  });
  h.env.GATEHOUSE_ALLOWLIST_ADDR = `127.0.0.1:${allowlist.port}`;
  const stop = h.stop.bind(h);
  const harness = Object.assign(h, {
    allowlisted,
    allowlistDown: (d: boolean) => void (down = d),
    async stop() {
      await stop();
      await allowlist.shutdown('test over');
    },
  });
  // Added after stop() covers the fake allowlist: a replica that refuses to start stops both.
  await addFirstReplica(harness);
  return harness;
}

/** The storage backends every suite runs on. */
export const BACKENDS = STORAGE_BACKENDS;

/** The variables selecting `backend` for the impersonation service (see libs/testing backendEnv). */
export const backendEnv = (backend: (typeof STORAGE_BACKENDS)[number], skip: (why: string) => void) => backendEnvOf('impersonation', backend, skip);
