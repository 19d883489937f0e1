// Exits with code 0 in the middle of its second test: its third and fourth tests never run.
import { test } from 'node:test';

test('runs', () => {});

test('exits the process', async () => {
  // Reporters run in this process and lose what they had not written at exit: give them time to
  // write the declared tests and the first result, so the runner's counts are the same under load.
  await new Promise((resolve) => setTimeout(resolve, 500));
  process.exit(0);
});

test('never runs', () => {});

test('never runs either', () => {});
