// The runner itself, on small fixture files: it passes a file whose declared tests all report,
// and fails, naming the file and the counts, one that exits early, keeps a handle open, leaves a
// child process running or declares nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, 'test-fixtures');

/** Runs run.mjs on fixture folders (and extra node flags) and returns its exit code and output. */
async function runner(/** @type {string[]} */ dirs, /** @type {Record<string, string>} */ env = {}, /** @type {string[]} */ flags = []) {
  const args = [path.join(here, 'run.mjs'), ...dirs.map((d) => path.join(fixtures, d)), ...(flags.length ? ['--', ...flags] : [])];
  try {
    const { stdout } = await promisify(execFile)(process.execPath, args, {
      env: { ...process.env, GATEHOUSE_TEST_EXIT_GRACE_MS: '1000', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout };
  } catch (err) {
    const e = /** @type {{ code: number, stdout: string }} */ (err);
    return { code: e.code, stdout: e.stdout };
  }
}

test('a file whose declared tests all report passes, with its counts', async () => {
  const { code, stdout } = await runner(['all-run']);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /^test files 1, tests declared 6, results 6 \(pass 4, fail 0, skipped 2\) \[of which 1 todo\]$/m);
  assert.doesNotMatch(stdout, /✖/);
});

test('a file that exits in the middle fails, naming the file, the counts and the tests never reported', async () => {
  const { code, stdout } = await runner(['exits-early']);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /✖ .*exits-mid-file\.test\.mjs: declared 4 test\(s\), 1 reported a result: 3 missing; never reported: "exits the process", "never runs", "never runs either"/);
  assert.match(stdout, /^test files 1, tests declared 4, results 1 /m);
});

test('a file that keeps a server open is killed after the grace period and fails, named', async () => {
  const started = Date.now();
  const { code, stdout } = await runner(['leaks-handle']);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /✖ .*keeps-server-open\.test\.mjs: killed: its tests were done but the process did not exit within 1000 ms/);
  assert.ok(Date.now() - started < 30_000, 'killed after the grace period, not at the test timeout');
});

test('a file that leaves a child process running fails, named, and the child is killed', async () => {
  const { code, stdout } = await runner(['leaks-child']);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /✖ .*leaves-child-running\.test\.mjs: left a child process running after its tests \(killed it\)/);
});

test('a file that declares no test fails', async () => {
  const { code, stdout } = await runner(['no-tests']);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /✖ .*no-tests\.test\.mjs: reported no tests/);
});

test('a file running past the test timeout is killed and fails, named', async () => {
  // The limit counts from the spawn, tsx's start-up included (about a second on a loaded machine).
  const { code, stdout } = await runner(['hangs'], {}, ['--test-timeout=3000']);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /✖ .*hangs-in-a-test\.test\.mjs: killed: ran longer than the test timeout of 3000 ms \(declared 2 test\(s\), 1 reported a result; never reported: "never finishes"\)/);
});

test('several folders: one total line per folder and one for the run', async () => {
  const { code, stdout } = await runner(['all-run', 'exits-early']);
  assert.equal(code, 1, stdout);
  assert.match(stdout, /all-run: test files 1, tests declared 6, results 6 /);
  assert.match(stdout, /exits-early: test files 1, tests declared 4, results 1 /);
  assert.match(stdout, /^test files 2, tests declared 10, results 7 \(pass 5, fail 0, skipped 2\)/m);
});
