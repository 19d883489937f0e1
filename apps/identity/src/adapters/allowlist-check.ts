import { commonV1, allowlistV1, type AllowlistServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import type { Logger } from '@gatehouse/service-kit';
import type { AllowlistCheck } from '../domain/ports.js';

/**
 * AllowlistService.Check for session scope (P7). Fail closed: if the allowlist cannot answer
 * (down, not deployed, deadline), the IP counts as not allowlisted and the session is issued
 * with the register-ip scope, which RefreshSession widens once the allowlist answers ALLOW.
 */
export function grpcAllowlistCheck(client: AllowlistServiceClient, log: Logger, deadlineMs = 2_000): AllowlistCheck {
  return {
    async isAllowlisted(ip, accountId) {
      try {
        const res = await call<allowlistV1.CheckRequest, allowlistV1.CheckResponse>(
          client,
          client.check,
          { ip, accountId, environment: commonV1.Environment.ENVIRONMENT_UNSPECIFIED },
          { deadlineMs },
        );
        return res.decision === allowlistV1.CheckDecision.CHECK_DECISION_ALLOW;
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'allowlist check failed: issuing a register-ip session');
        return false;
      }
    },
  };
}
