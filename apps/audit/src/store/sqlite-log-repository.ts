import { FailedPreconditionError, type Transaction } from '@gatehouse/core';
import { sqliteTx, type SqliteDatabase, type SqliteMigration, type SqliteStore } from '@gatehouse/storage';
import type { LogRecord } from '../domain/event.js';
import { nodeHash } from '@gatehouse/merkle';
import { MIN_STORED_NODE_LEVEL, foldPerfect, indexColumnsOf, type AppendTx, type LeafCodec, type LogFilter, type LogRepository, type MerkleNode, type IndexColumns, type PageSpec, type RawRow, type StoredCheckpoint, type StoredRecord } from '../domain/ports.js';

/** The audit log's tables. Entries keep their leaf bytes; the other columns serve queries. */
export const auditSqliteMigrations: SqliteMigration[] = [
  {
    id: 'audit-0001-log',
    up: (db) => {
      db.exec(`
        CREATE TABLE audit_log (
          seq INTEGER PRIMARY KEY,
          event_id TEXT NOT NULL UNIQUE,
          content_hash TEXT NOT NULL,
          occurred_at INTEGER NOT NULL,
          appended_at INTEGER NOT NULL,
          service TEXT NOT NULL,
          action TEXT NOT NULL,
          outcome TEXT NOT NULL,
          actor_id TEXT NOT NULL,
          subject_kind TEXT,
          subject_id TEXT,
          customer_domain TEXT NOT NULL,
          source_ip TEXT NOT NULL,
          environment TEXT NOT NULL,
          request_id TEXT NOT NULL,
          submitted_by TEXT NOT NULL,
          leaf_input BLOB NOT NULL,
          leaf_hash BLOB NOT NULL
        );
        CREATE INDEX audit_log_occurred ON audit_log (occurred_at, seq);
        CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
        CREATE INDEX audit_log_subject ON audit_log (subject_id, seq);
        CREATE INDEX audit_log_domain ON audit_log (customer_domain, seq);
        CREATE INDEX audit_log_ip ON audit_log (source_ip, seq);
        CREATE INDEX audit_log_action ON audit_log (action, seq);
        CREATE INDEX audit_log_request ON audit_log (request_id);
        CREATE TABLE audit_tree (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL);
        INSERT INTO audit_tree (id, size) VALUES (1, 0);
        CREATE TABLE merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
        CREATE TABLE audit_checkpoints (
          tree_size INTEGER PRIMARY KEY,
          origin TEXT NOT NULL,
          root_hash BLOB NOT NULL,
          signed_at INTEGER NOT NULL,
          key_id TEXT NOT NULL,
          signature BLOB NOT NULL
        );
      `);
    },
  },
];

/** Each index column's SQL name, in the table's order. */
const SQLITE_COLUMNS: ReadonlyArray<readonly [keyof IndexColumns, string]> = [
  ['eventId', 'event_id'],
  ['contentHash', 'content_hash'],
  ['occurredAt', 'occurred_at'],
  ['appendedAt', 'appended_at'],
  ['service', 'service'],
  ['action', 'action'],
  ['outcome', 'outcome'],
  ['actorId', 'actor_id'],
  ['subjectKind', 'subject_kind'],
  ['subjectId', 'subject_id'],
  ['customerDomain', 'customer_domain'],
  ['sourceIp', 'source_ip'],
  ['environment', 'environment'],
  ['requestId', 'request_id'],
  ['submittedBy', 'submitted_by'],
];

interface Row {
  seq: number;
  leaf_input: Buffer;
  leaf_hash: Buffer;
}

interface CheckpointRow {
  tree_size: number;
  origin: string;
  root_hash: Buffer;
  signed_at: number;
  key_id: string;
  signature: Buffer;
}

/**
 * Builds a record from the authoritative leaf bytes (the other columns only index them). A row
 * edited outside audit may hold no bytes or bytes that do not decode: that is refused naming the
 * sequence (FAILED_PRECONDITION), never a decoder's TypeError.
 */
export function recordFromLeaf(codec: LeafCodec, seq: number, leafInput: unknown, leafHash: unknown): LogRecord {
  if (!(leafInput instanceof Uint8Array) || !(leafHash instanceof Uint8Array)) {
    throw new FailedPreconditionError(`audit log entry ${seq} cannot be decoded: its ${leafInput instanceof Uint8Array ? 'leaf_hash' : 'leaf_input'} is not bytes; the log's database was changed outside audit`);
  }
  let leaf;
  try {
    leaf = codec.decode(leafInput);
  } catch (err) {
    throw new FailedPreconditionError(`audit log entry ${seq} cannot be decoded (${(err as Error).message}); the log's database was changed outside audit`);
  }
  return { sequence: seq, event: leaf.event, appendedAt: leaf.appendedAt, submittedBy: leaf.submittedBy, leafInput, leafHash };
}

