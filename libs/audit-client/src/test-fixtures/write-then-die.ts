// Test fixture: commits N audit events to a SQLite outbox, prints their ids, then dies by
// SIGKILL before any relay could ship them — the crash the outbox must survive.
import { openSqlite } from '@gatehouse/storage';
import { auditEventV1 } from '@gatehouse/contracts';
import { AuditEmitter } from '../emitter.js';
import { AuditRelay } from '../relay.js';
import { outboxSqliteMigrations, SqliteOutboxRepository } from '../index.js';
import { createLogger } from '@gatehouse/service-kit';

const [file, count] = process.argv.slice(2);
const store = openSqlite({ file: file ?? '', migrations: outboxSqliteMigrations });
const outbox = new SqliteOutboxRepository(store);
const relay = new AuditRelay({ outbox, send: async () => [], log: createLogger({ service: 'fixture', level: 'silent' }) });
const emitter = new AuditEmitter({ outbox, relay, source: 'secrets' });
const ids: string[] = [];
for (let i = 0; i < Number(count); i++) {
  const [id] = await store.run(async (tx) =>
    emitter.record(tx, {
      service: auditEventV1.Service.SERVICE_SECRETS,
      action: auditEventV1.Action.ACTION_SECRETS_SECRET_PUT,
      outcome: auditEventV1.Outcome.OUTCOME_SUCCESS,
      actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_SYSTEM, id: 'secrets', displayName: '' },
      details: { i: String(i) },
    }),
  );
  if (id) ids.push(id);
}
process.stdout.write(`${JSON.stringify(ids)}\n`);
process.kill(process.pid, 'SIGKILL');
