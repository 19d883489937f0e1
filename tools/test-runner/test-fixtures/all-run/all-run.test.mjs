// Every declared test reports: two tests in a suite, a skipped one, a subtest and a todo.
import { describe, it, test } from 'node:test';

describe('suite', () => {
  it('one', () => {});
  it('two', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
  });
  it.skip('skipped', () => {});
});

test('with a subtest', async (t) => {
  await t.test('sub', () => {});
});

test.todo('later');
