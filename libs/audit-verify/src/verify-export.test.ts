import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { auditV1 } from '@gatehouse/contracts';
import { leafHash } from '@gatehouse/merkle';
import { exportLine, parseExportLine, verifyExport, verifyExportChunks, ExportVerifier, type VerifyOptions, type VerifyReport } from './index.js';
import { newTestKey, SyntheticLog, syntheticEntry, syntheticEvent } from './test-support/synthetic-log.js';

// 200 entries, a signed checkpoint every 50: checkpoints at 50, 100, 150, 200.
const log = SyntheticLog.build(200, 50);
const lines = await log.exportLines();
const opts: VerifyOptions = log.trust();

/** Index of the line holding entry `seq`. */
function lineOf(all: string[], seq: number): number {
  const i = all.findIndex((l) => l.startsWith('{"entry"') && (parseExportLine(l).entry?.sequence ?? -1) === seq);
  assert.ok(i > 0, `entry ${seq} not found`);
  return i;
}

function withLine(all: string[], seq: number, replace: (line: string) => string | string[]): string[] {
  const i = lineOf(all, seq);
  const out = [...all];
  const r = replace(all[i] as string);
  out.splice(i, 1, ...(Array.isArray(r) ? r : [r]));
  return out;
}

function expectDamage(r: VerifyReport, damage: VerifyReport['damage'], firstBad: number | undefined, detail?: RegExp): void {
  assert.equal(r.ok, false, `expected ${damage}, got ok: ${r.detail}`);
  assert.equal(r.damage, damage, r.detail);
  assert.equal(r.firstBadSequence, firstBad, r.detail);
  if (detail) assert.match(r.detail, detail);
}

test('a valid export verifies, through the fast path only', async () => {
  const v = new ExportVerifier(opts);
  for (const l of lines) v.push(l);
  const r = v.finish();
  assert.equal(r.ok, true, r.detail);
  assert.equal(r.entries, 200);
  assert.equal(r.treeSize, 200);
  assert.equal(r.checkpointsVerified, 5, 'four intermediate checkpoints and the final one');
  assert.equal(r.damage, undefined);
  assert.equal(r.firstBadSequence, undefined);
  assert.equal(v.slowPathLines, 0, 'canonical lines never need JSON.parse');
});

test('edited event JSON of entry 73 is named', async () => {
  const edited = withLine(lines, 73, (l) => {
    const j = JSON.parse(l);
    j.entry.event.actor.id = 'acc_someone_else';
    return JSON.stringify(j);
  });
  expectDamage(await verifyExport(edited, opts), 'edited', 73, /event\.actor\.id/);
});

test('edited leaf_input of 73 (leaf_hash recomputed, JSON left alone) is named', async () => {
  const forged = syntheticEntry(73, { ...syntheticEvent(73), sourceIp: '198.51.100.66' });
  const edited = withLine(lines, 73, (l) => {
    const j = JSON.parse(l);
    j.entry.leafInput = forged.leafInput.toString('base64');
    j.entry.leafHash = forged.leafHash.toString('base64');
    return JSON.stringify(j);
  });
  expectDamage(await verifyExport(edited, opts), 'edited', 73, /event\.source_ip/);
});

test('a consistent forgery of 73 (leaf_input, leaf_hash and JSON) is caught by the root at 100: damage in [50, 100)', async () => {
  const forged = syntheticEntry(73, { ...syntheticEvent(73), outcome: 3 });
  const edited = withLine(lines, 73, () => exportLine({ entry: forged }));
  const r = await verifyExport(edited, opts);
  expectDamage(r, 'edited', 50, /\[50, 100\)/);
  assert.equal(r.entries, 100, 'every entry up to the checkpoint was self-consistent');
});

test('edited leaf_hash alone is named', async () => {
  const edited = withLine(lines, 73, (l) => {
    const j = JSON.parse(l);
    j.entry.leafHash = Buffer.alloc(32, 1).toString('base64');
    return JSON.stringify(j);
  });
  expectDamage(await verifyExport(edited, opts), 'edited', 73, /leaf_hash/);
});

test('an edited JSON sequence number is an edit, not a gap', async () => {
  const edited = withLine(lines, 73, (l) => l.replace('"sequence":73,', '"sequence":74,'));
  expectDamage(await verifyExport(edited, opts), 'edited', 73, /sequence/);
});

