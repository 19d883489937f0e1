import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError } from 'mongodb';
import { DuplicateKeyError, toStorageError } from './index.js';

test('a MongoDB E11000 becomes DuplicateKeyError naming the index but not the value', () => {
  const raw = new MongoServerError({
    code: 11000,
    errmsg: 'E11000 duplicate key error collection: gatehouse_x.audit_outbox index: eventId_unique dup key: { eventId: "secret-ish" }',
  });
  const err = toStorageError(raw);
  assert.ok(err instanceof DuplicateKeyError);
  assert.equal(err.index, 'eventId_unique');
  assert.doesNotMatch(err.message, /secret-ish/);
  assert.equal(err.cause, raw);
});

test('other errors pass through unchanged', () => {
  const raw = new MongoServerError({ code: 112, errmsg: 'WriteConflict' });
  assert.equal(toStorageError(raw), raw);
  const plain = new Error('x');
  assert.equal(toStorageError(plain), plain);
  assert.equal(toStorageError('str'), 'str');
});
