import { SecretsServiceClient } from '@gatehouse/contracts';
import { backendEnv as backendEnvOf, startServiceHarness, STORAGE_BACKENDS, type ServiceHarness } from '@gatehouse/testing';
import { secretsService } from '../service.js';

/** Secrets replicas in-process on one store. Clients: cli (operator), deployer + other-deployer (backends), web (trusted proxy), impersonation (a service). */
export type SecretsHarness = ServiceHarness<SecretsServiceClient>;

/** A passphrase good enough for the policy (tests only). */
export const TEST_PASSPHRASE = 'correct horse battery staple 42';

/**
 * Starts the secrets service (not in dev mode: it starts uninitialised and sealed) with a
 * recording audit double; `env` adds or overrides variables.
 */
export async function startSecrets(env: Record<string, string> = {}, start = Date.now()): Promise<SecretsHarness> {
  const h = await startServiceHarness({
    spec: secretsService,
    Client: SecretsServiceClient,
    clients: [
      { name: 'deployer', kind: 'backend' },
      { name: 'other-deployer', kind: 'backend' },
      { name: 'web', kind: 'backend' },
    ],
    peers: ['impersonation'],
    logLevel: 'debug',
    env: { GATEHOUSE_TRUSTED_PROXIES: 'web', GATEHOUSE_SECRETS_EXPIRY_SCAN_MS: '100', ...env },
    start,
  });
  try {
    await h.addReplica();
  } catch (err) {
    // A replica refusing to start (a config test) must not leave the doubles serving.
    await h.stop();
    throw err;
  }
  return h;
}

/** The storage backends every suite runs on. */
export const BACKENDS = STORAGE_BACKENDS;

/** The variables selecting `backend` for the secrets service (see libs/testing backendEnv). */
export const backendEnv = (backend: (typeof STORAGE_BACKENDS)[number], skip: (why: string) => void) => backendEnvOf('secrets', backend, skip);
