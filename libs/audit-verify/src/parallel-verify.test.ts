// Worker threads change only where the entry checks run: for every kind of damage the report
// (damage, first bad sequence, detail, counts) is exactly the single-threaded one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { auditV1 } from '@gatehouse/contracts';
import { exportLine, parseExportLine, verifyExport, verifyExportChunks, type VerifyOptions, type VerifyReport } from './index.js';
import { newTestKey, SyntheticLog, syntheticEntry, syntheticEvent } from './test-support/synthetic-log.js';

const log = SyntheticLog.build(200, 50);
const lines = await log.exportLines();
const opts: VerifyOptions = log.trust();

const seqOf = (l: string): number => (l.startsWith('{"entry"') ? (parseExportLine(l).entry?.sequence ?? 0) : -1);
const at = (seq: number): number => lines.findIndex((l) => seqOf(l) === seq);
const edit = (seq: number, f: (j: { entry: Record<string, unknown> & { event: Record<string, unknown> } }) => void): string[] => {
  const out = [...lines];
  const j = JSON.parse(out[at(seq)] as string);
  f(j);
  out[at(seq)] = JSON.stringify(j);
  return out;
};
const without = (...seqs: number[]): string[] => lines.filter((l) => !seqs.includes(seqOf(l)));

async function damaged(): Promise<Array<[string, string[], VerifyOptions]>> {
  const swapped = [...lines];
  [swapped[at(73)], swapped[at(74)]] = [lines[at(74)] as string, lines[at(73)] as string];
  const moved = without(20);
  moved.splice(moved.findIndex((l) => seqOf(l) === 180), 0, lines[at(20)] as string);
  const forged = syntheticEntry(73, { ...syntheticEvent(73), sourceIp: '198.51.100.66' });
  const badSig = await log.export();
  const cp = badSig[0]?.header?.checkpoint as auditV1.Checkpoint;
  cp.signature = Buffer.from(cp.signature);
  cp.signature[0] = (cp.signature[0] as number) ^ 1;
  const cpAt = lines.findIndex((l) => l.startsWith('{"checkpoint"'));
  const cpRoot = parseExportLine(lines[cpAt] as string);
  (cpRoot.checkpoint as auditV1.Checkpoint).rootHash = Buffer.alloc(32, 9);
  const other = newTestKey();
  const cut = [...lines.slice(0, at(150)), (lines[at(150)] as string).slice(0, 100)];
  return [
    ['valid', lines, opts],
    ['valid, CRLF and blank lines', ['', ...lines.map((l) => `${l}\r`), '  '], opts],
    ['valid, non-canonical JSON (general path)', lines.map((l) => (seqOf(l) % 9 === 1 ? JSON.stringify(JSON.parse(l), null, 0).replace('{"entry":{', '{ "entry": {') : l)), opts],
    ['edited event JSON', edit(73, (j) => ((j.entry.event['actor'] as Record<string, unknown>)['id'] = 'acc_someone_else')), opts],
    ['edited JSON sequence', edit(73, (j) => (j.entry['sequence'] = 74)), opts],
    ['edited leaf_input', edit(73, (j) => (j.entry['leafInput'] = Buffer.from(forged.leafInput).toString('base64'))), opts],
    ['edited leaf_hash', edit(73, (j) => (j.entry['leafHash'] = Buffer.alloc(32, 1).toString('base64'))), opts],
    ['consistent forgery', lines.map((l, i) => (i === at(73) ? exportLine({ entry: forged }) : l)), opts],
    ['deleted', without(73), opts],
    ['several deleted', without(73, 74, 75), opts],
    ['swapped', swapped, opts],
    ['moved far', moved, opts],
    ['inserted copy', lines.flatMap((l, i) => (i === at(73) ? [l, l] : [l])), opts],
    ['extra beyond tree', [...lines.slice(0, -1), exportLine({ entry: syntheticEntry(200) }), lines[lines.length - 1] as string], opts],
    ['entry after trailer', [...lines, exportLine({ entry: syntheticEntry(200) })], opts],
    ['truncated', lines.slice(0, at(149) + 1), opts],
    ['cut mid-line', cut, opts],
    ['broken line, then more', [...cut, ...lines.slice(at(150) + 1)], opts],
    ['no trailer', lines.slice(0, -1), opts],
    ['bad header signature', badSig.map(exportLine), opts],
    ['checkpoint root changed', lines.map((l, i) => (i === cpAt ? exportLine(cpRoot) : l)), opts],
    ['untrusted key', lines, { trustedKeys: [{ keyId: other.keyId, publicKey: other.publicKey }] }],
    ['removed checkpoint', lines.filter((_, i) => i !== cpAt), opts],
    ['garbage line', [lines[0] as string, 'not json', ...lines.slice(1)], opts],
    ['no header first', lines.slice(1), opts],
    ['trusted root wrong', lines, { ...opts, trustedCheckpoint: { treeSize: 60, rootHash: Buffer.alloc(32, 3) } }],
    ['trusted root right', lines, { ...opts, trustedCheckpoint: { treeSize: 60, rootHash: await log.rootAt(60) } }],
  ];
}

/** The file cut into chunks of odd sizes (also inside lines and UTF-8 characters). */
function chunked(all: string[]): Buffer[] {
  const file = Buffer.from(all.join('\n') + '\n', 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0, size = 1; i < file.length; i += size, size = (size * 7 + 3) % 3001) chunks.push(file.subarray(i, i + size));
  return chunks;
}

test('with worker threads every kind of damage gets exactly the single-threaded report', async () => {
  const seen = new Set<VerifyReport['damage']>();
  for (const [name, all, o] of await damaged()) {
    const want = await verifyExport(all, o);
    seen.add(want.damage);
    for (const run of [
      { workers: 1, blockBytes: 1 },
      { workers: 2, blockBytes: 2000 },
      { workers: 3 },
    ]) {
      const got = await verifyExportChunks(chunked(all), o, run);
      assert.deepEqual(got, want, `${name} with ${JSON.stringify(run)}`);
    }
  }
  assert.deepEqual(
    [...seen].sort(),
    [undefined, 'bad-signature', 'deleted', 'edited', 'inserted', 'malformed', 'reordered', 'truncated', 'untrusted-key'].sort(),
    'the cases cover every kind of damage and the valid export',
  );
});

test('a worker-checked export reads only what the verdict needs, from an async source', async () => {
  const all = edit(10, (j) => (j.entry['submittedBy'] = 'service:mallory'));
  let read = 0;
  async function* source(): AsyncGenerator<Buffer> {
    for (const l of all) {
      read++;
      yield Buffer.from(`${l}\n`);
    }
  }
  const r = await verifyExportChunks(source(), opts, { workers: 2, blockBytes: 1 });
  assert.equal(r.damage, 'edited');
  assert.equal(r.firstBadSequence, 10);
  assert.ok(read < all.length / 2, `read ${read} of ${all.length} lines`);
  await assert.rejects(verifyExportChunks([], opts, { workers: -1 }), RangeError);
});
