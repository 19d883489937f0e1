import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mutex } from './mutex.js';

test('the mutex grants the lock in request order and one holder at a time', async () => {
  const mutex = new Mutex();
  const order: string[] = [];
  let holders = 0;
  await Promise.all(
    ['a', 'b', 'c', 'd'].map((name) =>
      mutex.withLock(async () => {
        holders++;
        assert.equal(holders, 1);
        order.push(name);
        await new Promise((r) => setTimeout(r, 1));
        holders--;
      }),
    ),
  );
  assert.deepEqual(order, ['a', 'b', 'c', 'd']);
});

test('a throwing holder releases the lock', async () => {
  const mutex = new Mutex();
  await assert.rejects(mutex.withLock(() => Promise.reject(new Error('x'))));
  assert.equal(await mutex.withLock(() => 1), 1);
});
