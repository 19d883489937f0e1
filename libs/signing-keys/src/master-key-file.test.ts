// The master key file: generated once (0600), read back by every replica, refused when malformed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@gatehouse/service-kit';
import { tempDir } from '@gatehouse/testing';
import { loadOrCreateMasterKey } from './index.js';

const dir = await tempDir('master-key-file');
after(() => dir.cleanup());
const VAR = 'GATEHOUSE_TEST_MASTER_KEY_FILE';

test('first use creates a 0600 file of 64 hex characters; later uses read the same key', () => {
  const file = path.join(dir.path, 'keys', 'test-master.key');
  const key = loadOrCreateMasterKey(file, VAR);
  assert.equal(key.length, 32);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(file, 'utf8'), `${key.toString('hex')}\n`);
  assert.deepEqual(loadOrCreateMasterKey(file, VAR), key);
  assert.notDeepEqual(loadOrCreateMasterKey(path.join(dir.path, 'other.key'), VAR), key, 'each file its own random key');
});

test('an existing key is used as it is (any whitespace around it), and a readable file is tightened to 0600', () => {
  const file = path.join(dir.path, 'given.key');
  fs.writeFileSync(file, `  ${'ab'.repeat(32)}\r\n`, { mode: 0o644 });
  fs.chmodSync(file, 0o644);
  assert.equal(loadOrCreateMasterKey(file, VAR).toString('hex'), 'ab'.repeat(32));
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test('a file that does not hold 64 lower-case hex characters is a ConfigError naming the variable', () => {
  for (const content of ['', 'ab'.repeat(31), 'ab'.repeat(33), 'AB'.repeat(32), `${'ab'.repeat(31)}zz`, `${'ab'.repeat(32)}\n${'cd'.repeat(32)}`]) {
    const file = path.join(dir.path, 'bad.key');
    fs.writeFileSync(file, content, { mode: 0o600 });
    assert.throws(
      () => loadOrCreateMasterKey(file, VAR),
      (e: unknown) => e instanceof ConfigError && e.problems.length === 1 && e.problems[0] === `${VAR}: must hold 64 hex characters (a 256-bit key)`,
      JSON.stringify(content),
    );
  }
});
