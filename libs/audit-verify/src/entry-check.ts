import { Buffer } from 'node:buffer';
import { auditEventV1, auditV1, commonV1 } from '@gatehouse/contracts';
import { leafHash, leafHashPrefixed } from '@gatehouse/merkle';
import { isObject } from './export-line.js';

/**
 * Outcome of checking one entry line:
 * - ok: leaf_hash = SHA-256(0x00 || leaf_input) and the JSON fields equal the decoded LeafData;
 * - inconsistent: it parses, but one of those does not hold (an edit);
 * - malformed: not a JSON entry record at all.
 */
export type EntryStatus = 'ok' | 'inconsistent' | 'malformed';

const EMPTY = Buffer.alloc(0);
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

// The canonical line is `{"entry":{` members `"leafInput":"<b64>","leafHash":"<44 b64>"}}`.
const PREFIX = ascii('{"entry":{');
const LEAF_INPUT_KEY = ascii('"leafInput":"');
const LEAF_HASH_KEY = ascii('","leafHash":"');
const HASH_B64_LENGTH = 44;
/** Bytes from the closing quote of leaf_input to the end of the line. */
const TAIL_LENGTH = LEAF_HASH_KEY.length + HASH_B64_LENGTH + 3;

/** Thrown inside the fast path to fall back to the general check; never escapes. */
const BAIL = new Error('fast path bail-out');
function bail(): never {
  throw BAIL;
}

/** A member key as it appears first in an object and after a comma (UTF-8 bytes). */
type Key = readonly [first: Buffer, later: Buffer];
const key = (name: string, open = ''): Key => [ascii(`"${name}":${open}`), ascii(`,"${name}":${open}`)];

type EnumName = (v: number) => string;

/** Precomputed `"key":"NAME"` members (both separator variants) for small enum values. */
class EnumMembers {
  private readonly table: Key[] = [];
  constructor(
    private readonly name: string,
    private readonly toJSON: EnumName,
  ) {
    for (let v = 0; v < 128; v++) this.table.push(this.make(v));
  }
  private make(v: number): Key {
    return key(this.name, JSON.stringify(this.toJSON(v)));
  }
  get(v: number): Key {
    return this.table[v] ?? this.make(v);
  }
}

const SERVICE = new EnumMembers('service', auditEventV1.serviceToJSON as EnumName);
const ACTION = new EnumMembers('action', auditEventV1.actionToJSON as EnumName);
const OUTCOME = new EnumMembers('outcome', auditEventV1.outcomeToJSON as EnumName);
const ENVIRONMENT = new EnumMembers('environment', commonV1.environmentToJSON as EnumName);
const ACTOR_KIND = new EnumMembers('kind', auditEventV1.actorKindToJSON as EnumName);
const SUBJECT_KIND = new EnumMembers('kind', auditEventV1.subjectKindToJSON as EnumName);

const K_EVENT_ID = key('eventId', '"');
const K_OCCURRED_AT = key('occurredAt', '"');
const K_ACTOR = key('actor', '{');
const K_SUBJECT = key('subject', '{');
const K_CUSTOMER_DOMAIN = key('customerDomain', '"');
const K_SOURCE_IP = key('sourceIp', '"');
const K_REQUEST_ID = key('requestId', '"');
const K_DETAILS = key('details', '{');
const K_HASHED_DETAILS = key('hashedDetails', '{');
const K_ID = key('id', '"');
const K_DISPLAY_NAME = key('displayName', '"');
const L_SEQUENCE = ascii('"sequence":');
const L_EVENT = ascii('"event":{');
const L_APPENDED_AT = ascii('"appendedAt":"');
const L_SUBMITTED_BY = ascii('"submittedBy":"');

/** JSON.stringify's short escapes for control characters (0 = use \u00XX). */
const SHORT_ESCAPE = new Uint8Array(32);
SHORT_ESCAPE[0x08] = 0x62; // \b
SHORT_ESCAPE[0x09] = 0x74; // \t
SHORT_ESCAPE[0x0a] = 0x6e; // \n
SHORT_ESCAPE[0x0c] = 0x66; // \f
SHORT_ESCAPE[0x0d] = 0x72; // \r
const HEX = ascii('0123456789abcdef');

/** Milliseconds of 10000-01-01T00:00:00Z: Date.toISOString switches to six-digit years there. */
const YEAR_10000_MS = 253_402_300_800_000;

