import { sessionRejected } from './errors.js';
import type { SessionClaims } from './claims.js';
import type { RemoteSessionChecker } from './remote-session-checker.js';
import type { RevocationFeed } from './revocations.js';
import type { SessionVerifier, VerifyOptions } from './verifier.js';

/**
 * Per-call options of {@link ServiceSessionVerifier.verify}: `critical` actions (approvals, role
 * changes, releases, impersonation start, anomaly decisions) ask identity synchronously and
 * fail closed, whatever the feed says.
 */
export interface ServiceVerifyOptions extends VerifyOptions {
  critical?: boolean;
}

/**
 * How every service other than identity checks a session: locally (signature, times, pinned
 * IP), then against the revocation feed pushed by identity. While the feed is not known to be
 * current (starting, reconnecting, or silent past its staleness bound), and for critical
 * actions, it also asks identity (VerifySession), so a revoked session is refused within the
 * feed's bound or not at all, never honoured until its expiry.
 */
export class ServiceSessionVerifier {
  constructor(
    private readonly local: Pick<SessionVerifier, 'verify'>,
    readonly feed: RevocationFeed | undefined,
    private readonly remote: Pick<RemoteSessionChecker, 'check'> | undefined,
  ) {}

  async verify(token: string, options: ServiceVerifyOptions = {}): Promise<SessionClaims> {
    const claims = await this.local.verify(token, options);
    if (this.feed?.covers(claims)) throw sessionRejected('revoked');
    const mustAsk = options.critical === true || (this.feed !== undefined && !this.feed.isCurrent());
    if (mustAsk && this.remote) await this.remote.check(token, options.presentedIp ?? claims.pinnedIp);
    return claims;
  }

  /** Stops the feed (on shutdown). */
  close(): void {
    this.feed?.close();
  }
}
