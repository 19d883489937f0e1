import type { KeyCreatedHook } from '@gatehouse/signing-keys';
import type { IdentityUnitOfWork } from '../ports.js';

/**
 * What identity's signing key ring tells audit when it created a key (DESIGN.md §5): the
 * `signing_key_rotate` event, by the system, naming the key and when it starts signing.
 * The ring (a shared lib) stores the key itself before this hook, so the event is staged in a
 * unit of its own right after (issue 14: not yet in the key's own transaction).
 */
export function auditKeyRotation(uow: IdentityUnitOfWork): KeyCreatedHook {
  return async (keyId, activatesAt) => {
    await uow.run(async (tx) => {
      tx.audit({
        action: 'signing_key_rotate',
        outcome: 'success',
        actor: { kind: 'system', id: 'identity' },
        subject: { kind: 'signing_key', id: keyId },
        details: { activates_at: activatesAt.toISOString() },
      });
    }, 'rotate-signing-key');
  };
}
