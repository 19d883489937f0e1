/**
 * Typed domain errors. Domain code throws these; the service kit maps each kind to exactly one
 * gRPC status in one place, so domain code never needs to know about gRPC. The message is sent
 * to the client, so it must name the problem and never contain a secret.
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'permission_denied'
  | 'unauthenticated'
  | 'resource_exhausted'
  | 'unavailable'
  | 'aborted'
  | 'unimplemented'
  | 'deadline_exceeded';

/** Base of every error whose message is safe to show to the caller. */
export abstract class DomainError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A request field is malformed, out of range or hostile; `field` names it. */
export class InvalidArgumentError extends DomainError {
  readonly kind = 'invalid_argument' as const;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The object the request names does not exist (or the caller may not learn that it does). */
export class NotFoundError extends DomainError {
  readonly kind = 'not_found' as const;
}

/** Creating something that already exists. */
export class AlreadyExistsError extends DomainError {
  readonly kind = 'already_exists' as const;
}

/** The system is not in a state that allows the request (sealed, already redeemed, locked...). */
export class FailedPreconditionError extends DomainError {
  readonly kind = 'failed_precondition' as const;
}

/** The caller is known but may not do this to this object. */
export class PermissionDeniedError extends DomainError {
  readonly kind = 'permission_denied' as const;
}

/** The caller could not be authenticated (no, bad or expired credential). */
export class UnauthenticatedError extends DomainError {
  readonly kind = 'unauthenticated' as const;
}

/** A rate limit or quota was hit; `retryAfterMs` tells the client when to come back. */
export class ResourceExhaustedError extends DomainError {
  readonly kind = 'resource_exhausted' as const;
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** A dependency (audit, database) is unavailable; the action did not happen. */
export class UnavailableError extends DomainError {
  readonly kind = 'unavailable' as const;
}

/** A concurrent change won; the client may retry the whole operation. */
export class AbortedError extends DomainError {
  readonly kind = 'aborted' as const;
}

/** The RPC exists in the contract but its capability is not built yet. */
export class UnimplementedError extends DomainError {
  readonly kind = 'unimplemented' as const;
}

/** The call's deadline (the client's or the server's cap) passed before it finished. */
export class DeadlineExceededError extends DomainError {
  readonly kind = 'deadline_exceeded' as const;
}

/** True for errors whose kind and message may be shown to the caller. */
export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
