import type { KeyCreatedHook } from '@gatehouse/signing-keys';
import type { IdentityAudit } from '../ports.js';

/**
 * What identity's signing key ring tells audit when it created a key (DESIGN.md §5): the
 * `signing_key_rotate` event, by the system, naming the key and when it starts signing.
 */
export function auditKeyRotation(audit: IdentityAudit): KeyCreatedHook {
  return async (keyId, activatesAt) => {
    await audit.record({
      action: 'signing_key_rotate',
      outcome: 'success',
      actor: { kind: 'system', id: 'identity' },
      subject: { kind: 'signing_key', id: keyId },
      details: { activates_at: activatesAt.toISOString() },
    });
  };
}
