import * as grpc from '@grpc/grpc-js';
import { AllowlistServiceClient } from '@gatehouse/contracts';
import { addFirstReplica, startServiceHarness, type ServiceHarness } from '@gatehouse/testing';
import { allowlistService } from '../service.js';

/** Allowlist replicas in-process on one store (clients: cli = operator, web = trusted proxy, other-backend). */
export type AllowlistHarness = ServiceHarness<AllowlistServiceClient>;

/** Metadata with a forwarded-for value (honoured only from a trusted proxy). */
export function forwardedFor(value: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-forwarded-for', value);
  return md;
}

/** Starts the allowlist service with a recording audit double; `env` adds or overrides variables. */
export async function startAllowlist(env: Record<string, string> = {}, start = Date.now()): Promise<AllowlistHarness> {
  const h = await startServiceHarness({
    spec: allowlistService,
    Client: AllowlistServiceClient,
    clients: [
      { name: 'web', kind: 'backend' },
      { name: 'other-backend', kind: 'backend' },
    ],
    env: { GATEHOUSE_TRUSTED_PROXIES: 'web', ...env },
    start,
  });
  await addFirstReplica(h);
  return h;
}
