import type { Transaction } from '@gatehouse/core';
/**
 * The one-time bootstrap token that creates the first security officer (issue 4 item 1). Only
 * its SHA-256 is stored; it is consumed with a single compare-and-set.
 */
export interface BootstrapTokenRepository {
  /** Stores a new token hash, replacing any earlier unused one. */
  put(tx: Transaction, tokenHash: string, createdAt: Date, expiresAt: Date): Promise<void>;
  /** Marks the token used iff `tokenHash` is the stored, unused, unexpired token; true for exactly one caller. */
  consume(tx: Transaction, tokenHash: string, now: Date): Promise<boolean>;
  /** Whether an unused, unexpired token exists. */
  pending(now: Date, tx?: Transaction): Promise<boolean>;
}
