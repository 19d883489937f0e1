import { createHash } from 'node:crypto';
import { CompactRange, checkpointText, hashEquals, leafHash, verifyCheckpoint } from '@gatehouse/merkle';
import type { RaisedAlertData } from './alert-store.js';
import { contentHashOf } from './audit-log.js';
import { MIN_STORED_NODE_LEVEL, indexColumnsOf, type IndexColumns, type LeafCodec, type LogRepository, type RawRow, type StoredCheckpoint } from './ports.js';

/** What kind of damage the integrity check found. */
export type IntegrityDamage = 'missing' | 'undecodable' | 'edited' | 'moved' | 'index-column' | 'root' | 'checkpoint' | 'inserted';

/** The first problem the check found: where, what, and in words. */
export interface IntegrityFailure {
  /** The first bad sequence (for a bad stored checkpoint: the first entry it covers that cannot be trusted). */
  sequence: number;
  damage: IntegrityDamage;
  detail: string;
}

/** Wiring of the check. */
export interface LogIntegrityOptions {
  repo: LogRepository;
  codec: LeafCodec;
  /** The log's own key, to tell a stored checkpoint signed by audit from one written into the database. */
  publicKey: Uint8Array;
  origin: string;
  /** Rows read per step (default 1000); the check yields to the event loop between steps. */
  chunk?: number;
}

/** The index columns' SQL names, to name a column the way an officer sees it in the database. */
const COLUMN_NAMES: Record<keyof IndexColumns, string> = {
  eventId: 'event_id',
  contentHash: 'content_hash',
  occurredAt: 'occurred_at',
  appendedAt: 'appended_at',
  service: 'service',
  action: 'action',
  outcome: 'outcome',
  actorId: 'actor_id',
  subjectKind: 'subject_kind',
  subjectId: 'subject_id',
  customerDomain: 'customer_domain',
  sourceIp: 'source_ip',
  environment: 'environment',
  requestId: 'request_id',
  submittedBy: 'submitted_by',
};

const show = (v: unknown): string => {
  const s = v instanceof Uint8Array ? `<${v.length} bytes>` : JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};
const typeOf = (v: unknown): string => (v === null ? 'null' : v instanceof Uint8Array ? 'bytes' : typeof v);
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Recomputes the log from its stored rows and compares it with what audit signed and indexed
 * (issue 13 item 7). The rows' leaf bytes are the truth a checkpoint signs; everything else in
 * the database (leaf hashes, Merkle nodes, index columns, the tree size) is derived from them, so
 * an edit anywhere shows as a disagreement. In sequence order, it checks: the rows run gap-free
 * from 0 to the tree size with none beyond it; each leaf decodes, names its own sequence and
 * hashes to the stored leaf_hash; every index column equals its leaf's value (a changed
 * actor_id would otherwise hide the entry from `--actor` queries); every stored Merkle node
 * equals the recomputed one; and the recomputed root equals every stored checkpoint, each of
 * which must carry audit's own signature, the last one included (a tree shorter than it was cut).
 *
 * Cost: one full pass reads every row once, in chunks of `chunk` rows, and yields to the event
 * loop between chunks, so an Append waits at most one chunk's work (a few ms), never the pass.
 * It keeps O(log n) tree state, never the rows. A full pass each time (not only the new rows)
 * is deliberate: an edit of an old, already checked row must be found by the next pass.
 */
export class LogIntegrityCheck {
  private readonly chunk: number;

  constructor(private readonly o: LogIntegrityOptions) {
    this.chunk = o.chunk ?? 1000;
  }

  /**
   * The rows [from, from + count), all below a tree size already read. Fewer than asked means
   * rows are missing, or that another replica's commit is still becoming visible: a server may
   * show a commit's tree size a moment before its rows (jongodb applies a commit piecemeal), so
   * a short read is read again a few times before the pass calls the rows missing.
   */
  private async rowsWithin(from: number, count: number) {
    let rows = await this.o.repo.rawRows(from, count);
    for (let again = 0; again < 5 && rows.length < count; again++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      rows = await this.o.repo.rawRows(from, count);
    }
    return rows;
  }