test('deleted entry 73 is named', async () => {
  const deleted = withLine(lines, 73, () => []);
  expectDamage(await verifyExport(deleted, opts), 'deleted', 73, /entry 74 follows entry 72/);
});

test('several deleted entries name the first', async () => {
  let cut = lines;
  for (const s of [73, 74, 75]) cut = withLine(cut, s, () => []);
  expectDamage(await verifyExport(cut, opts), 'deleted', 73, /\[73, 76\)/);
});

test('swapped 73 and 74 are reordered at 73', async () => {
  const i = lineOf(lines, 73);
  const swapped = [...lines];
  [swapped[i], swapped[i + 1]] = [lines[i + 1] as string, lines[i] as string];
  expectDamage(await verifyExport(swapped, opts), 'reordered', 73, /appears later/);
});

test('an entry moved far away is reordered, not deleted', async () => {
  const moved = withLine(lines, 20, () => []);
  moved.splice(lineOf(moved, 180), 0, lines[lineOf(lines, 20)] as string);
  expectDamage(await verifyExport(moved, opts), 'reordered', 20);
});

test('a copy of 73 inserted after 73 is inserted, at position 74', async () => {
  const inserted = withLine(lines, 73, (l) => [l, l]);
  expectDamage(await verifyExport(inserted, opts), 'inserted', 74, /claiming sequence 73 appears where entry 74 was expected/);
});

test('an extra entry beyond the checkpoint tree size is inserted', async () => {
  const extra = [...lines];
  extra.splice(extra.length - 1, 0, exportLine({ entry: syntheticEntry(200) }));
  expectDamage(await verifyExport(extra, opts), 'inserted', 200, /size 200/);
  const after = [...lines, exportLine({ entry: syntheticEntry(200) })];
  expectDamage(await verifyExport(after, opts), 'inserted', 200, /follows the trailer/);
});

test('truncated after entry 149 names 150', async () => {
  const cut = lines.slice(0, lineOf(lines, 149) + 1);
  expectDamage(await verifyExport(cut, opts), 'truncated', 150, /\[150, 200\) are missing/);
});

test('a file cut in the middle of a line is truncated, not malformed', async () => {
  const i = lineOf(lines, 150);
  const cut = [...lines.slice(0, i), (lines[i] as string).slice(0, 100)];
  expectDamage(await verifyExport(cut, opts), 'truncated', 150, /cut off/);
  // The same broken line followed by more lines is malformed.
  const broken = [...lines.slice(0, i), (lines[i] as string).slice(0, 100), ...lines.slice(i + 1)];
  expectDamage(await verifyExport(broken, opts), 'malformed', 150);
});

test('missing entries before a present trailer are truncated', async () => {
  const cut = [...lines.slice(0, lineOf(lines, 149) + 1), lines[lines.length - 1] as string];
  expectDamage(await verifyExport(cut, opts), 'truncated', 150);
});

test('a missing trailer alone is truncated at the tree size', async () => {
  expectDamage(await verifyExport(lines.slice(0, -1), opts), 'truncated', 200, /trailer is missing/);
});

test('a bad header checkpoint signature is bad-signature', async () => {
  const msgs = await log.export();
  const cp = msgs[0]?.header?.checkpoint as auditV1.Checkpoint;
  cp.signature = Buffer.from(cp.signature);
  cp.signature[0] = (cp.signature[0] as number) ^ 1;
  expectDamage(await verifyExport(msgs.map(exportLine), opts), 'bad-signature', undefined, /tree size 200/);
});

test('an intermediate checkpoint whose root was changed is bad-signature', async () => {
  const i = lines.findIndex((l) => l.startsWith('{"checkpoint"') && parseExportLine(l).checkpoint?.treeSize === 100);
  const msg = parseExportLine(lines[i] as string);
  (msg.checkpoint as auditV1.Checkpoint).rootHash = Buffer.alloc(32, 9);
  const bad = [...lines];
  bad[i] = exportLine(msg);
  expectDamage(await verifyExport(bad, opts), 'bad-signature', undefined, /tree size 100/);
});

test('a checkpoint by an unknown key is untrusted-key', async () => {
  const other = newTestKey();
  const r = await verifyExport(lines, { trustedKeys: [{ keyId: other.keyId, publicKey: other.publicKey }] });
  expectDamage(r, 'untrusted-key', undefined, new RegExp(log.key.keyId));
});

