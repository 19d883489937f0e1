import path from 'node:path';
import { openSqlite, sqliteTx, type SqliteStore } from '@gatehouse/storage';

/**
 * The floor of a critical action's bench (issue 14 item 7): the least durable work any such
 * action must do — one fsynced commit of its rows — through the same store layer the services
 * use (SqliteStore: WAL, synchronous=FULL, group commit). A bare RPC whose handler awaits
 * `commit()` is then the floor of the whole call: one mTLS round trip plus one durable commit.
 */
export interface CommitFloor {
  /** Commits `rows` rows of `bytes` each in one unit of work; resolves once durable. */
  commit(rows?: number, bytes?: number): Promise<void>;
  readonly store: SqliteStore;
  close(): Promise<void>;
}

/** Opens the floor's own database in `dir` (a bench's temp folder). */
export function openCommitFloor(dir: string): CommitFloor {
  const store = openSqlite({
    file: path.join(dir, 'commit-floor.db'),
    migrations: [{ id: 'bench/0001-floor', up: (db) => db.exec('CREATE TABLE floor (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)') }],
  });
  const payloads = new Map<number, Buffer>();
  return {
    store,
    commit: (rows = 1, bytes = 256) => {
      let payload = payloads.get(bytes);
      if (!payload) payloads.set(bytes, (payload = Buffer.alloc(bytes, 7)));
      const p = payload;
      return store.run(async (tx) => {
        const ins = sqliteTx(tx).prepare('INSERT INTO floor (payload) VALUES (?)');
        for (let i = 0; i < rows; i++) ins.run(p);
      });
    },
    close: () => store.close(),
  };
}