/**
 * Checks export entry lines one at a time and keeps the results of the last check in fields, so
 * the hot loop allocates next to nothing per entry.
 *
 * The fast path handles the canonical line exactly as `exportLine` writes it. It copies the line
 * into a reusable buffer as UTF-8, decodes the base64 leaf_input into another (behind a reserved
 * 0x00 leaf prefix byte), hashes it, and walks the LeafData protobuf bytes once, comparing the
 * JSON the generated `toJSON` would write for them with the line's bytes in place: no JSON.parse,
 * no decoded object, no strings. Protobuf strings are UTF-8 and so is the line, so non-ASCII text
 * compares byte for byte; JSON escapes are rendered as JSON.stringify writes them. Anything it
 * does not recognise (another key order, integer-like map keys, unusual protobuf) falls back to
 * the general path: JSON.parse, LeafData.decode, and a structural comparison. The fast path only
 * ever accepts lines the general path accepts (a fuzz test holds it to that).
 */
export class EntryChecker {
  /** Sequence the JSON claims (undefined if unreadable). */
  jsonSequence: number | undefined;
  /** Sequence leaf_input commits to (undefined if it does not decode). */
  leafSequence: number | undefined;
  /** SHA-256(0x00 || leaf_input) of the last line (valid when status is ok). */
  leafHash: Uint8Array = EMPTY;
  /** What was wrong with the last line (empty when ok). */
  problem = '';
  /** Lines that took the general path (for tests and tuning). */
  slowPathCount = 0;

  /** The protobuf bytes (LeafData at offset 1, behind the 0x00 leaf prefix). */
  private buf = Buffer.allocUnsafe(16 * 1024);
  /** The line being checked, as UTF-8 (positions are absolute in it). */
  private lb: Buffer = EMPTY;
  /** Where string lines are encoded to UTF-8. */
  private scratch = Buffer.allocUnsafe(16 * 1024);
  /** Cursor in lb. */
  private pos = 0;
  /** Cursor in buf. */
  private p = 0;
  /** The `YYYY-MM-DD` of the last day rendered: timestamps of a log cluster on few days. */
  private readonly dayBytes = Buffer.alloc(10);
  private day = -1;
  private readonly fastPath: boolean;

  /** `fastPath: false` forces the general path (the reference the fast path is tested against). */
  constructor(opts: { fastPath?: boolean } = {}) {
    this.fastPath = opts.fastPath ?? true;
  }

  /** Checks one entry line. */
  check(line: string): EntryStatus {
    if (this.fastPath) {
      if (this.scratch.length < line.length * 3) this.scratch = Buffer.allocUnsafe(line.length * 3);
      const len = this.scratch.write(line, 0, 'utf8');
      if (this.tryFast(this.scratch, 0, len)) return 'ok';
    }
    this.slowPathCount++;
    return this.slow(line);
  }

  /**
   * Checks one entry line given as UTF-8 bytes [start, end) of `bytes` (e.g. a slice of a file
   * chunk), sparing the decode to a string and the encode back that `check` needs.
   */
  checkBytes(bytes: Buffer, start: number, end: number): EntryStatus {
    if (this.fastPath && this.tryFast(bytes, start, end)) return 'ok';
    this.slowPathCount++;
    return this.slow(bytes.toString('utf8', start, end));
  }

  /**
   * The fast path alone on bytes [start, end): true (fields set as `checkBytes` sets them for an
   * ok line) if it accepts the line, false if the line needs the general path. Worker threads
   * run this; whatever it refuses goes back to the ordinary check in stream order.
   */
  checkBytesFast(bytes: Buffer, start: number, end: number): boolean {
    return this.tryFast(bytes, start, end);
  }

  /** Takes over the verdict of `checkBytesFast` run elsewhere (a worker): the line was ok. */
  acceptChecked(sequence: number, hash: Uint8Array): void {
    this.jsonSequence = sequence;
    this.leafSequence = sequence;
    this.leafHash = hash;
    this.problem = '';
  }

  // ---------------------------------------------------------------- fast path

  private tryFast(bytes: Buffer, start: number, end: number): boolean {
    this.lb = bytes;
    try {
      if (this.fast(start, end)) {
        this.problem = '';
        return true;
      }
    } catch (err) {
      if (err !== BAIL) throw err;
    } finally {
      this.lb = EMPTY;
    }
    return false;
  }

