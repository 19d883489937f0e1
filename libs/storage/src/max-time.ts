import { DeadlineExceededError } from '@gatehouse/core';

/**
 * Turns a gRPC call's deadline into a MongoDB maxTimeMS: the time left, but never more than the
 * server's default cap. gRPC sets no deadline by itself and MongoDB would otherwise keep working
 * for a caller that gave up (REQUIREMENTS.md, Deadlines). A deadline already past throws
 * DeadlineExceededError instead of returning 0, which MongoDB would read as "no limit".
 */
export function boundedMaxTimeMS(deadline: Date | undefined, defaultMs: number, nowMs: number = Date.now()): number {
  if (!Number.isFinite(defaultMs) || defaultMs < 1) throw new RangeError(`default maxTimeMS must be ≥ 1, got ${defaultMs}`);
  const cap = Math.trunc(defaultMs);
  if (deadline === undefined) return cap;
  const left = deadline.getTime() - nowMs;
  if (Number.isNaN(left)) throw new RangeError('deadline is an invalid Date');
  if (left <= 0) throw new DeadlineExceededError('the call deadline passed before the database was asked');
  return Math.max(1, Math.min(cap, Math.ceil(left)));
}
