import type { RequestContext } from '@gatehouse/service-kit';
import { requireEmployee, type SessionTokenVerifier } from '@gatehouse/session';
import type { AuditAuthz } from './audit-rpc.js';

/**
 * Reads of the log need a security officer's or manager's full session (the operator CLI), or
 * a backend named as a reader (a log shipper); acknowledging and hashing need the officer.
 */
export function auditAuthz(verifier: SessionTokenVerifier, readers: readonly string[]): AuditAuthz {
  return {
    requireReader: async (ctx: RequestContext) => {
      if (ctx.caller?.kind === 'backend' && readers.includes(ctx.caller.name)) return `backend:${ctx.caller.name}`;
      const e = await requireEmployee(ctx, verifier, { anyOfRoles: ['security_officer', 'manager'] });
      return e.accountId;
    },
    requireOfficer: async (ctx: RequestContext) => {
      const e = await requireEmployee(ctx, verifier, { anyOfRoles: ['security_officer'] });
      return { accountId: e.accountId, email: e.email, roles: [...e.roles] };
    },
  };
}
