// Where one call's time goes: the running service's Impersonation domain object, its ports (grant,
// burst-window, lock and anomaly repositories, the token signing-key ring, the allowlist check and
// the audit sink) wrapped in timers (@gatehouse/testing's portBreakdown), driven one call at a time
// in-process. Diagnostic only, after the timed sections; nothing here is part of a ratio.
import type { ImpersonationServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { catchInstance, portBreakdown as timedPorts } from '@gatehouse/testing';
import { Impersonation } from '../src/domain/impersonation-service.js';

/**
 * The service's Impersonation instance. The host keeps it inside the RPC binding, so it is caught
 * as `this` of one ListActive call (which changes nothing) through a patched prototype, restored
 * at once.
 */
export function catchImpersonation(client: ImpersonationServiceClient, bearer: string): Promise<Impersonation> {
  return catchInstance(Impersonation, 'listActive', () => call(client, client.listActive, { pageSize: 1, pageToken: '' }, { bearer }));
}

const PORTS = ['locks', 'allowlist', 'bursts', 'anomalies', 'keys', 'grants', 'audit'] as const;

/**
 * Runs `op(i)` for i < n one at a time on `imp` with its ports timed; returns text lines: the mean
 * total, each port method's mean time and calls per op, and the rest (checks, token signing, the
 * domain's own synchronous work).
 */
export function portBreakdown(imp: Impersonation, n: number, op: (i: number) => Promise<unknown>): Promise<{ meanMs: number; lines: string[] }> {
  const d = (imp as unknown as { d: Record<(typeof PORTS)[number], object> }).d;
  return timedPorts(d, PORTS, n, op, 28);
}
