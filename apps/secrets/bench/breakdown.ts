// Where one call's time goes: the running service's Secrets domain object, its ports (secret and
// release repositories, audit sink) wrapped in timers (@gatehouse/testing's portBreakdown), driven
// one call at a time in-process. Diagnostic only, after the timed sections; nothing here is part
// of a ratio.
import type { SecretsServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { catchInstance, portBreakdown as timedPorts } from '@gatehouse/testing';
import { Secrets } from '../src/domain/secrets-service.js';

/**
 * The service's Secrets instance. The host keeps it inside the RPC binding, so it is caught as
 * `this` of one SealStatus call (which changes nothing) through a patched prototype, restored at once.
 */
export function catchSecrets(cli: SecretsServiceClient): Promise<Secrets> {
  return catchInstance(Secrets, 'sealStatus', () => call(cli, cli.sealStatus, {}));
}

const PORTS = ['secrets', 'releases', 'audit'] as const;

/**
 * Runs `op(i)` for i < n one at a time on `secrets` with its ports timed; returns text lines: the
 * mean total, each port method's mean time and calls per op, and the rest (checks, encryption or
 * decryption, hashing: the domain's own synchronous work).
 */
export function portBreakdown(secrets: Secrets, n: number, op: (i: number) => Promise<unknown>): Promise<{ meanMs: number; lines: string[] }> {
  const d = (secrets as unknown as { d: Record<(typeof PORTS)[number], object> }).d;
  return timedPorts(d, PORTS, n, op, 24);
}
