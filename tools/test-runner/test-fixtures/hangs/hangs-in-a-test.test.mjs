// Its second test never finishes (a timer keeps the process alive): only the test timeout ends it.
import { test } from 'node:test';

test('passes', () => {});

test('never finishes', () => new Promise(() => setInterval(() => {}, 1000)));
