// Identity's signing keys live in the table identity-0005 created; @gatehouse/signing-keys reads and writes it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openSqlite, type SqliteMigration } from '@gatehouse/storage';
import { SqliteSigningKeyRepository, signingKeyMongoIndexes, signingKeySqliteMigrations } from '@gatehouse/signing-keys';
import { tempDir } from '@gatehouse/testing';
import { identitySchema } from './schema.js';

const dir = await tempDir('identity-signing-keys-schema');
after(() => dir.cleanup());

/** The stored CREATE statements of the signing_keys table and its index, whitespace folded. */
async function signingKeysDdl(name: string, migrations: readonly SqliteMigration[]): Promise<string[]> {
  const store = openSqlite({ file: path.join(dir.path, `${name}.db`), migrations });
  try {
    return await store.exec(undefined, (db) =>
      (db.prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'signing_keys' AND sql IS NOT NULL ORDER BY name").all() as Array<{ sql: string }>).map((r) =>
        r.sql.replace(/\s+/g, ' '),
      ),
    );
  } finally {
    await store.close();
  }
}

test('identity\'s migrations keep their ids and order (signing keys are created inside identity-0005, not by the lib\'s migration)', () => {
  assert.deepEqual(
    identitySchema.sqliteMigrations.map((m) => m.id),
    ['identity-0001-accounts', 'identity-0002-otp-throttle', 'identity-0003-sign-ins', 'identity-0004-sessions', 'identity-0005-signing-keys-bootstrap', 'identity-0007-revocations', 'identity-0008-role-changes'],
  );
  assert.ok(identitySchema.mongoIndexes.includes(signingKeyMongoIndexes[0] as (typeof identitySchema.mongoIndexes)[number]), 'the lib\'s listing index, under its old name');
});

test('identity-0005 made the same signing_keys table and index as the lib\'s own migration, and the lib\'s adapter works on it', async () => {
  const identity = await signingKeysDdl('identity', identitySchema.sqliteMigrations);
  assert.equal(identity.length, 2, 'the table and its listing index');
  assert.deepEqual(identity, await signingKeysDdl('lib', signingKeySqliteMigrations));

  const store = openSqlite({ file: path.join(dir.path, 'identity.db'), migrations: identitySchema.sqliteMigrations });
  const keys = new SqliteSigningKeyRepository(store);
  const k = { keyId: 'sk-abc', publicKey: new Uint8Array(32).fill(1), encryptedPrivateKey: 'v1:mk-0:aXY:Y3Q:dGFn', createdAt: new Date(0), activatesAt: new Date(1000) };
  await keys.create(k);
  assert.deepEqual(await keys.list(), [k]);
  await store.close();
});