  private fast(start: number, end: number): boolean {
    const lb = this.lb;
    // `"}}` at the end, `","leafHash":"` before the hash, `"leafInput":"` before the base64.
    if (end - start < PREFIX.length + TAIL_LENGTH + LEAF_INPUT_KEY.length) return false;
    if (lb[end - 1] !== 0x7d || lb[end - 2] !== 0x7d || lb[end - 3] !== 0x22) return false;
    const b64End = end - TAIL_LENGTH;
    const b64Start = lb.lastIndexOf(0x22, b64End - 1) + 1;
    const keyAt = b64Start - LEAF_INPUT_KEY.length;
    if (keyAt < start + PREFIX.length || !this.bytesAt(PREFIX, start) || !this.bytesAt(LEAF_INPUT_KEY, keyAt) || !this.bytesAt(LEAF_HASH_KEY, b64End)) return false;

    const room = 1 + Math.ceil(((b64End - b64Start) * 3) / 4) + 4;
    if (this.buf.length < room) this.buf = Buffer.allocUnsafe(Math.max(room, this.buf.length * 2));
    const buf = this.buf;
    buf[0] = 0x00;
    const n = buf.write(lb.toString('latin1', b64Start, b64End), 1, 'base64');
    const hash = leafHashPrefixed(buf.subarray(0, n + 1));
    const b64 = hash.toString('base64');
    const hashAt = b64End + LEAF_HASH_KEY.length;
    for (let i = 0; i < HASH_B64_LENGTH; i++) if (lb[hashAt + i] !== b64.charCodeAt(i)) return false;

    this.pos = start + PREFIX.length;
    const seq = this.leafData(1, n + 1);
    if (this.pos !== keyAt) return false;
    this.leafHash = hash;
    this.jsonSequence = seq;
    this.leafSequence = seq;
    return true;
  }

  /** Whether `bytes` are at `at` in the line. */
  private bytesAt(bytes: Uint8Array, at: number): boolean {
    const lb = this.lb;
    for (let i = 0; i < bytes.length; i++) if (lb[at + i] !== bytes[i]) return false;
    return true;
  }

  /** Expects `bytes` at the cursor. */
  private lit(bytes: Uint8Array): void {
    const lb = this.lb;
    const pos = this.pos;
    for (let i = 0; i < bytes.length; i++) if (lb[pos + i] !== bytes[i]) bail();
    this.pos = pos + bytes.length;
  }

  /** Expects a member key (with the separator unless it is the object's first member). */
  private member(k: Key, first: boolean): void {
    this.lit(first ? k[0] : k[1]);
  }

  /** Expects one byte. */
  private char(c: number): void {
    if (this.lb[this.pos] !== c) bail();
    this.pos++;
  }

