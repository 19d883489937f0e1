import * as grpc from '@grpc/grpc-js';
import { allowlistV1, commonV1, type AllowlistServiceClient } from '@gatehouse/contracts';
import { UnavailableError } from '@gatehouse/core';
import { call } from './client.js';

/** "Is this client IP allowlisted for this employee?", as identity's sessions and impersonation grants ask it. */
export interface AllowlistChecker {
  /** True if allowlisted for STAGING or LIVE, false if for neither; UnavailableError if the allowlist cannot answer. */
  isAllowlisted(ip: string, accountId: string): Promise<boolean>;
}

/** Options of {@link allowlistChecker}. */
export interface AllowlistCheckerOptions {
  /** Deadline of each Check call. Default 2 s. */
  deadlineMs?: number;
}

/**
 * AllowlistService.Check for "is this IP allowlisted for this account" (P7), in one place for
 * every service that asks: STAGING first, then LIVE (either environment counts; which one a
 * caller may reach is decided by its roles). It fails closed by throwing: when a call fails
 * (down, not deployed, deadline, refused) it throws {@link UnavailableError}, so a caller that
 * must not grant without an answer gets UNAVAILABLE, and one that may degrade catches it.
 */
export function allowlistChecker(client: AllowlistServiceClient, opts: AllowlistCheckerOptions = {}): AllowlistChecker {
  const deadlineMs = opts.deadlineMs ?? 2_000;
  return {
    async isAllowlisted(ip, accountId) {
      for (const environment of [commonV1.Environment.ENVIRONMENT_STAGING, commonV1.Environment.ENVIRONMENT_LIVE]) {
        let res: allowlistV1.CheckResponse;
        try {
          res = await call<allowlistV1.CheckRequest, allowlistV1.CheckResponse>(client, client.check, { ip, accountId, environment }, { deadlineMs });
        } catch (err) {
          // The status name only: the message goes to callers, and the cause keeps the detail for logs.
          const status = typeof (err as { code?: unknown }).code === 'number' ? grpc.status[(err as grpc.ServiceError).code] : 'error';
          throw new UnavailableError(`allowlist: the allowlist could not answer (${status ?? 'error'})`, { cause: err });
        }
        if (res.decision === allowlistV1.CheckDecision.CHECK_DECISION_ALLOW) return true;
      }
      return false;
    },
  };
}
