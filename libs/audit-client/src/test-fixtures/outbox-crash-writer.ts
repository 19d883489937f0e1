// Child process for the outbox crash case: commits batches of 3 events, one transaction per
// batch, and prints "committed <n>" after each commit returns, until the parent SIGKILLs it.
// Usage: node --import tsx outbox-crash-writer.ts sqlite <file> | mongodb <url> <dbName>
import { openMongo, openSqlite } from '@gatehouse/storage';
import type { UnitOfWork } from '@gatehouse/core';
import { MongoOutboxRepository, SqliteOutboxRepository, outboxMongoIndexes, outboxSqliteMigrations, type OutboxRepository } from '../index.js';

const [backend, where, dbName] = process.argv.slice(2);
let uow: UnitOfWork;
let outbox: OutboxRepository;
if (backend === 'sqlite' && where) {
  const store = openSqlite({ file: where, migrations: outboxSqliteMigrations });
  uow = store;
  outbox = new SqliteOutboxRepository(store);
} else if (backend === 'mongodb' && where && dbName) {
  const store = await openMongo({ url: where, dbName, migrations: [], indexes: outboxMongoIndexes });
  uow = store;
  outbox = new MongoOutboxRepository(store);
} else {
  throw new Error('usage: outbox-crash-writer.ts sqlite <file> | mongodb <url> <dbName>');
}

const payload = new TextEncoder().encode('x'.repeat(512));
for (let batch = 0; ; batch++) {
  const createdAt = new Date();
  await uow.run((tx) =>
    outbox.add(tx, [0, 1, 2].map((i) => ({ eventId: `crash-${batch}-${i}`, payload, createdAt }))),
  );
  process.stdout.write(`committed ${batch}\n`);
}
