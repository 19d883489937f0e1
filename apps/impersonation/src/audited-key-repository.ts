import type { AuditedUnitOfWork } from '@gatehouse/audit-client';
import type { SigningKeyRepository } from '@gatehouse/signing-keys';
import type { ImpersonationAction } from './domain/impersonation-service.js';

/**
 * The token-signing key store as the ring sees it, where creating a key commits the key and its
 * `signing_key_rotate` event in one unit of work (issue 14): a crash can no longer leave a
 * signing key nobody audited. A key another replica created first fails the unit with
 * AlreadyExistsError, which the ring expects, and records nothing.
 */
export function auditedKeyCreation(keys: SigningKeyRepository, uow: AuditedUnitOfWork<ImpersonationAction>): SigningKeyRepository {
  return {
    create: (key) =>
      uow.run(async (tx) => {
        await keys.create(key, tx);
        tx.audit({
          action: 'signing_key_rotate',
          outcome: 'success',
          actor: { kind: 'system', id: 'impersonation' },
          subject: { kind: 'signing_key', id: key.keyId },
          details: { activates_at: key.activatesAt.toISOString() },
        });
      }, 'rotate-signing-key'),
    list: () => keys.list(),
    delete: (keyIds) => keys.delete(keyIds),
  };
}