test('a checkpoint re-signed by an untrusted key under the trusted key id is bad-signature', async () => {
  const impostor = newTestKey();
  const msgs = await log.export();
  const header = msgs[0]?.header as auditV1.ExportHeader;
  header.checkpoint = { ...log.sign(200, await log.rootAt(200), impostor), keyId: log.key.keyId };
  expectDamage(await verifyExport(msgs.map(exportLine), opts), 'bad-signature', undefined);
});

test('a partial export from 100 verifies from its prefix hashes', async () => {
  const r = await verifyExport(await log.exportLines({ from: 100 }), opts);
  assert.equal(r.ok, true, r.detail);
  assert.equal(r.entries, 100);
  assert.equal(r.checkpointsVerified, 3);
});

test('partial exports from every kind of prefix and to earlier sizes verify', async () => {
  for (const [from, to] of [
    [1, 200],
    [37, 150],
    [64, 64],
    [0, 0],
    [199, 200],
    [5, 77],
  ] as const) {
    const r = await verifyExport(await log.exportLines({ from, to }), opts);
    assert.equal(r.ok, true, `[${from}, ${to}): ${r.detail}`);
    assert.equal(r.entries, to - from);
  }
});

test('a partial export with a wrong prefix hash fails at the first checkpoint', async () => {
  const msgs = await log.export({ from: 100 });
  const header = msgs[0]?.header as auditV1.ExportHeader;
  header.prefixSubtreeHashes = header.prefixSubtreeHashes.map(() => Buffer.alloc(32, 7));
  expectDamage(await verifyExport(msgs.map(exportLine), opts), 'edited', 100, /prefix_subtree_hashes/);
});

test('a trusted earlier checkpoint proven by the header consistency proof verifies; a wrong one fails', async () => {
  const root60 = await log.rootAt(60);
  const partial = await log.exportLines({ from: 100, trusted: 60 });
  const good = await verifyExport(partial, { ...opts, trustedCheckpoint: { treeSize: 60, rootHash: root60 } });
  assert.equal(good.ok, true, good.detail);
  assert.match(good.detail, /consistent with the trusted tree of size 60/);

  const wrong = await verifyExport(partial, { ...opts, trustedCheckpoint: { treeSize: 60, rootHash: Buffer.alloc(32, 3) } });
  expectDamage(wrong, 'edited', undefined, /consistency proof/);

  const noProof = await verifyExport(await log.exportLines({ from: 100 }), { ...opts, trustedCheckpoint: { treeSize: 60, rootHash: root60 } });
  expectDamage(noProof, 'malformed', undefined, /trusted_tree_size 60/);
});

test('a trusted checkpoint inside the exported range is checked against the running root', async () => {
  const root60 = await log.rootAt(60);
  const good = await verifyExport(lines, { ...opts, trustedCheckpoint: { treeSize: 60, rootHash: root60 } });
  assert.equal(good.ok, true, good.detail);
  const withProof = await verifyExport(await log.exportLines({ trusted: 60 }), { ...opts, trustedCheckpoint: { treeSize: 60, rootHash: root60 } });
  assert.equal(withProof.ok, true, withProof.detail);
  const bad = await verifyExport(lines, { ...opts, trustedCheckpoint: { treeSize: 60, rootHash: Buffer.alloc(32, 3) } });
  expectDamage(bad, 'edited', 0, /history before 60 was rewritten/);
  const atEnd = await verifyExport(lines, { ...opts, trustedCheckpoint: { treeSize: 200, rootHash: await log.rootAt(200) } });
  assert.equal(atEnd.ok, true, atEnd.detail);
});

