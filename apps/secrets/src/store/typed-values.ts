import type { Actor, SecretHead, SecretVersion } from '../domain/model.js';

/**
 * Rebuilds the values a MongoDB adapter writes from their declared types (String, Number, a new
 * Date), so no caller object (an operator like `{ $ne: null }` where a string belongs) ever
 * reaches a filter or a stored document as anything but plain data.
 */
export const text = (s: string): string => String(s);
export const nullableText = (s: string | null): string | null => (s === null ? null : String(s));
export const date = (d: Date): Date => new Date(d.getTime());
export const nullableDate = (d: Date | null): Date | null => (d === null ? null : date(d));
export const actor = (a: Actor): Actor => ({ accountId: String(a.accountId), email: String(a.email) });
export const nullableActor = (a: Actor | null): Actor | null => (a === null ? null : actor(a));

/** MongoDB reads `limit(0)` as "no limit"; a page of zero (or less) is empty on both backends. */
export const emptyPage = (limit: number): boolean => !(Number(limit) > 0);

/**
 * putVersion's head must be the head of the version it stores: same secret, pointing at that
 * version. Anything else is a programming error that would corrupt the head, so it is refused.
 */
export function assertHeadOf(v: SecretVersion, head: SecretHead): void {
  if (head.environment !== v.environment || head.app !== v.app || head.name !== v.name || head.latestVersion !== v.version) {
    throw new RangeError('putVersion: the head must be the same secret and point at the stored version');
  }
}
