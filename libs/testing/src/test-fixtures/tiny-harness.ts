// Run by find-mongo.test.ts in a child process with different environments, to show how the
// harness reports a MongoDB from MONGO_URL and a missing MongoDB.
import assert from 'node:assert/strict';
import { describeRepositoryContract } from '../index.js';

describeRepositoryContract<{ backend: string }>(
  'tiny',
  { sqlite: async () => ({ backend: 'sqlite' }), mongodb: async () => ({ backend: 'mongodb' }), close: () => undefined },
  (backend) => {
    backend.test('runs', async (ctx) => assert.equal(ctx.backend, backend.name));
    backend.test('needs change streams', { requires: ['change-streams'] }, async () => undefined);
  },
);