test('a rewritten and re-signed history is caught by the trusted checkpoint', async () => {
  // The operator trusted the root of 80 entries; the log was later rewritten at 10 and re-signed.
  const trusted = { treeSize: 80, rootHash: await log.rootAt(80) };
  const rewritten = new SyntheticLog(log.key, 50);
  for (let i = 0; i < 200; i++) rewritten.append(i === 10 ? syntheticEntry(10, { ...syntheticEvent(10), outcome: 2 }) : syntheticEntry(i));
  const full = await verifyExport(await rewritten.exportLines(), { ...opts, trustedCheckpoint: trusted });
  expectDamage(full, 'edited', 0, /history before 80 was rewritten/);
  const partial = await verifyExport(await rewritten.exportLines({ from: 100, trusted: 80 }), { ...opts, trustedCheckpoint: trusted });
  expectDamage(partial, 'edited', undefined, /does not show that the export's tree \(size 200\) extends the trusted tree \(size 80\)/);
});

test('an export that ends before the trusted checkpoint is truncated', async () => {
  const r = await verifyExport(await log.exportLines({ to: 150 }), { ...opts, trustedCheckpoint: { treeSize: 180, rootHash: await log.rootAt(180) } });
  expectDamage(r, 'truncated', 150, /lost entries \[150, 180\)/);
});

test('malformed exports: empty, no header first, garbage, wrong version', async () => {
  expectDamage(await verifyExport([], opts), 'truncated', undefined, /empty/);
  expectDamage(await verifyExport(lines.slice(1), opts), 'malformed', undefined, /must start with its header/);
  expectDamage(await verifyExport([lines[0] as string, 'not json', ...lines.slice(1)], opts), 'malformed', 0, /not valid JSON/);
  expectDamage(await verifyExport([lines[0] as string, '{"entry":{},"trailer":{}}', ...lines.slice(1)], opts), 'malformed', 0, /not an entry record/);
  expectDamage(await verifyExport([lines[0] as string, '{"trailer":{},"entry":{}}', ...lines.slice(1)], opts), 'malformed', 0, /exactly one/);
  const msgs = await log.export();
  (msgs[0]?.header as auditV1.ExportHeader).formatVersion = 2;
  expectDamage(await verifyExport(msgs.map(exportLine), opts), 'malformed', undefined, /format_version 2/);
});

test('a removed intermediate checkpoint shows in the trailer counts; a moved one is reordered', async () => {
  const i = lines.findIndex((l) => l.startsWith('{"checkpoint"'));
  const removed = [...lines.slice(0, i), ...lines.slice(i + 1)];
  expectDamage(await verifyExport(removed, opts), 'malformed', undefined, /3 checkpoints/);
  const moved = [...removed];
  moved.splice(lineOf(moved, 60), 0, lines[i] as string);
  expectDamage(await verifyExport(moved, opts), 'reordered', 50, /belongs right after entry 49/);
});

test('blank lines and CRLF line ends are tolerated', async () => {
  const r = await verifyExport(['', ...lines.map((l) => `${l}\r`), '  '], opts);
  assert.equal(r.ok, true, r.detail);
});

test('verifyExportChunks splits lines across arbitrary chunk boundaries, even inside UTF-8 characters', async () => {
  const file = Buffer.from(lines.join('\n') + '\n', 'utf8');
  assert.ok(file.includes(Buffer.from('Zoë')), 'the export holds multi-byte characters');
  const chunks: Buffer[] = [];
  for (let at = 0, size = 1; at < file.length; at += size, size = (size * 7 + 3) % 4093) chunks.push(file.subarray(at, at + size));
  const r = await verifyExportChunks(chunks, opts);
  assert.equal(r.ok, true, r.detail);
  assert.equal(r.entries, 200);
  async function* slowly(): AsyncGenerator<Buffer> {
    for (const c of chunks) yield c;
  }
  assert.equal((await verifyExportChunks(slowly(), opts)).ok, true);
  const noFinalNewline = await verifyExportChunks([file.subarray(0, file.length - 1)], opts);
  assert.equal(noFinalNewline.ok, true, noFinalNewline.detail);
  const deleted = Buffer.from(withLine(lines, 73, () => []).join('\n'), 'utf8');
  expectDamage(await verifyExportChunks([deleted], opts), 'deleted', 73);
});

test('verifyExport accepts an async line source and stops reading once the verdict is settled', async () => {
  let read = 0;
  const all = withLine(lines, 10, (l) => {
    const j = JSON.parse(l);
    j.entry.submittedBy = 'service:mallory';
    return JSON.stringify(j);
  });
  async function* source(): AsyncGenerator<string> {
    for (const l of all) {
      read++;
      yield l;
    }
  }
  expectDamage(await verifyExport(source(), opts), 'edited', 10, /submitted_by/);
  assert.ok(read < 20, `read ${read} lines`);
});

test('the trusted key material is validated up front', () => {
  assert.throws(() => new ExportVerifier({ trustedKeys: [{ keyId: 'x', publicKey: Buffer.alloc(31) }] }), RangeError);
  assert.throws(() => new ExportVerifier({ ...opts, trustedCheckpoint: { treeSize: -1, rootHash: leafHash(Buffer.alloc(0)) } }), RangeError);
});
