// Its tests pass and its process exits, but a child process it started keeps running.
import { spawn } from 'node:child_process';
import { test } from 'node:test';

test('starts a child process and never stops it', () => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  child.unref();
});
