import { Buffer } from 'node:buffer';
import { auditV1 } from '@gatehouse/contracts';
import { CompactRange, EMPTY_ROOT, hashEquals, verifyConsistency } from '@gatehouse/merkle';
import { EntryChecker, type EntryStatus } from './entry-check.js';
import { isObject, parseExportRecord } from './export-line.js';
import { feedWithWorkers } from './parallel-verify.js';
import { TrustedKeySet, type TrustedKey } from './trusted-keys.js';

/** The kinds of damage `gatehouse audit verify` names. */
export type Damage = 'edited' | 'deleted' | 'reordered' | 'inserted' | 'truncated' | 'bad-signature' | 'untrusted-key' | 'malformed';

/** A checkpoint the verifier already trusts (e.g. from an earlier verification). */
export interface TrustedCheckpoint {
  treeSize: number;
  rootHash: Uint8Array;
}

/** What the export must be checked against. */
export interface VerifyOptions {
  /** Keys trusted to sign checkpoints; the keys an export carries are never trusted by themselves. */
  trustedKeys: readonly TrustedKey[];
  /** If given, the export's checkpoint must provably extend this one. */
  trustedCheckpoint?: TrustedCheckpoint;
  /**
   * A tree size the verifier already saw (e.g. pinned from an earlier check): an export whose
   * signed checkpoint covers fewer entries is a log cut back to an older checkpoint.
   */
  trustedSize?: number;
}

/** The verdict on an export. */
export interface VerifyReport {
  ok: boolean;
  /** Entries verified (in sequence, before any problem). */
  entries: number;
  /** Tree size of the export's signed checkpoint (0 without a usable header). */
  treeSize: number;
  /** Checkpoints whose signature and root both verified (intermediate ones and the final one). */
  checkpointsVerified: number;
  /**
   * The leaf position at which the export first goes wrong: the edited entry, the first missing
   * or displaced sequence, the position an extra entry occupies, the first entry a truncation
   * lost, or the start of the interval a root mismatch localises the damage to. Absent for
   * problems that concern no position (signatures, keys, a malformed header).
   */
  firstBadSequence?: number;
  damage?: Damage;
  detail: string;
}

interface Failure {
  damage: Damage;
  sequence: number | undefined;
  detail: string;
}

type Phase = 'header' | 'body' | 'after-trailer';

