import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auditV1, AuditServiceService } from '@gatehouse/contracts';
import { SyntheticLog } from '@gatehouse/audit-verify';
import { run } from './cli.js';
import { useFakeService } from './test-support/fake-service.js';

const SESSION_TOKEN = 'eyJhbGciOiJFZERTQSJ9.c2Vzc2lvbi1jYW5hcnk.c2lnbmF0dXJlLWNhbmFyeQ';

/** Issue 13 item 8 through the CLI: a log cut back to an older signed checkpoint fails against the pinned state. */
describe('gatehouse audit verify --trusted-size / --trusted-checkpoint, audit checkpoint', () => {
  const log = SyntheticLog.build(162, 31);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-verify-'));
  const key = log.key.publicKey.toString('base64');
  const gatehouse = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(argv, {}, (l) => out.push(l), (l) => err.push(l));
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const bench = useFakeService({
    service: 'audit',
    definition: AuditServiceService,
    sessionToken: SESSION_TOKEN,
    canaries: [SESSION_TOKEN],
    defaults: () => ({ GetCheckpoint: () => auditV1.GetCheckpointResponse.fromPartial({ checkpoint: log.checkpoints.get(155) }) }),
  });

  test('a log cut back to its checkpoint of 124 of 162 entries: OK alone, BAD against --trusted-size 162 or a checkpoint saved with `audit checkpoint`', async () => {
    const cut = path.join(dir, 'cut.ndjson');
    fs.writeFileSync(cut, `${(await log.exportLines({ to: 124 })).join('\n')}\n`);
    const full = path.join(dir, 'full.ndjson');
    fs.writeFileSync(full, `${(await log.exportLines()).join('\n')}\n`);
    assert.match((await gatehouse(['audit', 'verify', cut, '--public-key', key])).out, /^OK: 124 entries/);
    const bySize = await gatehouse(['audit', 'verify', cut, '--public-key', key, '--trusted-size', '162']);
    assert.equal(bySize.code, 1, bySize.out + bySize.err);
    assert.match(bySize.out, /^BAD: truncated at sequence 124: .*fewer than the trusted size 162/);
    const saved = path.join(dir, 'pinned.checkpoint');
    const r = await bench.gatehouse(['audit', 'checkpoint', '--out', saved]);
    assert.equal(r.code, 0, r.all());
    assert.match(r.all(), /saved the checkpoint of tree size 155/);
    const byCheckpoint = await gatehouse(['audit', 'verify', cut, '--public-key', key, '--trusted-checkpoint', saved]);
    assert.equal(byCheckpoint.code, 1, byCheckpoint.out + byCheckpoint.err);
    assert.match(byCheckpoint.out, /^BAD: truncated .*fewer than the trusted checkpoint's 155/);
    const ok = await gatehouse(['audit', 'verify', full, '--public-key', key, '--trusted-checkpoint', saved, '--trusted-size', '162']);
    assert.equal(ok.code, 0, ok.out + ok.err);
    assert.match(ok.out, /^OK: 162 entries/);
  });
});
