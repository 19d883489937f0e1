import { UnauthenticatedError } from '@gatehouse/core';

/**
 * Why a session token was refused. Handlers answer UNAUTHENTICATED whatever the reason; the
 * reason is for the audit event and metrics ("every authentication failure is logged", ASVS
 * 16.3.1), so they never have to parse a message.
 */
export type SessionRejection =
  | 'missing'
  | 'oversized'
  | 'malformed'
  | 'algorithm'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'too_long_lived'
  | 'ip_mismatch'
  | 'revoked';

/**
 * A session token was refused. It is an {@link UnauthenticatedError}, so the service kit maps it
 * to UNAUTHENTICATED; the message names the problem and never contains the token or any part of
 * it.
 */
export class InvalidSessionError extends UnauthenticatedError {
  constructor(
    readonly reason: SessionRejection,
    message: string,
  ) {
    super(message);
  }
}

/** The message for each reason: one wording whether the token was judged here or by identity. */
const MESSAGES: Readonly<Record<Exclude<SessionRejection, 'malformed' | 'oversized' | 'algorithm'>, string>> = {
  missing: 'a session is required: send authorization: Bearer <token>',
  unknown_key: 'session token is signed by an unknown key',
  bad_signature: 'session token signature does not verify',
  wrong_issuer: 'session token was issued by another issuer',
  wrong_audience: 'session token was issued for another audience (wrong aud)',
  expired: 'session token has expired; refresh the session or sign in again',
  not_yet_valid: 'session token is not valid yet (issued in the future; check the clocks)',
  too_long_lived: 'session token outlives the absolute session lifetime',
  ip_mismatch: 'session is pinned to another IP address than the one it was presented from',
  revoked: 'session has been revoked; sign in again',
};

/** A refusal with the standard message for its reason. */
export function sessionRejected(reason: keyof typeof MESSAGES): InvalidSessionError {
  return new InvalidSessionError(reason, MESSAGES[reason]);
}