const ENTRY_PREFIX = '{"entry":';
const CANONICAL_SEQUENCE = /^\{"entry":\{"sequence":(\d+)[,}]/;

/**
 * Streaming verifier of an export (NDJSON lines of ExportResponse). Feed lines with `push`,
 * then call `finish`. It keeps O(log n) tree state plus a few counters, never the entries, so
 * exports of any size verify in constant memory. After the first problem it only scans what it
 * still needs (to tell a deleted entry from a moved one) and `done` turns true when it needs
 * nothing more.
 *
 * Checks, in stream order: the header is first and its checkpoint is signed by a trusted key;
 * each entry's leaf_hash is the RFC 9162 hash of leaf_input and its JSON fields equal the
 * LeafData that leaf_input decodes to; sequences run gap-free from from_sequence (a gap is
 * `deleted` if the missing sequence never appears, `reordered` if it appears later; a repeated
 * or earlier sequence is `inserted`, as is any entry beyond the checkpoint's tree size); every
 * intermediate checkpoint is signed by a trusted key and equals the running root at its size; the
 * final root equals the header checkpoint's; the trailer is last and no entry is missing before
 * it (`truncated`). With a trusted checkpoint, the header's consistency proof (or, inside the
 * exported range, the running root) must prove it.
 */
export class ExportVerifier {
  private readonly keys: TrustedKeySet;
  private readonly trusted: TrustedCheckpoint | undefined;
  private readonly checker = new EntryChecker();

  private phase: Phase = 'header';
  private failure: Failure | undefined;
  private lineNo = 0;
  /** The failure is an unreadable line; if it turns out to be the last line, the file was cut. */
  private malformedLast = false;

  private origin = '';
  private treeSize = 0;
  private finalRoot: Uint8Array = EMPTY_ROOT;
  private range = CompactRange.empty();
  private from = 0;
  private next = 0;
  private lastGood = 0;
  private entries = 0;
  private intermediate = 0;
  private checkpointsVerified = 0;
  /** Tree size at which the running root must equal the trusted root (when no proof covers it). */
  private trustedAt = -1;

  /** A gap at this sequence is being classified: does it appear later? */
  private gap: { at: number; found: number; detail: string } | undefined;

  constructor(opts: VerifyOptions) {
    this.keys = new TrustedKeySet(opts.trustedKeys);
    const t = opts.trustedCheckpoint;
    if (t !== undefined) {
      if (!Number.isSafeInteger(t.treeSize) || t.treeSize < 0) throw new RangeError('trustedCheckpoint.treeSize must be a non-negative integer');
      if (!(t.rootHash instanceof Uint8Array) || t.rootHash.length !== 32) throw new RangeError('trustedCheckpoint.rootHash must be 32 bytes');
    }
    this.trusted = t;
    const n = opts.trustedSize;
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) throw new RangeError('trustedSize must be a non-negative integer');
    this.trustedSize = n ?? 0;
  }

  private readonly trustedSize: number;

  /** True once the verdict is settled and further lines would change nothing. */
  get done(): boolean {
    return this.failure !== undefined && this.gap === undefined && !this.malformedLast;
  }

  /** Entry lines that needed the general (non-canonical) check; 0 for a canonical export. */
  get slowPathLines(): number {
    return this.checker.slowPathCount;
  }

  /** Feeds one line (without its newline; a trailing CR is dropped). Blank lines are ignored. */
  push(text: string): void {
    const line = text.charCodeAt(text.length - 1) === 0x0d ? text.slice(0, -1) : text;
    this.lineNo++;
    if (this.malformedLast) {
      if (line.trim().length > 0) this.malformedLast = false;
      return;
    }
    if (this.gap !== undefined) {
      this.scanForGap(line);
      return;
    }
    if (this.failure !== undefined) return;
    // '{"e' can only start an entry record; the entry check validates the rest.
    if (this.phase === 'body' && line.charCodeAt(2) === 0x65 && line.charCodeAt(0) === 0x7b) {
      this.entry(this.checker.check(line));
      return;
    }
    if (line.length === 0 || line.trim().length === 0) return;
    let kind: string;
    let json: Record<string, unknown>;
    try {
      ({ kind, json } = parseExportRecord(line));
    } catch (err) {
      this.failUnreadable(this.phase === 'body' ? this.next : undefined, `line ${this.lineNo}: ${(err as Error).message}`);
      return;
    }
    if (this.phase === 'header') {
      if (kind !== 'header') {
        this.fail('malformed', undefined, `line ${this.lineNo}: the export must start with its header, found ${kind === 'entry' ? 'an entry' : `a ${kind}`}`);
        return;
      }
      this.header(auditV1.ExportHeader.fromJSON(json));
      return;
    }
    if (this.phase === 'after-trailer') {
      if (kind === 'entry') this.fail('inserted', this.treeSize, `line ${this.lineNo}: an entry follows the trailer`);
      else this.fail('malformed', undefined, `line ${this.lineNo}: a ${kind} follows the trailer`);
      return;
    }
    switch (kind) {
      case 'entry':
        this.entry(this.checker.check(line));
        return;
      case 'checkpoint':
        this.checkpoint(auditV1.Checkpoint.fromJSON(json));
        return;
      case 'trailer':
        this.trailer(auditV1.ExportTrailer.fromJSON(json));
        return;
      default:
        this.fail('malformed', undefined, `line ${this.lineNo}: a second header`);
    }
  }

  /**
   * Feeds one line given as UTF-8 bytes [start, end) of `bytes` (without the newline): entry
   * lines are checked on the bytes, without a round trip through a string.
   */
  pushBytes(bytes: Buffer, start: number, end: number): void {
    const stop = end > start && bytes[end - 1] === 0x0d ? end - 1 : end;
    if (this.phase === 'body' && this.failure === undefined && this.gap === undefined && bytes[start] === 0x7b && bytes[start + 2] === 0x65) {
      this.lineNo++;
      this.entry(this.checker.checkBytes(bytes, start, stop));
      return;
    }
    this.push(bytes.toString('utf8', start, stop));
  }

  /**
   * Feeds an entry line that `EntryChecker.checkBytesFast` accepted elsewhere (a worker thread)
   * with this sequence and leaf hash: the same as `pushBytes` of the line, minus the check. When
   * the verifier is not plainly reading entries (before the header, after a problem, while a gap
   * is classified) the line goes through `pushBytes` as usual.
   */
  pushChecked(sequence: number, hash: Uint8Array, bytes: Buffer, start: number, end: number): void {
    if (this.phase === 'body' && this.failure === undefined && this.gap === undefined) {
      this.lineNo++;
      this.checker.acceptChecked(sequence, hash);
      this.entry('ok');
      return;
    }
    this.pushBytes(bytes, start, end);
  }

  /** The verdict, after the last line. */
  finish(): VerifyReport {
    if (this.malformedLast && this.failure !== undefined) {
      const f = this.failure;
      this.failure = { damage: 'truncated', sequence: f.sequence, detail: `${f.detail}; it is the last line, so the file was cut off` };
    }
    if (this.gap !== undefined) {
      const g = this.gap;
      this.gap = undefined;
      const missing = g.found - g.at;
      const what = missing > 1 && g.found <= this.treeSize ? `entries [${g.at}, ${g.found}) are missing and` : '';
      this.failure = { damage: 'deleted', sequence: g.at, detail: `${g.detail}; ${what} entry ${g.at} appears nowhere in the export: it was deleted` };
    }
    if (this.failure === undefined) {
      if (this.phase === 'header') {
        this.fail('truncated', undefined, 'the export is empty: no header');
      } else if (this.phase === 'body') {
        if (this.next < this.treeSize) {
          this.fail('truncated', this.next, `the export ends after ${this.describeLast()} with no trailer; entries [${this.next}, ${this.treeSize}) are missing`);
        } else if (this.checkFinalRoot()) {
          this.fail('truncated', this.treeSize, `all ${this.entries} entries are present but the trailer is missing`);
        }
      }
    }
    const f = this.failure;
    const base = { entries: this.entries, treeSize: this.treeSize, checkpointsVerified: this.checkpointsVerified };
    if (f !== undefined) {
      return { ok: false, ...base, ...(f.sequence !== undefined ? { firstBadSequence: f.sequence } : {}), damage: f.damage, detail: f.detail };
    }
    const from = this.from;
    return {
      ok: true,
      ...base,
      detail:
        `verified ${this.entries} entries [${from}, ${this.treeSize}) of log "${this.origin}" against its signed checkpoint ` +
        `(${this.checkpointsVerified} checkpoints verified${this.trusted ? `, consistent with the trusted tree of size ${this.trusted.treeSize}` : ''})`,
    };
  }

  // ------------------------------------------------------------------ records

  private header(h: auditV1.ExportHeader): void {
    this.phase = 'body';
    if (h.formatVersion !== 1) {
      this.fail('malformed', undefined, `unsupported export format_version ${h.formatVersion} (this verifier reads version 1)`);
      return;
    }
    const cp = h.checkpoint;
    if (cp === undefined) {
      this.fail('malformed', undefined, 'the header carries no checkpoint');
      return;
    }
    this.origin = h.origin;
    const problem = this.keys.check(cp, h.origin);
    if (problem !== undefined) {
      this.fail(problem.damage, undefined, `the export's ${problem.detail}`);
      return;
    }
    this.treeSize = cp.treeSize;
    this.finalRoot = cp.rootHash;
    if (cp.treeSize < this.trustedSize) {
      this.fail('truncated', cp.treeSize, `the export's signed checkpoint covers ${cp.treeSize} entries, fewer than the trusted size ${this.trustedSize}: the log was cut back to an older checkpoint and lost entries [${cp.treeSize}, ${this.trustedSize})`);
      return;
    }
    const from = h.fromSequence;
    if (!Number.isSafeInteger(from) || from < 0 || from > cp.treeSize) {
      this.fail('malformed', undefined, `from_sequence ${from} is outside the checkpoint's tree [0, ${cp.treeSize}]`);
      return;
    }
    try {
      this.range = CompactRange.fromSubtrees(from, h.prefixSubtreeHashes);
    } catch (err) {
      this.fail('malformed', undefined, `prefix_subtree_hashes: ${(err as Error).message}`);
      return;
    }
    this.from = from;
    this.next = from;
    this.lastGood = from;
    if (this.trusted !== undefined) this.trustedSetup(h);
    if (this.failure === undefined && this.trustedAt === this.next) this.checkTrustedRoot();
  }

  /** Decides how the trusted checkpoint gets proven: by the header's proof, or by the running root. */
  private trustedSetup(h: auditV1.ExportHeader): void {
    const t = this.trusted as TrustedCheckpoint;
    const m = t.treeSize;
    const n = this.treeSize;
    if (m > n) {
      this.fail('truncated', n, `the export's checkpoint covers ${n} entries, fewer than the trusted checkpoint's ${m}: the log lost entries [${n}, ${m})`);
      return;
    }
    if (m === 0) {
      if (!hashEquals(t.rootHash, EMPTY_ROOT)) this.fail('malformed', undefined, 'the trusted checkpoint of size 0 must have the empty root');
      return;
    }
    if (h.trustedTreeSize === m && (h.consistencyProof.length > 0 || m === n)) {
      if (verifyConsistency(m, n, h.consistencyProof, t.rootHash, this.finalRoot)) return;
      if (m < h.fromSequence) {
        this.fail('edited', undefined, `the consistency proof does not show that the export's tree (size ${n}) extends the trusted tree (size ${m}): entries before ${m} were changed, or the proof was`);
        return;
      }
    } else if (m < h.fromSequence) {
      this.fail('malformed', undefined, `the export starts at ${h.fromSequence} and carries no consistency proof from the trusted tree size ${m}; export again with trusted_tree_size ${m}`);
      return;
    }
    // The trusted size lies within the exported range: the running root itself must match there.
    this.trustedAt = m;
  }

  private checkTrustedRoot(): void {
    const t = this.trusted as TrustedCheckpoint;
    if (!hashEquals(this.range.root(), t.rootHash)) {
      this.fail(
        'edited',
        this.from,
        `the root of the first ${t.treeSize} entries differs from the trusted checkpoint's: the log's history before ${t.treeSize} was rewritten ` +
          `(and its checkpoints re-signed); within this export the damage lies in [${this.from}, ${t.treeSize})`,
      );
    }
  }

  /** Acts on the checker's verdict on the entry line just read. */
  private entry(status: EntryStatus): void {
    const c = this.checker;
    const e = this.next;
    const claimed = c.leafSequence ?? c.jsonSequence;
    if (status === 'malformed') {
      this.failUnreadable(e, `line ${this.lineNo}: ${c.problem} (where entry ${e} was expected)`);
      return;
    }
    if (e >= this.treeSize) {
      const what = claimed === undefined ? 'an entry' : `an entry claiming sequence ${claimed}`;
      this.fail('inserted', e, `line ${this.lineNo}: ${what} follows the last entry of the checkpoint's tree (size ${this.treeSize})`);
      return;
    }
    // The leaf's own sequence is what was committed: when it is not this position, the rows were
    // moved (reordered, deleted, inserted), whatever the JSON beside it says; classify by it.
    if (status === 'inconsistent' && (claimed === undefined || c.leafSequence === e || c.leafSequence === undefined)) {
      this.fail('edited', e, `entry ${e} was edited: ${c.problem}`);
      return;
    }
    const s = claimed as number;
    if (s === e) {
      this.range.append(c.leafHash);
      this.next = e + 1;
      this.entries++;
      if (this.next === this.trustedAt) this.checkTrustedRoot();
      return;
    }
    if (s < e) {
      this.fail('inserted', e, `line ${this.lineNo}: an extra entry claiming sequence ${s} appears where entry ${e} was expected`);
      return;
    }
    this.startGap(e, s, `entry ${s} follows ${this.describeLast()} where entry ${e} was expected`);
  }

  private checkpoint(cp: auditV1.Checkpoint): void {
    const problem = this.keys.check(cp, this.origin);
    if (problem !== undefined) {
      this.fail(problem.damage, undefined, `line ${this.lineNo}: ${problem.detail}`);
      return;
    }
    const e = this.next;
    if (cp.treeSize < e) {
      this.fail('reordered', cp.treeSize, `line ${this.lineNo}: the checkpoint of tree size ${cp.treeSize} appears after entry ${e - 1}; it belongs right after entry ${cp.treeSize - 1}`);
      return;
    }
    if (cp.treeSize > e) {
      this.startGap(e, cp.treeSize, `the checkpoint of tree size ${cp.treeSize} follows ${this.describeLast()} where entry ${e} was expected`);
      return;
    }
    this.intermediate++;
    if (!hashEquals(this.range.root(), cp.rootHash)) {
      this.failRoot(e, `the checkpoint of tree size ${e} (line ${this.lineNo})`);
      return;
    }
    this.lastGood = e;
    this.checkpointsVerified++;
  }

  private trailer(t: auditV1.ExportTrailer): void {
    this.phase = 'after-trailer';
    if (this.next < this.treeSize) {
      this.fail('truncated', this.next, `the trailer follows ${this.describeLast()}, but the checkpoint covers ${this.treeSize} entries: entries [${this.next}, ${this.treeSize}) are missing`);
      return;
    }
    if (!this.checkFinalRoot()) return;
    if (t.entryCount !== this.entries || t.checkpointCount !== this.intermediate) {
      this.fail(
        'malformed',
        undefined,
        `the trailer counts ${t.entryCount} entries and ${t.checkpointCount} checkpoints, but the export holds ${this.entries} entries and ` +
          `${this.intermediate} checkpoints: lines were removed or added`,
      );
    }
  }

  /** The root of all entries must be the header checkpoint's. */
  private checkFinalRoot(): boolean {
    if (!hashEquals(this.range.root(), this.finalRoot)) {
      this.failRoot(this.treeSize, "the export's checkpoint");
      return false;
    }
    this.checkpointsVerified++;
    return true;
  }

  private failRoot(size: number, what: string): void {
    const a = this.lastGood;
    this.fail(
      'edited',
      a,
      `the root of the first ${size} entries differs from ${what} although every entry is self-consistent: ` +
        `an entry was rewritten together with its leaf_input and leaf_hash; the damage lies in [${a}, ${size})` +
        (a === this.from && a > 0 ? ` (or the header's prefix_subtree_hashes are wrong)` : ''),
    );
  }

  // ------------------------------------------------------------------ gaps

  private startGap(at: number, found: number, detail: string): void {
    this.gap = { at, found, detail };
    this.failure = { damage: 'deleted', sequence: at, detail };
  }

  /** After a gap at `at`: does entry `at` appear later (reordered) or never (deleted)? */
  private scanForGap(line: string): void {
    const g = this.gap as { at: number; found: number; detail: string };
    if (!line.startsWith(ENTRY_PREFIX)) return;
    const m = CANONICAL_SEQUENCE.exec(line);
    let seq = m === null ? undefined : Number(m[1]);
    if (seq !== g.at) {
      try {
        const parsed: unknown = JSON.parse(line);
        const entry = isObject(parsed) && isObject(parsed['entry']) ? parsed['entry'] : {};
        const input = entry['leafInput'];
        if ((entry['sequence'] ?? 0) === g.at) seq = g.at;
        else if (typeof input === 'string' && auditV1.LeafData.decode(Buffer.from(input, 'base64')).sequence === g.at) seq = g.at;
      } catch {
        // Unreadable lines cannot be the missing entry.
      }
    }
    if (seq === g.at) {
      this.gap = undefined;
      this.failure = { damage: 'reordered', sequence: g.at, detail: `${g.detail}; entry ${g.at} appears later (line ${this.lineNo}): the entries were reordered` };
    }
  }

  // ------------------------------------------------------------------ helpers

  private describeLast(): string {
    return this.next > this.from ? `entry ${this.next - 1}` : 'the header';
  }

  /** An unreadable line: malformed, unless it is the last line (a file cut mid-line). */
  private failUnreadable(sequence: number | undefined, detail: string): void {
    if (this.failure !== undefined) return;
    this.fail('malformed', sequence, detail);
    this.malformedLast = true;
  }

  private fail(damage: Damage, sequence: number | undefined, detail: string): void {
    if (this.failure === undefined) this.failure = { damage, sequence, detail };
  }
}