  /** The first problem, or undefined when the stored log is exactly what audit wrote and signed. */
  async run(): Promise<IntegrityFailure | undefined> {
    const { repo } = this.o;
    // Checkpoints first, then the size: audit signs only sizes it has committed, so every
    // checkpoint read before the size is at most that size, even while appends go on.
    const checkpoints = await repo.checkpointsBetween(0, Number.MAX_SAFE_INTEGER);
    const size = await repo.treeSize();
    for (const cp of checkpoints) {
      const bad = this.badSignature(cp);
      if (bad) return { sequence: 0, damage: 'checkpoint', detail: bad };
    }
    const latest = checkpoints[checkpoints.length - 1];
    const range = CompactRange.empty();
    let ci = 0;
    let lastGood = 0;
    const nodes: Array<{ level: number; index: number; hash: Uint8Array }> = [];
    for (let next = 0; next < size; ) {
      const rows = await this.rowsWithin(next, Math.min(this.chunk, size - next));
      if (rows.length === 0) break;
      for (const row of rows) {
        if (row.sequence >= size) break;
        if (row.sequence !== next) {
          return { sequence: next, damage: 'missing', detail: `entry ${next} is missing: the row after ${next === 0 ? 'the start' : `entry ${next - 1}`} is entry ${row.sequence} (rows were deleted)` };
        }
        const problem = this.rowProblem(row);
        if (problem) return problem;
        range.append(row.leafHash as Uint8Array, (level, index, hash) => {
          if (level >= MIN_STORED_NODE_LEVEL) nodes.push({ level, index, hash });
        });
        next += 1;
        while (ci < checkpoints.length && checkpoints[ci]!.treeSize < next) ci += 1;
        const cp = checkpoints[ci];
        if (cp && cp.treeSize === next) {
          if (!hashEquals(range.root(), cp.rootHash)) {
            return {
              sequence: lastGood,
              damage: 'root',
              detail: `the root of the first ${next} entries differs from audit's signed checkpoint of that size: an entry in [${lastGood}, ${next}) was rewritten together with its leaf hash`,
            };
          }
          lastGood = next;
        }
      }
      for (const n of nodes.splice(0)) {
        const stored = await repo.node(n.level, n.index);
        const first = n.index * 2 ** n.level;
        if (!(stored instanceof Uint8Array) || !hashEquals(stored, n.hash)) {
          return { sequence: first, damage: 'edited', detail: `the stored Merkle node over entries [${first}, ${first + 2 ** n.level}) differs from the one recomputed from their leaves` };
        }
      }
      await nextTurn();
    }
    if (range.size < size) {
      const s = range.size;
      return { sequence: s, damage: 'missing', detail: `entries [${s}, ${size}) are missing: the log's tree size is ${size} but its rows end at entry ${s - 1}` };
    }
    if (latest && latest.treeSize > size) {
      return { sequence: size, damage: 'missing', detail: `the log holds ${size} entries, but audit signed a checkpoint of ${latest.treeSize}: entries [${size}, ${latest.treeSize}) were removed` };
    }
    // Appends go on during the pass, so a row past `size` may be a legitimate new entry. A row
    // and the tree size that covers it commit in one transaction: a row read before a re-read of
    // the size is legitimate exactly when that later size covers it, and the search goes on past
    // it. Appends racing every round (a busy log) leave the rest to the next pass.
    let covered = await repo.treeSize();
    for (let round = 0; round < 10; round++) {
      const [extra] = await repo.rawRows(covered, 1);
      if (!extra) break;
      const now = await this.sizeCovering(extra.sequence);
      if (extra.sequence >= now) {
        return { sequence: extra.sequence, damage: 'inserted', detail: `a row with sequence ${extra.sequence} lies beyond the log's tree size ${now}: it was inserted outside audit` };
      }
      covered = now;
    }
    return undefined;
  }

  /**
   * The tree size, read again a few times while it does not yet cover `sequence`: the mirror of
   * rowsWithin. A server may show a commit's rows a moment before its tree size (measured on
   * jongodb: another replica's 300-row commit read as all rows and no size), so a row beyond the
   * size is called inserted only when the size still does not cover it half a second later. A
   * row really inserted outside audit stays beyond the size, and is reported as before.
   */
  private async sizeCovering(sequence: number): Promise<number> {
    let size = await this.o.repo.treeSize();
    for (let again = 0; again < 5 && sequence >= size; again++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      size = await this.o.repo.treeSize();
    }
    return size;
  }

  private badSignature(cp: StoredCheckpoint): string | undefined {
    try {
      checkpointText(cp);
    } catch (err) {
      return `the stored checkpoint of tree size ${String(cp.treeSize)} is malformed (${(err as Error).message})`;
    }
    if (cp.origin !== this.o.origin || !verifyCheckpoint(cp, cp.signature, this.o.publicKey)) {
      return `the stored checkpoint of tree size ${cp.treeSize} does not carry audit's signature for log "${this.o.origin}": it was written outside audit`;
    }
    return undefined;
  }

