import { Buffer } from 'node:buffer';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExportVerifier } from './verify-export.js';

/** A block of whole lines sent to a worker (its ArrayBuffer is transferred). */
export interface BlockRequest {
  id: number;
  block: ArrayBuffer;
  length: number;
}

/** A worker's answer: per line, bounds [s, e) in the block, and sequence + leaf hash if ok. */
export interface CheckedBlock {
  id: number;
  block: ArrayBuffer;
  length: number;
  lines: number;
  bounds: ArrayBuffer;
  ok: ArrayBuffer;
  seq: ArrayBuffer;
  hashes: ArrayBuffer;
}

/** Blocks are cut at a newline once at least this many bytes are gathered (by default). */
const MIN_BLOCK = 256 * 1024;

/**
 * The worker's module next to this one (.ts when run from source under tsx, .js when compiled),
 * or undefined when it is not there (e.g. inside a single-file bundle): then the caller verifies
 * on its own thread.
 */
function workerUrl(): URL | undefined {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const url = new URL(`./entry-worker${ext}`, import.meta.url);
  return fs.existsSync(fileURLToPath(url)) ? url : undefined;
}

/** Resolved once: each resolve through the loader hooks costs a round trip to their thread. */
let tsxApi: string | undefined;

function startWorker(url: URL): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url);
  // From source: a worker does not inherit the --import tsx hooks on Node 20, so register them.
  tsxApi ??= import.meta.resolve('tsx/esm/api');
  const tsx = tsxApi;
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(url.href)}))`, { eval: true });
}

/**
 * One worker and the answers it owes, in the order it was asked (it answers in that order). It
 * keeps the process alive only while it owes answers, so an idle pool never holds up exit.
 */
class CheckWorker {
  private readonly waiting: { resolve: (b: CheckedBlock) => void; reject: (e: Error) => void }[] = [];
  failed: Error | undefined;
  constructor(readonly worker: Worker) {
    worker.unref();
    worker.on('message', (b: CheckedBlock) => {
      this.waiting.shift()?.resolve(b);
      if (this.waiting.length === 0) worker.unref();
    });
    const fail = (err: Error): void => {
      this.failed ??= err;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`an entry-check worker exited (code ${code})`)));
  }
  check(block: Buffer): Promise<CheckedBlock> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    const ab = block.buffer as ArrayBuffer;
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.ref();
      const req: BlockRequest = { id: 0, block: ab, length: block.length };
      this.worker.postMessage(req, [ab]);
    });
  }
}

/** Workers started so far, shared by all verifications of this process (starting one costs far more than a block). */
const pool: CheckWorker[] = [];

/** Verifications using the pool right now, and the timer that stops it once it stays idle. */
let active = 0;
let idleTimer: NodeJS.Timeout | undefined;
const IDLE_MS = 100;

/**
 * Stops the pool shortly after the last verification ends, unless another one starts: back-to-back
 * verifications (tests, batch checks) share the workers, and no idle worker outlives them (an
 * idle worker started through the tsx hooks can keep the process from exiting on Node 20).
 */
function release(): void {
  active--;
  if (active > 0) return;
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    for (const w of pool.splice(0)) void w.worker.terminate();
  }, IDLE_MS);
}

/** `count` live workers from the pool, starting any that are missing. */
function workersFor(url: URL, count: number): CheckWorker[] {
  active++;
  if (idleTimer !== undefined) clearTimeout(idleTimer);
  idleTimer = undefined;
  for (let i = pool.length - 1; i >= 0; i--) if ((pool[i] as CheckWorker).failed !== undefined) pool.splice(i, 1);
  while (pool.length < count) pool.push(new CheckWorker(startWorker(url)));
  return pool.slice(0, count);
}

/** A fresh, transferable copy of the parts (their total length is `length`). */
function ownBlock(parts: readonly Uint8Array[], length: number): Buffer {
  const out = Buffer.from(new ArrayBuffer(length));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Feeds `chunks` to `v` with the entry checks of whole blocks of lines running on `count`
 * worker threads. The verifier still takes every line in stream order: a line a worker accepted
 * enters through `pushChecked` (exactly what `pushBytes` would have concluded), any other line
 * through `pushBytes` on the main thread. Returns false if the worker module is not available
 * (nothing was read then), true when the stream is consumed or the verdict settled.
 */
export async function feedWithWorkers(
  v: ExportVerifier,
  chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  count: number,
  minBlock = MIN_BLOCK,
): Promise<boolean> {
  const url = workerUrl();
  if (url === undefined) return false;
  const workers = workersFor(url, count);
  try {
    await feed(v, chunks, workers, minBlock);
  } finally {
    release();
  }
  return true;
}

async function feed(v: ExportVerifier, chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>, workers: CheckWorker[], minBlock: number): Promise<void> {
  const count = workers.length;
  const pending: Promise<CheckedBlock>[] = [];
  const depth = 2 * count;
  let turn = 0;
  let parts: Uint8Array[] = [];
  let gathered = 0;

  const apply = (r: CheckedBlock): void => {
    const block = Buffer.from(r.block, 0, r.length);
    const bounds = new Int32Array(r.bounds);
    const ok = new Uint8Array(r.ok);
    const seq = new Float64Array(r.seq);
    for (let i = 0; i < r.lines; i++) {
      const s = bounds[2 * i] as number;
      const e = bounds[2 * i + 1] as number;
      if (ok[i] === 1) v.pushChecked(seq[i] as number, new Uint8Array(r.hashes, 32 * i, 32), block, s, e);
      else v.pushBytes(block, s, e);
      if (v.done) return;
    }
  };
  const drain = async (keep: number): Promise<void> => {
    while (pending.length > keep && !v.done) apply(await (pending.shift() as Promise<CheckedBlock>));
  };
  const submit = async (block: Buffer): Promise<void> => {
    const answer = (workers[turn++ % count] as CheckWorker).check(block);
    answer.catch(() => undefined); // awaited in drain; never unhandled if the verdict came first
    pending.push(answer);
    await drain(depth);
  };

  const take = async (chunk: Uint8Array | string): Promise<boolean> => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const nl = buf.lastIndexOf(0x0a);
    if (nl < 0 || gathered + nl + 1 < minBlock) {
      // Copied: the source may reuse its buffer for the next chunk.
      parts.push(Buffer.from(buf));
      gathered += buf.length;
      return true;
    }
    parts.push(buf.subarray(0, nl + 1));
    const block = ownBlock(parts, gathered + nl + 1);
    parts = nl + 1 < buf.length ? [Buffer.from(buf.subarray(nl + 1))] : [];
    gathered = buf.length - nl - 1;
    await submit(block);
    return !v.done;
  };
  if (Symbol.iterator in chunks) {
    for (const chunk of chunks) if (!(await take(chunk))) break;
  } else {
    for await (const chunk of chunks) if (!(await take(chunk))) break;
  }
  if (!v.done && gathered > 0) await submit(ownBlock(parts, gathered));
  await drain(0);
}
