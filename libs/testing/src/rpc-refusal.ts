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
