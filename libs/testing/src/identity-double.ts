import { IdentityServiceService, SERVICE_NAMES, identityV1 } from '@gatehouse/contracts';
import { systemClock, UnavailableError, type Clock } from '@gatehouse/core';
import { serverStream, unary, type RunningServer, type TransportSecurity } from '@gatehouse/service-kit';
import { InvalidSessionError, RevocationSet, revocationFromProto, SessionVerifier, StaticKeySource, DEFAULT_SESSION_AUDIENCE, DEFAULT_SESSION_ISSUER } from '@gatehouse/session';
import { startFakeService } from './fake-service.js';

/** The identity boundary of a service's own tests: session checks and the revocation stream. */
export interface IdentityDouble {
  server: RunningServer;
  /** Revokes one session (as logout does): pushed on WatchRevocations, refused by VerifySession. */
  revokeSession(sessionId: string, accountId: string): void;
  /** Revokes every session of an account signed in until now (suspension, lock, role change). */
  revokeAccount(accountId: string, kind?: 'account_sessions' | 'account_suspended' | 'account_locked'): void;
  /** Makes VerifySession answer UNAVAILABLE and stops heartbeats (true), or works again (false). */
  down(down: boolean): void;
  /** How many VerifySession calls it answered. */
  readonly verifyCalls: number;
  stop(): Promise<void>;
}

const K = identityV1.RevocationKind;
const KINDS = { account_sessions: K.REVOCATION_KIND_ACCOUNT_SESSIONS, account_suspended: K.REVOCATION_KIND_ACCOUNT_SUSPENDED, account_locked: K.REVOCATION_KIND_ACCOUNT_LOCKED };

/**
 * A double of identity's VerifySession and WatchRevocations for services tested without
 * identity: it trusts the test session issuer's keys (the same file the service pins), keeps a
 * revocation log, pushes it as identity does (replay, caught_up, live entries, heartbeats each
 * 200 ms), and answers VerifySession from it. The real identity is used by the e2e suite.
 */
export async function startIdentityDouble(opts: { security: TransportSecurity; keysFile: string; clock?: Clock }): Promise<IdentityDouble> {
  const clock = opts.clock ?? systemClock;
  const keys = StaticKeySource.fromEnv({ GATEHOUSE_SESSION_KEYS_FILE: opts.keysFile });
  if (!keys) throw new Error('identity double: no keys file');
  const verifier = new SessionVerifier({ issuer: DEFAULT_SESSION_ISSUER, audience: DEFAULT_SESSION_AUDIENCE, keys, clock });
  const log: identityV1.Revocation[] = [];
  // What VerifySession refuses: the same set the services keep from the stream.
  const revoked = new RevocationSet();
  const listeners = new Set<() => void>();
  let isDown = false;
  let verifyCalls = 0;
  const append = (r: Omit<identityV1.Revocation, 'sequence' | 'revokedAt' | 'forgetAfter'>) => {
    const now = clock.now();
    const entry = { ...r, sequence: log.length + 1, revokedAt: now, forgetAfter: new Date(now.getTime() + 24 * 3600_000) };
    log.push(entry);
    const known = revocationFromProto(entry);
    if (known) revoked.apply(known);
    for (const l of listeners) l();
  };
  const server = await startFakeService({
    name: SERVICE_NAMES.identity,
    definition: IdentityServiceService,
    security: opts.security,
    handlers: {
      VerifySession: unary<identityV1.VerifySessionRequest, identityV1.VerifySessionResponse>(async (req) => {
        verifyCalls++;
        if (isDown) throw new UnavailableError('identity double is down');
        try {
          const c = await verifier.verify(req.sessionToken, { presentedIp: req.clientIp });
          if (revoked.covers(c)) return { valid: false, reason: identityV1.SessionInvalidReason.SESSION_INVALID_REASON_REVOKED };
          return { valid: true, reason: identityV1.SessionInvalidReason.SESSION_INVALID_REASON_UNSPECIFIED };
        } catch (err) {
          if (!(err instanceof InvalidSessionError)) throw err;
          const reason = err.reason === 'ip_mismatch' ? identityV1.SessionInvalidReason.SESSION_INVALID_REASON_IP_MISMATCH : identityV1.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED;
          return { valid: false, reason };
        }
      }),
      WatchRevocations: serverStream<identityV1.WatchRevocationsRequest, identityV1.WatchRevocationsResponse>(async (req, ctx, send) => {
        let sent = req.afterSequence;
        let wake: (() => void) | undefined;
        const l = () => wake?.();
        listeners.add(l);
        ctx.signal.addEventListener('abort', l, { once: true });
        try {
          while (!ctx.signal.aborted) {
            if (!isDown) {
              const batch = log.filter((r) => r.sequence > sent);
              sent = Math.max(sent, ...batch.map((r) => r.sequence));
              await send({ revocations: batch, caughtUp: true, headSequence: log.length });
            }
            await new Promise<void>((resolve) => {
              const t = setTimeout(resolve, 200);
              wake = () => {
                clearTimeout(t);
                resolve();
              };
            });
          }
        } finally {
          listeners.delete(l);
        }
      }),
    },
  });
  return {
    server,
    revokeSession: (sessionId, accountId) => append({ kind: K.REVOCATION_KIND_SESSION, sessionId, accountId }),
    revokeAccount: (accountId, kind = 'account_sessions') => append({ kind: KINDS[kind], sessionId: '', accountId }),
    down(d) {
      isDown = d;
    },
    get verifyCalls() {
      return verifyCalls;
    },
    stop: () => server.shutdown('test over'),
  };
}