/**
 * Verifies an export given as lines (an array, a generator, or an async source such as
 * readline). Stops reading as soon as the verdict is settled.
 */
export async function verifyExport(lines: AsyncIterable<string> | Iterable<string>, opts: VerifyOptions): Promise<VerifyReport> {
  const v = new ExportVerifier(opts);
  if (Symbol.iterator in lines) {
    for (const line of lines) {
      v.push(line);
      if (v.done) break;
    }
  } else {
    for await (const line of lines) {
      v.push(line);
      if (v.done) break;
    }
  }
  return v.finish();
}

/** How `verifyExportChunks` spends CPU (not what it checks: the verdict is the same). */
export interface VerifyRunOptions {
  /**
   * Worker threads for the entry checks (JSON against leaf_input, leaf hash); 0 (the default)
   * checks on the calling thread. The tree, the sequence and every verdict stay on the calling
   * thread in stream order. Falls back to the calling thread when the worker module is missing
   * (a single-file bundle).
   */
  workers?: number;
  /** With workers: bytes of whole lines per block a worker checks (default 256 KiB; small in tests). */
  blockBytes?: number;
}

/**
 * Verifies an export given as raw chunks (e.g. `fs.createReadStream(file)` or stdin), splitting
 * lines on the bytes itself: much faster than an async iterator per line, and entry lines are
 * checked without ever becoming strings. Stops reading as soon as the verdict is settled.
 */
