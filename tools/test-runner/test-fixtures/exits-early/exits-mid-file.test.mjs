// Exits with code 0 in the middle of its second test: its third and fourth tests never run.
import { test } from 'node:test';

test('runs', () => {});

test('exits the process', async () => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  process.exit(0);
});

test('never runs', () => {});

test('never runs either', () => {});
