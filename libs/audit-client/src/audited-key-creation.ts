import type { SigningKeyRepository } from '@gatehouse/signing-keys';
import type { AuditedUnitOfWork } from './audited-unit-of-work.js';

/**
 * A signing-key store whose `create` commits the key and its `signing_key_rotate` event in one
 * unit of work (issue 14), so a crash can never leave a token-signing key nobody audited. Both
 * token issuers (identity, impersonation) hand this to their SigningKeyRing. A key another
 * replica created first fails the unit with AlreadyExistsError, which the ring expects, and
 * records nothing.
 */
export function auditedKeyCreation(service: string, keys: SigningKeyRepository, uow: AuditedUnitOfWork<'signing_key_rotate'>): SigningKeyRepository {
  return {
    create: (key) =>
      uow.run(async (tx) => {
        await keys.create(key, tx);
        tx.audit({
          action: 'signing_key_rotate',
          outcome: 'success',
          actor: { kind: 'system', id: service },
          subject: { kind: 'signing_key', id: key.keyId },
          details: { activates_at: key.activatesAt.toISOString() },
        });
      }, 'rotate-signing-key'),
    list: () => keys.list(),
    delete: (keyIds) => keys.delete(keyIds),
  };
}
