// `nx run audit:bench` (part 2): offline verification of a 1,000,000-entry export (what
// `gatehouse audit verify` does, streaming the NDJSON file) against raw SHA-256 of the same leaf
// inputs, in the same run. Entries are built with the service's own LeafData codec.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportLine, verifyExportChunks } from '@gatehouse/audit-verify';
import { CompactRange, keyIdOf, leafHash, rawPublicKey, signCheckpoint } from '@gatehouse/merkle';
import { benchLine } from '@gatehouse/testing';
import { entryToProto, eventFromProto, protoLeafCodec } from '../src/rpc/convert.js';
import { event } from '../src/test-support/harness.js';

const ENTRIES = Number(process.env['BENCH_VERIFY_ENTRIES'] ?? 1_000_000);
const CHECKPOINT_EVERY = 10_000;

export async function verifyBench(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-verify-bench-'));
  const file = path.join(dir, 'export.ndjson');
  const { privateKey } = generateKeyPairSync('ed25519');
  const pub = rawPublicKey(privateKey);
  const keyId = keyIdOf(pub);
  const origin = 'gatehouse/audit-bench';
  const sign = (treeSize: number, rootHash: Uint8Array) => {
    const fields = { origin, treeSize, rootHash, signedAt: new Date() };
    return { ...fields, rootHash: Buffer.from(rootHash), keyId, signature: Buffer.from(signCheckpoint(fields, privateKey)) };
  };
  // Build: the leaves (kept for the baseline), the tree, and the body lines.
  const templates = Array.from({ length: 64 }, () => eventFromProto(event({ details: { reason: 'bench' } })));
  const leaves: Buffer[] = new Array(ENTRIES);
  const tree = CompactRange.empty();
  const body = fs.createWriteStream(path.join(dir, 'body.ndjson'));
  const at = new Date();
  for (let i = 0; i < ENTRIES; i++) {
    const ev = { ...templates[i % templates.length]!, eventId: `bench-${i.toString().padStart(8, '0')}` };
    const leafInput = Buffer.from(protoLeafCodec.encode({ sequence: i, appendedAt: at, submittedBy: 'service:identity', event: ev }));
    const hash = leafHash(leafInput);
    leaves[i] = leafInput;
    tree.append(hash);
    let text = `${exportLine({ entry: entryToProto({ sequence: i, event: ev, appendedAt: at, submittedBy: 'service:identity', leafInput, leafHash: hash }) })}\n`;
    if (tree.size % CHECKPOINT_EVERY === 0 && tree.size < ENTRIES) text += `${exportLine({ checkpoint: sign(tree.size, tree.root()) })}\n`;
    if (!body.write(text)) await once(body, 'drain');
  }
  body.end();
  await once(body, 'close');
  const out = fs.createWriteStream(file);
  out.write(`${exportLine({ header: { formatVersion: 1, origin, fromSequence: 0, checkpoint: sign(ENTRIES, tree.root()), signingKeys: [], prefixSubtreeHashes: [], trustedTreeSize: 0, consistencyProof: [], exportedAt: new Date() } })}\n`);
  for await (const chunk of fs.createReadStream(path.join(dir, 'body.ndjson'))) if (!out.write(chunk)) await once(out, 'drain');
  out.write(`${exportLine({ trailer: { entryCount: ENTRIES, checkpointCount: Math.floor((ENTRIES - 1) / CHECKPOINT_EVERY) } })}\n`);
  out.end();
  await once(out, 'close');

  // Baseline: raw SHA-256 of the same leaf inputs.
  let t0 = performance.now();
  for (const l of leaves) createHash('sha256').update(l).digest();
  const baseline = ENTRIES / ((performance.now() - t0) / 1000);

  t0 = performance.now();
  const report = await verifyExportChunks(fs.createReadStream(file), { trustedKeys: [{ keyId, publicKey: pub }] });
  const value = ENTRIES / ((performance.now() - t0) / 1000);
  fs.rmSync(dir, { recursive: true, force: true });
  if (!report.ok) throw new Error(`the benchmark export did not verify: ${report.detail}`);
  return benchLine({ name: `audit-verify-${ENTRIES}`, value, unit: 'entries/s', baseline, baselineUnit: 'raw sha256 leaves/s' });
}
