// Worker thread of `verifyExportChunks(.., { workers })`: runs the entry fast path on blocks of
// whole lines and sends back, per line, its bounds and (when the fast path accepted it) its
// sequence and leaf hash. It decides nothing: every verdict is taken in stream order by the
// main thread's ExportVerifier, which re-checks any line not accepted here.
import { Buffer } from 'node:buffer';
import { parentPort } from 'node:worker_threads';
import { EntryChecker } from './entry-check.js';
import type { CheckedBlock, BlockRequest } from './parallel-verify.js';

const checker = new EntryChecker();
const port = parentPort;
if (port === null) throw new Error('entry-worker.ts runs as a worker thread only');

port.on('message', (req: BlockRequest) => {
  const block = Buffer.from(req.block, 0, req.length);
  let cap = Math.max(16, req.length >> 8);
  let bounds = new Int32Array(2 * cap);
  let n = 0;
  const add = (s: number, e: number): void => {
    if (n === cap) {
      cap *= 2;
      const bigger = new Int32Array(2 * cap);
      bigger.set(bounds);
      bounds = bigger;
    }
    bounds[2 * n] = s;
    bounds[2 * n + 1] = e;
    n++;
  };
  let start = 0;
  let nl = block.indexOf(0x0a);
  while (nl >= 0) {
    add(start, nl);
    start = nl + 1;
    nl = block.indexOf(0x0a, start);
  }
  if (start < block.length) add(start, block.length);

  const ok = new Uint8Array(n);
  const seq = new Float64Array(n);
  const hashes = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) {
    const s = bounds[2 * i] as number;
    const e = bounds[2 * i + 1] as number;
    // Exactly the line pushBytes hands to the checker: a trailing CR dropped, an entry record.
    const stop = e > s && block[e - 1] === 0x0d ? e - 1 : e;
    if (block[s] !== 0x7b || block[s + 2] !== 0x65 || !checker.checkBytesFast(block, s, stop)) continue;
    ok[i] = 1;
    seq[i] = checker.leafSequence as number;
    hashes.set(checker.leafHash, 32 * i);
  }
  const out: CheckedBlock = { id: req.id, block: req.block, length: req.length, lines: n, bounds: bounds.buffer as ArrayBuffer, ok: ok.buffer, seq: seq.buffer, hashes: hashes.buffer };
  port.postMessage(out, [req.block, out.bounds, out.ok, out.seq, out.hashes]);
});