export async function verifyExportChunks(
  chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  opts: VerifyOptions,
  run: VerifyRunOptions = {},
): Promise<VerifyReport> {
  const v = new ExportVerifier(opts);
  const workers = run.workers ?? 0;
  if (!Number.isSafeInteger(workers) || workers < 0) throw new RangeError('workers must be a non-negative integer');
  if (workers > 0 && (await feedWithWorkers(v, chunks, workers, run.blockBytes))) return v.finish();
  let carry: Buffer | undefined;
  const feed = (chunk: Uint8Array | string): boolean => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    let nl = buf.indexOf(0x0a);
    if (carry !== undefined) {
      if (nl < 0) {
        carry = Buffer.concat([carry, buf]);
        return true;
      }
      const first = Buffer.concat([carry, buf.subarray(0, nl)]);
      carry = undefined;
      v.pushBytes(first, 0, first.length);
      if (v.done) return false;
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    while (nl >= 0) {
      v.pushBytes(buf, start, nl);
      if (v.done) return false;
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    // Copied: the source may reuse its buffer for the next chunk.
    if (start < buf.length) carry = Buffer.from(buf.subarray(start));
    return true;
  };
  if (Symbol.iterator in chunks) {
    for (const chunk of chunks) if (!feed(chunk)) break;
  } else {
    for await (const chunk of chunks) if (!feed(chunk)) break;
  }
  if (!v.done && carry !== undefined) v.pushBytes(carry, 0, carry.length);
  return v.finish();
}

/**
 * The trusted state from a file saved earlier (`gatehouse audit checkpoint --out FILE`, or an
 * earlier export, whose header is its first line): its checkpoint, accepted only if a trusted key
 * signed it, so an edited file cannot lower the bar. Throws RangeError naming the problem.
 */
export function trustedCheckpointFromText(text: string, trustedKeys: readonly TrustedKey[]): TrustedCheckpoint {
  const first = text.split('\n').find((l) => l.trim().length > 0);
  if (first === undefined) throw new RangeError('the trusted checkpoint file is empty');
  let cp: auditV1.Checkpoint | undefined;
  try {
    const { kind, json } = parseExportRecord(first.trim());
    if (kind === 'checkpoint') cp = auditV1.Checkpoint.fromJSON(json);
    else if (kind === 'header') cp = auditV1.ExportHeader.fromJSON(json).checkpoint;
  } catch (err) {
    throw new RangeError(`the trusted checkpoint file's first line is not a checkpoint: ${(err as Error).message}`);
  }
  if (cp === undefined) throw new RangeError('the trusted checkpoint file holds no checkpoint (expected a {"checkpoint":...} line or an export)');
  const problem = new TrustedKeySet(trustedKeys).check(cp);
  if (problem !== undefined) throw new RangeError(`the trusted ${problem.detail}`);
  return { treeSize: cp.treeSize, rootHash: cp.rootHash };
}
