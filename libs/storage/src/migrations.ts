import { MigrationError } from './errors.js';

/** Rejects empty or duplicated ids before anything touches the database. */
export function checkMigrationIds(ids: readonly string[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (typeof id !== 'string' || id.trim() === '') throw new MigrationError('a migration has an empty id');
    if (seen.has(id)) throw new MigrationError(`migration id "${id}" appears twice in the list`);
    seen.add(id);
  }
}

/** Refuses a database that has migrations this code does not know: it was written by a newer version. */
export function refuseDowngrade(where: string, applied: Iterable<string>, known: ReadonlySet<string>): void {
  const unknown = [...applied].filter((id) => !known.has(id)).sort();
  if (unknown.length > 0) {
    throw new MigrationError(
      `${where} has migration(s) this version does not know: ${unknown.join(', ')}. ` +
        'It was written by a newer version of this service; refusing to start (downgrades are not supported).',
    );
  }
}
