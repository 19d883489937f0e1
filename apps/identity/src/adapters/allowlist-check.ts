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
        // Allowlisted for either environment: the session's environment access is decided by roles.
        for (const environment of [commonV1.Environment.ENVIRONMENT_STAGING, commonV1.Environment.ENVIRONMENT_LIVE]) {
          const res = await call<allowlistV1.CheckRequest, allowlistV1.CheckResponse>(client, client.check, { ip, accountId, environment }, { deadlineMs });
          if (res.decision === allowlistV1.CheckDecision.CHECK_DECISION_ALLOW) return true;
        }
        return false;
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'allowlist check failed: issuing a register-ip session');
        return false;
      }
    },
  };
}
