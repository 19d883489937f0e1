import { identityV1 } from '@gatehouse/contracts';
import { serverStream, type Handler } from '@gatehouse/service-kit';
import type { RevocationEntry, RevocationHub, RevocationKind } from '../domain/sessions/revocation-log.js';

const KIND: Record<RevocationKind, identityV1.RevocationKind> = {
  session: identityV1.RevocationKind.REVOCATION_KIND_SESSION,
  account_sessions: identityV1.RevocationKind.REVOCATION_KIND_ACCOUNT_SESSIONS,
  account_suspended: identityV1.RevocationKind.REVOCATION_KIND_ACCOUNT_SUSPENDED,
  account_locked: identityV1.RevocationKind.REVOCATION_KIND_ACCOUNT_LOCKED,
};

/** A log entry as the contract spells it. */
export function revocationToProto(e: RevocationEntry): identityV1.Revocation {
  return {
    sequence: e.sequence,
    kind: KIND[e.kind],
    sessionId: e.sessionId ?? '',
    accountId: e.accountId,
    revokedAt: e.revokedAt,
    forgetAfter: e.forgetAfter,
  };
}

/**
 * WatchRevocations: subscribe first, then replay what the client missed, then forward live
 * entries as the hub finds them, with a heartbeat each `heartbeatMs` so clients can tell a live
 * stream from a stalled one. Subscribing before the replay means nothing falls in between; an
 * entry sent twice is harmless.
 */
export function watchRevocationsHandler(hub: RevocationHub, heartbeatMs = 1000): Handler {
  return serverStream<identityV1.WatchRevocationsRequest, identityV1.WatchRevocationsResponse>(async (req, ctx, send) => {
    const pending: RevocationEntry[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = hub.subscribe((entries) => {
      pending.push(...entries);
      wake?.();
    });
    try {
      for await (const page of hub.replay(req.afterSequence)) {
        await send({ revocations: page.map(revocationToProto), caughtUp: false, headSequence: hub.headSequence });
      }
      await send({ revocations: [], caughtUp: true, headSequence: hub.headSequence });
      while (!ctx.signal.aborted) {
        if (pending.length === 0) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              wake = undefined;
              ctx.signal.removeEventListener('abort', done);
              resolve();
            };
            const timer = setTimeout(done, heartbeatMs);
            wake = done;
            ctx.signal.addEventListener('abort', done, { once: true });
          });
        }
        if (ctx.signal.aborted) break;
        const batch = pending.splice(0, pending.length).sort((a, b) => a.sequence - b.sequence);
        await send({ revocations: batch.map(revocationToProto), caughtUp: true, headSequence: hub.headSequence });
      }
    } finally {
      unsubscribe();
    }
  });
}
