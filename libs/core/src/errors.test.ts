import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, ResourceExhaustedError, isDomainError, FailedPreconditionError } from './index.js';

test('InvalidArgumentError names the field in its message', () => {
  const err = new InvalidArgumentError('events[3].source_ip', 'not an IP address');
  assert.equal(err.message, 'events[3].source_ip: not an IP address');
  assert.equal(err.kind, 'invalid_argument');
  assert.equal(err.name, 'InvalidArgumentError');
});

test('isDomainError recognises domain errors and rejects plain errors', () => {
  assert.equal(isDomainError(new FailedPreconditionError('sealed')), true);
  assert.equal(isDomainError(new ResourceExhaustedError('slow down', 500)), true);
  assert.equal(isDomainError(new Error('boom')), false);
  assert.equal(isDomainError('sealed'), false);
});
