import type * as grpc from '@grpc/grpc-js';
import { systemClock, type Clock } from '@gatehouse/core';
import { identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { stream } from '@gatehouse/service-kit';
import type { SessionClaims } from './claims.js';

/** One revocation as a verifier needs it (identity.v1.Revocation in domain terms). */
export interface Revocation {
  sequence: number;
  kind: 'session' | 'account_sessions' | 'account_suspended' | 'account_locked';
  /** The session, for kind `session`. */
  sessionId?: string;
  accountId: string;
  revokedAt: Date;
  forgetAfter: Date;
}

const KIND: Record<number, Revocation['kind'] | undefined> = {
  [identityV1.RevocationKind.REVOCATION_KIND_SESSION]: 'session',
  [identityV1.RevocationKind.REVOCATION_KIND_ACCOUNT_SESSIONS]: 'account_sessions',
  [identityV1.RevocationKind.REVOCATION_KIND_ACCOUNT_SUSPENDED]: 'account_suspended',
  [identityV1.RevocationKind.REVOCATION_KIND_ACCOUNT_LOCKED]: 'account_locked',
};

/**
 * The revocations a service knows of: revoked session ids, and per account the latest instant
 * up to which every sign-in is revoked. Entries are dropped once no token they cover can be
 * valid (`forgetAfter`), so the set stays as small as the revocations of the last day.
 */
export class RevocationSet {
  private readonly sessions = new Map<string, number>();
  private readonly accounts = new Map<string, { upTo: number; forgetAfter: number }>();

  apply(r: Revocation): void {
    if (r.kind === 'session') {
      if (r.sessionId) this.sessions.set(r.sessionId, Math.max(r.forgetAfter.getTime(), this.sessions.get(r.sessionId) ?? 0));
      return;
    }
    const prev = this.accounts.get(r.accountId);
    this.accounts.set(r.accountId, {
      upTo: Math.max(r.revokedAt.getTime(), prev?.upTo ?? 0),
      forgetAfter: Math.max(r.forgetAfter.getTime(), prev?.forgetAfter ?? 0),
    });
  }

  /** True if the session these claims describe is revoked: by id, or by its account since it signed in. */
  covers(claims: Pick<SessionClaims, 'sessionId' | 'accountId' | 'authTime'>): boolean {
    if (this.sessions.has(claims.sessionId)) return true;
    const a = this.accounts.get(claims.accountId);
    return a !== undefined && claims.authTime.getTime() <= a.upTo;
  }

  /** Forgets entries whose tokens have all expired by `now`. */
  prune(now: Date): void {
    const t = now.getTime();
    for (const [k, until] of this.sessions) if (until <= t) this.sessions.delete(k);
    for (const [k, a] of this.accounts) if (a.forgetAfter <= t) this.accounts.delete(k);
  }

  get size(): number {
    return this.sessions.size + this.accounts.size;
  }
}

/** Options of {@link RevocationFeed}. */
export interface RevocationFeedOptions {
  clock?: Clock;
  /**
   * The feed counts as current only if the stream delivered something (a heartbeat comes every
   * second) within this many ms. Beyond it verifiers ask identity on every call. Default 3000.
   */
  staleAfterMs?: number;
  /** First reconnect delay; doubles up to 5 s. Default 200 ms. */
  retryMs?: number;
  /** Told of every revocation as it arrives (impersonation revokes grants on lock and suspension). */
  onRevocation?: (r: Revocation) => void;
  /** Told when the stream fails, with the reason (for a warning in the service's log). */
  onDisconnect?: (reason: string) => void;
}

/**
 * A service's live copy of identity's revocations, kept by WatchRevocations (resumed from the
 * last sequence after a disconnect). This is what makes a logout, a suspension or a lockout
 * take effect in every service within the push delay, not at the token's expiry. It knows when
 * it may be behind (not caught up, or no message for `staleAfterMs`): verifiers then fail
 * closed by asking identity.
 */
export class RevocationFeed {
  readonly set = new RevocationSet();
  private readonly clock: Clock;
  private readonly staleAfterMs: number;
  private readonly retryMs: number;
  private lastSequence = 0;
  private caughtUp = false;
  private lastMessageAt = -Infinity;
  private call: grpc.ClientReadableStream<identityV1.WatchRevocationsResponse> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private backoff: number;
  private closed = false;

  constructor(
    private readonly client: IdentityServiceClient,
    private readonly opts: RevocationFeedOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.staleAfterMs = opts.staleAfterMs ?? 3000;
    this.retryMs = opts.retryMs ?? 200;
    this.backoff = this.retryMs;
  }

  /** Opens the stream (and keeps reopening it until close()). */
  start(): this {
    this.connect();
    this.pruneTimer = setInterval(() => this.set.prune(this.clock.now()), 60_000);
    this.pruneTimer.unref();
    return this;
  }

  /** True while the copy is known to be current: caught up, and heard from within staleAfterMs. */
  isCurrent(): boolean {
    return this.caughtUp && performance.now() - this.lastMessageAt <= this.staleAfterMs;
  }

  /** True if the feed knows the session is revoked. */
  covers(claims: Pick<SessionClaims, 'sessionId' | 'accountId' | 'authTime'>): boolean {
    return this.set.covers(claims);
  }

  /** The highest sequence received. */
  get sequence(): number {
    return this.lastSequence;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pruneTimer);
    this.call?.cancel();
    this.call = undefined;
  }

  private connect(): void {
    if (this.closed) return;
    const call = stream(this.client, this.client.watchRevocations, { afterSequence: this.lastSequence });
    this.call = call;
    call.on('data', (msg: identityV1.WatchRevocationsResponse) => {
      this.lastMessageAt = performance.now();
      this.backoff = this.retryMs;
      for (const p of msg.revocations) {
        const r = revocationFromProto(p);
        if (!r) continue;
        this.set.apply(r);
        this.lastSequence = Math.max(this.lastSequence, r.sequence);
        try {
          this.opts.onRevocation?.(r);
        } catch {
          // A listener's failure must not stop the feed; the listener reports its own errors.
        }
      }
      if (msg.caughtUp) this.caughtUp = true;
    });
    const lost = (reason: string) => {
      if (this.call !== call) return;
      this.call = undefined;
      this.caughtUp = false;
      if (this.closed) return;
      this.opts.onDisconnect?.(reason);
      this.retryTimer = setTimeout(() => this.connect(), this.backoff);
      this.retryTimer.unref();
      this.backoff = Math.min(this.backoff * 2, 5000);
    };
    call.on('error', (err: grpc.ServiceError) => lost(err.details || err.message));
    call.on('end', () => lost('the stream ended'));
  }
}

/** A streamed revocation in domain terms; undefined for one this version cannot read (skipped). */
export function revocationFromProto(p: identityV1.Revocation): Revocation | undefined {
  const kind = KIND[p.kind];
  if (!kind || !p.accountId || !p.revokedAt || !p.forgetAfter) return undefined;
  return {
    sequence: p.sequence,
    kind,
    ...(p.sessionId ? { sessionId: p.sessionId } : {}),
    accountId: p.accountId,
    revokedAt: p.revokedAt,
    forgetAfter: p.forgetAfter,
  };
}