function toCheckpoint(r: CheckpointRow): StoredCheckpoint {
  return { treeSize: r.tree_size, origin: r.origin, rootHash: r.root_hash, signedAt: new Date(r.signed_at), keyId: r.key_id, signature: r.signature };
}

/** Where-clause pieces from typed filter values only; every value is a bound parameter. */
export function sqlFilter(filter: LogFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const inList = (col: string, values: string[] | undefined) => {
    if (values && values.length > 0) {
      where.push(`${col} IN (${values.map(() => '?').join(', ')})`);
      params.push(...values);
    }
  };
  if (filter.occurredFrom) {
    where.push('occurred_at >= ?');
    params.push(filter.occurredFrom.getTime());
  }
  if (filter.occurredTo) {
    where.push('occurred_at < ?');
    params.push(filter.occurredTo.getTime());
  }
  inList('service', filter.services);
  inList('action', filter.actions);
  inList('outcome', filter.outcomes);
  inList('environment', filter.environments);
  const eq = (col: string, v: string | undefined) => {
    if (v !== undefined) {
      where.push(`${col} = ?`);
      params.push(v);
    }
  };
  eq('actor_id', filter.actorId);
  eq('subject_kind', filter.subjectKind);
  eq('subject_id', filter.subjectId);
  eq('customer_domain', filter.customerDomain);
  eq('source_ip', filter.sourceIp);
  eq('request_id', filter.requestId);
  if (filter.fromSequence !== undefined) {
    where.push('seq >= ?');
    params.push(filter.fromSequence);
  }
  if (filter.toSequence !== undefined) {
    where.push('seq < ?');
    params.push(filter.toSequence);
  }
  return { where, params };
}

/** The log on SQLite: one transaction per append batch, serialised by the store. */
export class SqliteLogRepository implements LogRepository {
  private readonly insertEntry;
  private readonly insertNode;
  private readonly setSize;
  private readonly insertCheckpoint;

