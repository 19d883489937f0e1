/** MongoDB reads `limit(0)` as "no limit"; a page of zero (or less) is empty on both backends. */
export const emptyPage = (limit: number): boolean => !(Number(limit) > 0);

/** A JSON-parsed document with its ISO date strings (at these keys) turned back into Dates. */
export function reviveDates<T extends object>(doc: T, keys: readonly string[]): T {
  const raw = doc as Record<string, unknown>;
  for (const k of keys) if (typeof raw[k] === 'string') raw[k] = new Date(raw[k] as string);
  return doc;
}
