import { status as grpcStatus } from '@grpc/grpc-js';
import { UnavailableError } from '@gatehouse/core';
import { identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { InvalidSessionError, sessionRejected } from './errors.js';
import { normalizeIp } from './ip.js';

const Reason = identityV1.SessionInvalidReason;

function refusal(reason: identityV1.SessionInvalidReason): InvalidSessionError {
  switch (reason) {
    case Reason.SESSION_INVALID_REASON_REVOKED:
      return sessionRejected('revoked');
    case Reason.SESSION_INVALID_REASON_EXPIRED:
      return sessionRejected('expired');
    case Reason.SESSION_INVALID_REASON_IP_MISMATCH:
      return sessionRejected('ip_mismatch');
    case Reason.SESSION_INVALID_REASON_BAD_SIGNATURE:
      return sessionRejected('bad_signature');
    case Reason.SESSION_INVALID_REASON_UNKNOWN_KEY:
      return sessionRejected('unknown_key');
    case Reason.SESSION_INVALID_REASON_NOT_YET_VALID:
      return sessionRejected('not_yet_valid');
    case Reason.SESSION_INVALID_REASON_MALFORMED:
      return new InvalidSessionError('malformed', 'session token is malformed (refused by identity)');
    default:
      return new InvalidSessionError('malformed', 'session refused by identity');
  }
}

/**
 * Asks identity (VerifySession) whether a session is still good right now. Local verification
 * learns of a revocation only when the token expires (at most the 1 h inactivity limit); critical
 * paths (approvals, role changes, secret releases) pay one round trip to see it at once. Pass it
 * as `revocationCheck` to requireEmployee. It fails closed: if identity cannot answer, the
 * action does not happen (UnavailableError).
 */
export class RemoteSessionChecker {
  constructor(
    private readonly client: IdentityServiceClient,
    private readonly opts: { deadlineMs?: number } = {},
  ) {}

  /** Resolves if identity says the session may be used from `clientIp`; throws InvalidSessionError if not. */
  async check(token: string, clientIp: string): Promise<void> {
    const req: identityV1.VerifySessionRequest = { sessionToken: token, clientIp: normalizeIp(clientIp) ?? clientIp };
    let res: identityV1.VerifySessionResponse;
    try {
      res = await call(this.client, this.client.verifySession, req, { deadlineMs: this.opts.deadlineMs ?? 5_000 });
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      const name = typeof code === 'number' ? (grpcStatus[code] ?? `code ${code}`) : 'no gRPC status';
      throw new UnavailableError(`identity could not confirm the session (${name}); the action did not happen`);
    }
    if (!res.valid) throw refusal(res.reason);
  }
}