  constructor(
    private readonly store: SqliteStore,
    private readonly codec: LeafCodec,
  ) {
    // Prepared once: the append path runs these hundreds of times per batch.
    this.insertEntry = store.db.prepare(`INSERT INTO audit_log (seq, ${SQLITE_COLUMNS.map(([, col]) => col).join(', ')}, leaf_input, leaf_hash)
      VALUES (?, ${SQLITE_COLUMNS.map(() => '?').join(', ')}, ?, ?)`);
    this.insertNode = store.db.prepare('INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)');
    this.setSize = store.db.prepare('UPDATE audit_tree SET size = ? WHERE id = 1');
    this.insertCheckpoint = store.db.prepare(
      'INSERT OR IGNORE INTO audit_checkpoints (tree_size, origin, root_hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  private txFor(tx: Transaction, db: SqliteDatabase): AppendTx {
    return {
      tx,
      treeSize: async () => (db.prepare('SELECT size FROM audit_tree WHERE id = 1').get() as { size: number }).size,
      node: async (level, index) => nodeFrom(db, level, index),
      existing: async (ids) => {
        const out = new Map<string, { sequence: number; contentHash: string; appendedAt: Date }>();
        for (let i = 0; i < ids.length; i += 500) {
          const chunk = ids.slice(i, i + 500);
          const rows = db
            .prepare(`SELECT event_id, seq, content_hash, appended_at FROM audit_log WHERE event_id IN (${chunk.map(() => '?').join(', ')})`)
            .all(...chunk) as Array<{ event_id: string; seq: number; content_hash: string; appended_at: number }>;
          for (const r of rows) out.set(r.event_id, { sequence: r.seq, contentHash: r.content_hash, appendedAt: new Date(r.appended_at) });
        }
        return out;
      },
      insert: async (records: StoredRecord[], nodes: MerkleNode[], newTreeSize: number) => {
        const ins = this.insertEntry;
        const row: unknown[] = new Array(SQLITE_COLUMNS.length + 3);
        for (const r of records) {
          const c = indexColumnsOf(r);
          row[0] = r.sequence;
          for (let i = 0; i < SQLITE_COLUMNS.length; i++) row[i + 1] = c[SQLITE_COLUMNS[i]![0]];
          row[SQLITE_COLUMNS.length + 1] = bytesView(r.leafInput);
          row[SQLITE_COLUMNS.length + 2] = bytesView(r.leafHash);
          ins.run(row);
        }
        for (const n of nodes) if (n.level >= MIN_STORED_NODE_LEVEL) this.insertNode.run(n.level, n.index, bytesView(n.hash));
        this.setSize.run(newTreeSize);
      },
      putCheckpoint: async (cp) => {
        this.insertCheckpoint.run(cp.treeSize, cp.origin, bytesView(cp.rootHash), cp.signedAt.getTime(), cp.keyId, bytesView(cp.signature));
      },
    };
  }

  appendTransaction<T>(fn: (tx: AppendTx) => Promise<T>): Promise<T> {
    return this.store.run((tx: Transaction) => fn(this.txFor(tx, sqliteTx(tx))));
  }

  treeSize(): Promise<number> {
    return this.store.exec(undefined, (db) => (db.prepare('SELECT size FROM audit_tree WHERE id = 1').get() as { size: number }).size);
  }

  range(from: number, to: number, limit: number): Promise<LogRecord[]> {
    return this.store.exec(undefined, (db) =>
      (db.prepare('SELECT seq, leaf_input, leaf_hash FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?').all(from, to, limit) as Row[]).map((r) =>
        recordFromLeaf(this.codec, r.seq, r.leaf_input, r.leaf_hash),
      ),
    );
  }

  query(filter: LogFilter, page: PageSpec): Promise<LogRecord[]> {
    const { where, params } = sqlFilter(filter);
    if (page.after !== undefined) {
      where.push(page.descending ? 'seq < ?' : 'seq > ?');
      params.push(page.after);
    }
    const sql = `SELECT seq, leaf_input, leaf_hash FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${page.descending ? 'DESC' : 'ASC'} LIMIT ?`;
    return this.store.exec(undefined, (db) =>
      (db.prepare(sql).all(...params, page.limit) as Row[]).map((r) => recordFromLeaf(this.codec, r.seq, r.leaf_input, r.leaf_hash)),
    );
  }

  node(level: number, index: number): Promise<Uint8Array | undefined> {
    return this.store.exec(undefined, (db) => nodeFrom(db, level, index));
  }

  async putCheckpoint(cp: StoredCheckpoint): Promise<void> {
    await this.store.exec(undefined, () =>
      this.insertCheckpoint.run(cp.treeSize, cp.origin, bytesView(cp.rootHash), cp.signedAt.getTime(), cp.keyId, bytesView(cp.signature)),
    );
  }

  checkpoint(treeSize: number): Promise<StoredCheckpoint | undefined> {
    return this.store.exec(undefined, (db) => {
      const r = db.prepare('SELECT * FROM audit_checkpoints WHERE tree_size = ?').get(treeSize) as CheckpointRow | undefined;
      return r ? toCheckpoint(r) : undefined;
    });
  }

  latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return this.store.exec(undefined, (db) => {
      const r = db.prepare('SELECT * FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1').get() as CheckpointRow | undefined;
      return r ? toCheckpoint(r) : undefined;
    });
  }

  checkpointsBetween(after: number, upTo: number): Promise<StoredCheckpoint[]> {
    return this.store.exec(undefined, (db) =>
      (db.prepare('SELECT * FROM audit_checkpoints WHERE tree_size > ? AND tree_size <= ? ORDER BY tree_size').all(after, upTo) as CheckpointRow[]).map(toCheckpoint),
    );
  }

  rawRows(from: number, limit: number): Promise<RawRow[]> {
    return this.store.exec(undefined, (db) =>
      (db.prepare('SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?').all(from, limit) as Array<Record<string, unknown>>).map((r) => ({
        sequence: r['seq'] as number,
        leafInput: r['leaf_input'],
        leafHash: r['leaf_hash'],
        columns: Object.fromEntries(SQLITE_COLUMNS.map(([key, col]) => [key, r[col]])) as RawRow['columns'],
      })),
    );
  }
}

/** Bytes as the driver binds them: a Buffer over the same memory (no copy on the append path). */
function bytesView(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function nodeFrom(db: SqliteDatabase, level: number, index: number): Uint8Array | undefined {
  if (level === 0) {
    return (db.prepare('SELECT leaf_hash FROM audit_log WHERE seq = ?').get(index) as { leaf_hash: Buffer } | undefined)?.leaf_hash;
  }
  if (level < MIN_STORED_NODE_LEVEL) {
    const width = 2 ** level;
    const leaves = (db.prepare('SELECT leaf_hash FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq').all(index * width, (index + 1) * width) as Array<{ leaf_hash: Buffer }>).map((r) => r.leaf_hash);
    return leaves.length === width ? foldPerfect(leaves, nodeHash) : undefined;
  }
  return (db.prepare('SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?').get(level, index) as { hash: Buffer } | undefined)?.hash;
}
