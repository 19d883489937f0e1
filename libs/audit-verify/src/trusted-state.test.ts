import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditV1 } from '@gatehouse/contracts';
import { exportLine, trustedCheckpointFromText, verifyExport, type VerifyOptions } from './index.js';
import { newTestKey, SyntheticLog } from './test-support/synthetic-log.js';

// Issue 13 item 8: a log of 162 entries with a signed checkpoint at 155 (every 31 entries).
const log = SyntheticLog.build(162, 31);
const opts: VerifyOptions = log.trust();
const saved = (size: number) => exportLine(auditV1.ExportResponse.fromPartial({ checkpoint: log.checkpoints.get(size) }));

test('a log cut back to an older signed checkpoint fails against the trusted size, naming the loss', async () => {
  const cut = await log.exportLines({ to: 155 });
  assert.equal((await verifyExport(cut, opts)).ok, true, 'alone, the cut log verifies: that is the hole');
  const r = await verifyExport(cut, { ...opts, trustedSize: 162 });
  assert.equal(r.ok, false);
  assert.equal(r.damage, 'truncated');
  assert.equal(r.firstBadSequence, 155);
  assert.match(r.detail, /covers 155 entries, fewer than the trusted size 162: the log was cut back .* \[155, 162\)/);
  assert.equal((await verifyExport(await log.exportLines(), { ...opts, trustedSize: 162 })).ok, true);
});

test('a saved checkpoint file is trusted only with a trusted signature, and a shorter log or another root fails', async () => {
  const at155 = trustedCheckpointFromText(`${saved(155)}\n`, opts.trustedKeys);
  assert.equal(at155.treeSize, 155);
  const full = trustedCheckpointFromText(`${(await log.exportLines())[0]}\n`, opts.trustedKeys);
  assert.equal(full.treeSize, 162, 'an earlier export serves as the trusted state (its header)');
  const short = await verifyExport(await log.exportLines({ to: 155 }), { ...opts, trustedCheckpoint: full });
  assert.equal(short.damage, 'truncated');
  assert.match(short.detail, /fewer than the trusted checkpoint's 162/);
  const rewritten = SyntheticLog.build(170, 31, log.key);
  const diverged = await verifyExport(await rewritten.exportLines(), { ...opts, trustedCheckpoint: { treeSize: 155, rootHash: Buffer.alloc(32, 7) } });
  assert.equal(diverged.ok, false);
  assert.equal(diverged.damage, 'edited');
  assert.match(diverged.detail, /differs from the trusted checkpoint's/);
  const stranger = newTestKey();
  assert.throws(() => trustedCheckpointFromText(saved(155), [{ keyId: stranger.keyId, publicKey: stranger.publicKey }]), /not among the trusted keys/);
  assert.throws(() => trustedCheckpointFromText('\n', opts.trustedKeys), /empty/);
});