  /** What is wrong with one row on its own (its leaf, its hash, its index columns). */
  private rowProblem(row: RawRow): IntegrityFailure | undefined {
    const seq = row.sequence;
    const undecodable = (why: string): IntegrityFailure => ({ sequence: seq, damage: 'undecodable', detail: `entry ${seq} cannot be decoded: ${why}` });
    if (!(row.leafInput instanceof Uint8Array)) return undecodable(`its leaf_input is ${typeOf(row.leafInput)}, not bytes`);
    if (!(row.leafHash instanceof Uint8Array)) return undecodable(`its leaf_hash is ${typeOf(row.leafHash)}, not bytes`);
    let leaf;
    try {
      leaf = this.o.codec.decode(row.leafInput);
    } catch (err) {
      return undecodable(`its leaf_input is not a valid leaf (${(err as Error).message})`);
    }
    if (!hashEquals(leafHash(row.leafInput), row.leafHash)) {
      return { sequence: seq, damage: 'edited', detail: `entry ${seq} was edited: its leaf_input does not hash to its leaf_hash` };
    }
    if (leaf.sequence !== seq) {
      return { sequence: seq, damage: 'moved', detail: `the row at sequence ${seq} holds the leaf of entry ${leaf.sequence}: rows were moved` };
    }
    const want = indexColumnsOf({ ...leaf, leafInput: row.leafInput, leafHash: row.leafHash, contentHash: contentHashOf(leaf.event) });
    for (const key of Object.keys(COLUMN_NAMES) as Array<keyof IndexColumns>) {
      const stored = row.columns[key];
      if (stored !== want[key]) {
        return {
          sequence: seq,
          damage: 'index-column',
          detail: `entry ${seq}'s ${COLUMN_NAMES[key]} column is ${show(stored)} but its signed leaf says ${show(want[key])}: queries filtering on it would miss or misplace the entry`,
        };
      }
    }
    return undefined;
  }
}

/** Id of the built-in, rule-less alert an integrity failure raises. */
export const INTEGRITY_ALERT_RULE = 'audit.log_integrity';

/**
 * The CRITICAL alert for a failure. Its id is derived from the damage and its sequence, so the
 * same damage raises one alert however many checks (or restarts) find it again.
 */
export function integrityAlert(f: IntegrityFailure, at: Date): RaisedAlertData {
  return {
    alertId: createHash('sha256').update(`${INTEGRITY_ALERT_RULE}\u0000${f.damage}\u0000${f.sequence}`).digest('hex').slice(0, 32),
    ruleId: INTEGRITY_ALERT_RULE,
    ruleName: 'Audit log integrity',
    severity: 'ALERT_SEVERITY_CRITICAL',
    summary: `Audit log integrity check failed at sequence ${f.sequence}: ${f.detail}. Appends are refused until the database is restored; reads and exports still work`,
    groupKey: `sequence=${f.sequence}`,
    count: 1,
    threshold: 1,
    windowMs: 0,
    firstSequence: f.sequence,
    lastSequence: f.sequence,
    raisedAt: at,
  };
}

/** What the monitor does on the first failure (after refusing writes). */
export interface IntegrityMonitorOptions {
  check: LogIntegrityCheck;
  /** Stops appends and checkpoint signing (AuditLog.refuseWrites). */
  refuseWrites(f: IntegrityFailure): void;
  /** Raise the alert, report NOT_SERVING, log: called once per process. */
  onFailure(f: IntegrityFailure): void;
  /** A pass that could not run (the store is unreachable); the next one tries again. */
  onError(err: unknown): void;
}

/**
 * Runs the check at start and on a timer (the caller's), one pass at a time. The first failure
 * latches: writes stay refused until the officer restores the database and restarts audit, which
 * checks again from scratch. Later passes are skipped, so the alert is raised once.
 */
export class IntegrityMonitor {
  private running: Promise<IntegrityFailure | undefined> | undefined;
  private failed: IntegrityFailure | undefined;

  constructor(private readonly o: IntegrityMonitorOptions) {}

  /** The latched failure, if any. */
  get failure(): IntegrityFailure | undefined {
    return this.failed;
  }

  /** One pass (joins a pass already running). */
  run(): Promise<IntegrityFailure | undefined> {
    if (this.failed) return Promise.resolve(this.failed);
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<IntegrityFailure | undefined> {
    let f: IntegrityFailure | undefined;
    try {
      f = await this.o.check.run();
    } catch (err) {
      this.o.onError(err);
      return undefined;
    }
    if (f && !this.failed) {
      this.failed = f;
      this.o.refuseWrites(f);
      this.o.onFailure(f);
    }
    return f;
  }
}
