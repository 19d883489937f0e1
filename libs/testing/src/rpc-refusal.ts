import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';

/**
 * The gRPC status and message of a call that must be refused; fails the test if it succeeded.
 * Tests assert both: a clear status and a message that names the problem.
 */
export async function refused(call: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
  assert.fail('the call was expected to be refused');
}

/**
 * A critical action whose audit confirmation comes too late (issue 13 item 6): `hang` holds
 * audit's answers while `fn` runs (the call must be refused), then releases them; waits until
 * `landed` says the late event reached audit, and for the outbox to drain. Returns the refusal.
 */
export async function answeredTooLate(
  hang: (on: boolean) => void,
  drain: () => Promise<void>,
  fn: () => Promise<unknown>,
  landed: () => boolean,
): Promise<{ code: grpc.status; details: string }> {
  hang(true);
  let err: { code: grpc.status; details: string };
  try {
    err = await refused(fn());
  } finally {
    hang(false);
  }
  for (let i = 0; i < 200 && !landed(); i++) await new Promise((r) => setTimeout(r, 25));
  await drain();
  return err;
}
