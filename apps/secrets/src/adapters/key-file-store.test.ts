import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FailedPreconditionError, ManualClock } from '@gatehouse/core';
import { SealManager } from '../domain/seal/index.js';
import { GOOD_PASSPHRASE, TEST_KEY_FILE_OPTIONS } from '../domain/seal/seal-test-support.js';
import { FileKeyFileStore } from './key-file-store.js';

test('the key file is created once (0600, folder 0700), survives a restart, and holds no secret in clear', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-keyfile-'));
  const file = path.join(dir, 'keys', 'secrets-key.json');
  try {
    const a = new SealManager({ store: new FileKeyFileStore(file), clock: new ManualClock(Date.UTC(2026, 10, 27)), keyFile: TEST_KEY_FILE_OPTIONS });
    const b = new SealManager({ store: new FileKeyFileStore(file), clock: new ManualClock(Date.UTC(2026, 10, 27)), keyFile: TEST_KEY_FILE_OPTIONS });
    // Two initialisations racing on one folder: exactly one wins.
    const results = await Promise.allSettled([
      a.initialize({ mode: 'shares', threshold: 2, shares: 3 }),
      b.initialize({ mode: 'shares', threshold: 2, shares: 3 }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results.map((r) => r.status)));
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(lost.reason instanceof FailedPreconditionError && /already initialised/.test(lost.reason.message), String(lost.reason));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    const won = results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ shares: string[] }>;
    const text = fs.readFileSync(file, 'utf8');
    for (const share of won.value.shares) assert.ok(!text.includes(share.split('-')[3] ?? share), 'no share payload in the file');
    assert.ok(!text.includes(GOOD_PASSPHRASE));
    // A restarted service reads it back: sealed, and unsealable with 2 of the 3 shares.
    const restarted = new SealManager({ store: new FileKeyFileStore(file), clock: new ManualClock(Date.UTC(2026, 10, 27)), keyFile: TEST_KEY_FILE_OPTIONS });
    assert.equal((await restarted.status()).sealed, true);
    await restarted.unsealWithShare(won.value.shares[0] as string);
    const s = await restarted.unsealWithShare(won.value.shares[2] as string);
    assert.equal(s.sealed, false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
