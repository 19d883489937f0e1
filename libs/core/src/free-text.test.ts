import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from './errors.js';
import { freeText } from './free-text.js';

test('freeText: trimmed; required, length and control characters refused naming the field', () => {
  assert.equal(freeText('  pipeline cancelled ', 'reason', { required: true, max: 20 }), 'pipeline cancelled');
  assert.equal(freeText('', 'note', { required: false, max: 20 }), '');
  const refused = (v: unknown, required: boolean, why: RegExp) =>
    assert.throws(() => freeText(v, 'reason', { required, max: 5 }), (e: unknown) => e instanceof InvalidArgumentError && /reason/.test(e.message) && why.test(e.message));
  refused('   ', true, /is required/);
  refused({ $ne: null }, true, /is required/);
  refused('abcdef', false, /at most 5 characters/);
  refused('a\nb', false, /control characters/);
  refused('a\u0000', false, /control characters/);
});
