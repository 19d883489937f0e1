import { randomBytes } from 'node:crypto';

let counter = 0;

/**
 * A MongoDB database name no other test (or test process) uses. jongodb has no dropDatabase, so
 * isolation comes from never reusing a name. Stays within MongoDB's 63-byte limit and its
 * allowed characters.
 */
export function uniqueDbName(prefix = 'test'): string {
  const safe = prefix.replace(/[^A-Za-z0-9_]+/g, '_').slice(0, 24) || 'test';
  counter += 1;
  return `t_${safe}_${process.pid.toString(36)}_${Date.now().toString(36)}_${counter.toString(36)}_${randomBytes(3).toString('hex')}`;
}
