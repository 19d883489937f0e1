import assert from 'node:assert/strict';

/** What a crash test found after the kill: the state change, and its audit event. */
export interface CrashFinding {
  state: boolean;
  event: boolean;
}

/**
 * The crash tests' verdict (issue 14 item 5): prints one line per kill point and fails unless
 * the state change and its event were both found or neither was.
 */
export function assertBothOrNeither(where: { useCase: string; point: string; backend: string }, seen: CrashFinding): 'both' | 'neither' {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const verdict = seen.state === seen.event ? (seen.state ? 'both' : 'neither') : 'MISMATCH';
  const line = `crash ${where.useCase} @ ${where.point} (${where.backend}): state ${yes(seen.state)}, event ${yes(seen.event)} -> ${verdict}`;
  console.log(line);
  assert.notEqual(verdict, 'MISMATCH', line);
  return verdict as 'both' | 'neither';
}
