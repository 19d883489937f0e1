import type { AllowlistServiceClient } from '@gatehouse/contracts';
import { allowlistChecker, type Logger } from '@gatehouse/service-kit';
import type { AllowlistCheck } from '../domain/ports.js';

/**
 * AllowlistService.Check for session scope (P7). Fail closed: if the allowlist cannot answer
 * (down, not deployed, deadline), the IP counts as not allowlisted and the session is issued
 * with the register-ip scope, which RefreshSession widens once the allowlist answers ALLOW.
 */
export function grpcAllowlistCheck(client: AllowlistServiceClient, log: Logger, deadlineMs = 2_000): AllowlistCheck {
  const checker = allowlistChecker(client, { deadlineMs });
  return {
    async isAllowlisted(ip, accountId) {
      try {
        return await checker.isAllowlisted(ip, accountId);
      } catch (err) {
        // The gRPC error the checker wrapped says why (status and detail), for the operator.
        const why = err instanceof Error && err.cause instanceof Error ? err.cause : err;
        log.warn({ err: why instanceof Error ? why.message : String(why) }, 'allowlist check failed: issuing a register-ip session');
        return false;
      }
    },
  };
}