  /** Reads a varint of at most 53 bits at this.p (below end). */
  private varint(end: number): number {
    const buf = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.p >= end) bail();
      const b = buf[this.p++] as number;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) bail();
        return result;
      }
      mul *= 128;
    }
    return bail();
  }

  /** Reads a length prefix and returns the end of the delimited field (this.p at its start). */
  private delimited(end: number): number {
    const len = this.varint(end);
    const stop = this.p + len;
    if (stop > end) bail();
    return stop;
  }

  /** A non-negative int32 (enum values, nanos). */
  private int32(end: number): number {
    const v = this.varint(end);
    if (v > 0x7fffffff) bail();
    return v;
  }

  /** LeafData {1 sequence, 2 appended_at, 3 submitted_by, 4 event}, rendered in LogEntry JSON order. */
  private leafData(start: number, end: number): number {
    let seq = -1;
    let tsStart = -1;
    let tsEnd = -1;
    let byStart = -1;
    let byEnd = -1;
    let evStart = -1;
    let evEnd = -1;
    this.p = start;
    while (this.p < end) {
      const tag = this.buf[this.p++] as number;
      if (tag === 0x08 && seq < 0) {
        seq = this.varint(end);
      } else if (tag === 0x12 && tsStart < 0) {
        tsEnd = this.delimited(end);
        tsStart = this.p;
        this.p = tsEnd;
      } else if (tag === 0x1a && byStart < 0) {
        byEnd = this.delimited(end);
        byStart = this.p;
        this.p = byEnd;
      } else if (tag === 0x22 && evStart < 0) {
        evEnd = this.delimited(end);
        evStart = this.p;
        this.p = evEnd;
      } else {
        bail(); // unknown or repeated field: leave it to the general path
      }
    }
    if (seq < 0) seq = 0;
    if (seq !== 0) {
      this.lit(L_SEQUENCE);
      this.uint(seq);
      this.char(0x2c);
    }
    if (evStart >= 0) {
      this.lit(L_EVENT);
      this.event(evStart, evEnd);
      this.char(0x2c);
    }
    if (tsStart >= 0) {
      this.lit(L_APPENDED_AT);
      this.timestamp(tsStart, tsEnd);
      this.char(0x2c);
    }
    if (byEnd > byStart) {
      this.lit(L_SUBMITTED_BY);
      this.stringBody(byStart, byEnd);
      this.char(0x2c);
    }
    return seq;
  }

  /** A JSON integer exactly as JSON.stringify writes n. */
  private uint(n: number): void {
    const lb = this.lb;
    const first = this.pos;
    let v = 0;
    let c = lb[this.pos] as number;
    while (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      c = lb[++this.pos] as number;
    }
    const digits = this.pos - first;
    if (digits === 0 || digits > 16 || v !== n || (digits > 1 && lb[first] === 48)) bail();
  }

  /**
   * The rest of a JSON string (its opening quote already matched) holding the UTF-8 bytes
   * [s, e), as JSON.stringify writes it, and its closing quote. Bytes ≥ 0x80 compare as they
   * are: the line is valid UTF-8 (it was a JavaScript string), so equal bytes mean equal text.
   */
  private stringBody(s: number, e: number): void {
    const lb = this.lb;
    const buf = this.buf;
    let pos = this.pos;
    for (let i = s; i < e; i++) {
      const b = buf[i] as number;
      if (b === 0x22 || b === 0x5c) {
        if (lb[pos] !== 0x5c || lb[pos + 1] !== b) bail();
        pos += 2;
      } else if (b < 0x20) {
        if (lb[pos] !== 0x5c) bail();
        const short = SHORT_ESCAPE[b] as number;
        if (short !== 0) {
          if (lb[pos + 1] !== short) bail();
          pos += 2;
        } else {
          if (lb[pos + 1] !== 0x75 || lb[pos + 2] !== 0x30 || lb[pos + 3] !== 0x30 || lb[pos + 4] !== HEX[b >> 4] || lb[pos + 5] !== HEX[b & 15]) bail();
          pos += 6;
        }
      } else {
        if (lb[pos] !== b) bail();
        pos++;
      }
    }
    if (lb[pos] !== 0x22) bail();
    this.pos = pos + 1;
  }

  /** Expects the decimal digits of v, zero-padded to `width`. */
  private digits(v: number, width: number): void {
    const lb = this.lb;
    for (let i = width - 1; i >= 0; i--) {
      if (lb[this.pos + i] !== 48 + (v % 10)) bail();
      v = Math.floor(v / 10);
    }
    this.pos += width;
  }

  /**
   * The rest of a quoted google.protobuf.Timestamp (opening quote matched) as the generated
   * toJSON writes it: Date.toISOString() of the same millisecond its fromTimestamp computes.
   * Rendered arithmetically (civil-from-days): a Date and its string per field would cost more
   * than the rest of the entry.
   */
  private timestamp(s: number, e: number): void {
    let seconds = 0;
    let nanos = 0;
    let last = 0;
    this.p = s;
    while (this.p < e) {
      const tag = this.buf[this.p++] as number;
      if (tag === 0x08 && last < 1) {
        seconds = this.varint(e);
        last = 1;
      } else if (tag === 0x10 && last < 2) {
        nanos = this.int32(e);
        last = 2;
      } else {
        bail();
      }
    }
    // Exactly the generated fromTimestamp's arithmetic, then Date's truncation to an integer.
    const ms = Math.trunc(seconds * 1_000 + nanos / 1_000_000);
    if (ms >= YEAR_10000_MS) {
      const date = new Date(ms);
      if (Number.isNaN(date.getTime())) bail();
      this.lit(ascii(date.toISOString()));
      this.char(0x22);
      return;
    }
    const days = Math.floor(ms / 86_400_000);
    let rem = ms - days * 86_400_000;
    if (days === this.day) {
      this.lit(this.dayBytes);
    } else {
      const at = this.pos;
      this.date(days);
      this.lb.copy(this.dayBytes, 0, at, at + 10);
      this.day = days;
    }
    this.char(0x54);
    const hours = Math.floor(rem / 3_600_000);
    rem -= hours * 3_600_000;
    const minutes = Math.floor(rem / 60_000);
    rem -= minutes * 60_000;
    const secs = Math.floor(rem / 1000);
    this.digits(hours, 2);
    this.char(0x3a);
    this.digits(minutes, 2);
    this.char(0x3a);
    this.digits(secs, 2);
    this.char(0x2e);
    this.digits(rem - secs * 1000, 3);
    this.char(0x5a);
    this.char(0x22);
  }

  /** `YYYY-MM-DD` of a day count since 1970-01-01 (Howard Hinnant's civil_from_days). */
  private date(days: number): void {
    const z = days + 719_468;
    const era = Math.floor(z / 146_097);
    const doe = z - era * 146_097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const month = mp < 10 ? mp + 3 : mp - 9;
    const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    this.digits(year, 4);
    this.char(0x2d);
    this.digits(month, 2);
    this.char(0x2d);
    this.digits(day, 2);
  }

  /** A string member whose bytes run from this.p to e, omitted when empty as toJSON does. */
  private stringField(first: boolean, k: Key, e: number): boolean {
    const s = this.p;
    this.p = e;
    if (e === s) return first;
    this.member(k, first);
    this.stringBody(s, e);
    return false;
  }

  /** An enum member rendered by name, omitted at 0 as toJSON does. */
  private enumField(first: boolean, members: EnumMembers, v: number): boolean {
    if (v === 0) return first;
    this.member(members.get(v), first);
    return false;
  }

  /** AuditEvent fields 1..13 in field order, as AuditEvent.toJSON renders them (opening brace matched). */
  private event(s: number, e: number): void {
    let first = true;
    let last = 0;
    let openMap = 0;
    this.p = s;
    while (this.p < e) {
      const tag = this.buf[this.p++] as number;
      const field = tag >>> 3;
      if (field < last || (field === last && field !== 12 && field !== 13)) bail();
      if (openMap !== 0 && field !== openMap) {
        this.char(0x7d);
        openMap = 0;
      }
      switch (tag) {
        case 10:
          first = this.stringField(first, K_EVENT_ID, this.delimited(e));
          break;
        case 18: {
          const stop = this.delimited(e);
          this.member(K_OCCURRED_AT, first);
          first = false;
          this.timestamp(this.p, stop);
          break;
        }
        case 24:
          first = this.enumField(first, SERVICE, this.int32(e));
          break;
        case 32:
          first = this.enumField(first, ACTION, this.int32(e));
          break;
        case 40:
          first = this.enumField(first, OUTCOME, this.int32(e));
          break;
        case 50: {
          const stop = this.delimited(e);
          this.member(K_ACTOR, first);
          first = false;
          this.party(this.p, stop, ACTOR_KIND);
          break;
        }
        case 58: {
          const stop = this.delimited(e);
          this.member(K_SUBJECT, first);
          first = false;
          this.party(this.p, stop, SUBJECT_KIND);
          break;
        }
        case 66:
          first = this.stringField(first, K_CUSTOMER_DOMAIN, this.delimited(e));
          break;
        case 74:
          first = this.stringField(first, K_SOURCE_IP, this.delimited(e));
          break;
        case 80:
          first = this.enumField(first, ENVIRONMENT, this.int32(e));
          break;
        case 90:
          first = this.stringField(first, K_REQUEST_ID, this.delimited(e));
          break;
        case 98:
        case 106: {
          const stop = this.delimited(e);
          if (openMap === 0) {
            this.member(tag === 98 ? K_DETAILS : K_HASHED_DETAILS, first);
            first = false;
            openMap = field;
          } else {
            this.char(0x2c);
          }
          this.mapEntry(this.p, stop);
          break;
        }
        default:
          bail();
      }
      last = field;
    }
    if (openMap !== 0) this.char(0x7d);
    this.char(0x7d);
  }

  /** Actor or Subject {1 kind, 2 id, 3 display_name} (opening brace matched). */
  private party(s: number, e: number, kinds: EnumMembers): void {
    let first = true;
    let last = 0;
    this.p = s;
    while (this.p < e) {
      const tag = this.buf[this.p++] as number;
      const field = tag >>> 3;
      if (field <= last) bail();
      if (tag === 8) first = this.enumField(first, kinds, this.int32(e));
      else if (tag === 18) first = this.stringField(first, K_ID, this.delimited(e));
      else if (tag === 26) first = this.stringField(first, K_DISPLAY_NAME, this.delimited(e));
      else bail();
      last = field;
    }
    this.char(0x7d);
  }

  /** One map<string, string> entry {1 key, 2 value} as `"key":"value"`. */
  private mapEntry(s: number, e: number): void {
    let keyStart = s;
    let keyEnd = s;
    let valueStart = s;
    let valueEnd = s;
    let last = 0;
    this.p = s;
    while (this.p < e) {
      const tag = this.buf[this.p++] as number;
      if (tag === 10 && last < 1) {
        keyEnd = this.delimited(e);
        keyStart = this.p;
        this.p = keyEnd;
        last = 1;
      } else if (tag === 18 && last < 2) {
        valueEnd = this.delimited(e);
        valueStart = this.p;
        this.p = valueEnd;
        last = 2;
      } else {
        bail();
      }
    }
    // JavaScript objects put integer-like keys first, which would reorder the map in toJSON.
    const k0 = keyEnd > keyStart ? (this.buf[keyStart] as number) : 0;
    if (k0 >= 48 && k0 <= 57) bail();
    this.char(0x22);
    this.stringBody(keyStart, keyEnd);
    this.char(0x3a);
    this.char(0x22);
    this.stringBody(valueStart, valueEnd);
    this.p = e;
  }

  // ---------------------------------------------------------------- general path

  private slow(line: string): EntryStatus {
    this.jsonSequence = undefined;
    this.leafSequence = undefined;
    this.leafHash = EMPTY;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.problem = 'the line is not valid JSON';
      return 'malformed';
    }
    if (!isObject(parsed) || Object.keys(parsed).length !== 1 || !isObject(parsed['entry'])) {
      this.problem = 'the line is not an entry record';
      return 'malformed';
    }
    const entry = parsed['entry'];
    const seq = entry['sequence'] ?? 0;
    if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) this.jsonSequence = seq;
    const input = entry['leafInput'];
    if (typeof input !== 'string') {
      this.problem = 'leaf_input is missing';
      return 'inconsistent';
    }
    const bytes = Buffer.from(input, 'base64');
    const hash = leafHash(bytes);
    this.leafHash = hash;
    let leaf: auditV1.LeafData;
    try {
      leaf = auditV1.LeafData.decode(bytes);
    } catch {
      this.problem = 'leaf_input is not a LeafData message';
      return 'inconsistent';
    }
    this.leafSequence = leaf.sequence;
    let expected: unknown;
    try {
      expected = auditV1.LogEntry.toJSON({
        sequence: leaf.sequence,
        event: leaf.event,
        appendedAt: leaf.appendedAt,
        submittedBy: leaf.submittedBy,
        leafInput: EMPTY,
        leafHash: EMPTY,
      });
    } catch {
      this.problem = 'leaf_input holds a value JSON cannot represent (e.g. an out-of-range timestamp)';
      return 'inconsistent';
    }
    const shown: Record<string, unknown> = { ...entry };
    delete shown['leafInput'];
    delete shown['leafHash'];
    const diff = firstDifference(shown, expected, '');
    if (diff !== undefined) {
      this.problem = `${diff || 'the entry'} in the JSON differs from what leaf_input commits to`;
      return 'inconsistent';
    }
    const claimed = entry['leafHash'];
    if (typeof claimed !== 'string' || !Buffer.from(claimed, 'base64').equals(hash)) {
      this.problem = 'leaf_hash is not SHA-256(0x00 || leaf_input)';
      return 'inconsistent';
    }
    this.problem = '';
    return 'ok';
  }
}

const toSnake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The path of the first difference between two JSON values (object key order ignored), in
 * proto field names (e.g. "event.actor.id"), or undefined if they are equal.
 */
function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (a === b) return undefined;
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference(a[k], b[k], path ? `${path}.${toSnake(k)}` : toSnake(k));
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return path;
}
