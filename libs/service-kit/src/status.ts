import * as grpc from '@grpc/grpc-js';
import { isDomainError, type ErrorKind } from '@gatehouse/core';
import type { Logger } from './logger.js';

/** The single mapping from domain error kinds to gRPC status codes (DESIGN.md §1). */
export const STATUS_OF_KIND: Readonly<Record<ErrorKind, grpc.status>> = {
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  not_found: grpc.status.NOT_FOUND,
  already_exists: grpc.status.ALREADY_EXISTS,
  failed_precondition: grpc.status.FAILED_PRECONDITION,
  permission_denied: grpc.status.PERMISSION_DENIED,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  resource_exhausted: grpc.status.RESOURCE_EXHAUSTED,
  unavailable: grpc.status.UNAVAILABLE,
  aborted: grpc.status.ABORTED,
  unimplemented: grpc.status.UNIMPLEMENTED,
  deadline_exceeded: grpc.status.DEADLINE_EXCEEDED,
};

/** Trailer that carries a retry hint with RESOURCE_EXHAUSTED. */
export const RETRY_AFTER_HEADER = 'retry-after-ms';
/** Trailer/header that carries the request id back to the caller, for support tickets. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Turns anything a handler threw into the status sent to the client. Domain errors keep their
 * message (they are written to be shown). Anything else is INTERNAL: its cause is logged with
 * the request id, and the client gets only the request id to quote.
 */
export function toServiceError(err: unknown, log: Logger, requestId: string): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(REQUEST_ID_HEADER, requestId);
  if (isDomainError(err)) {
    if (err.kind === 'resource_exhausted' && 'retryAfterMs' in err && typeof err.retryAfterMs === 'number') {
      metadata.set(RETRY_AFTER_HEADER, String(Math.max(0, Math.ceil(err.retryAfterMs))));
    }
    return { code: STATUS_OF_KIND[err.kind], details: err.message, metadata };
  }
  log.error({ err, requestId }, 'unhandled error in handler');
  return { code: grpc.status.INTERNAL, details: `internal error (request id ${requestId})`, metadata };
}
