import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { MONGO_FEATURES, findMongo, startJongodb, tempDir, uniqueDbName } from './index.js';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./test-fixtures/tiny-harness.ts', import.meta.url));

async function runFixture(env: Record<string, string | undefined>): Promise<string> {
  // Without NODE_TEST_CONTEXT the child runs as a top-level test run and prints its own report.
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', fixture], {
    env: { ...inherited, ...env },
    timeout: 30_000,
  });
  return stdout;
}

test('findMongo() answers once per process and its servers listen on loopback only', async (t) => {
  const first = await findMongo();
  assert.equal(await findMongo(), first);
  if ('skipped' in first) return t.skip(first.skipped);
  if (first.flavour !== 'env') {
    assert.match(new URL(first.url).hostname, /^(127\.0\.0\.1|localhost)$/);
  }
  if (first.flavour === 'jongodb') assert.deepEqual([...first.lacks].sort(), [...MONGO_FEATURES].sort());
  else assert.equal(first.lacks.size, 0);
  const client = await new MongoClient(first.url, { serverSelectionTimeoutMS: 5_000 }).connect();
  try {
    assert.equal((await client.db(uniqueDbName('ping')).command({ ping: 1 }))['ok'], 1);
  } finally {
    await client.close();
  }
});

test('a private jongodb starts on a random loopback port and stop() kills it', async (t) => {
  const found = await startJongodb();
  if ('skipped' in found) return t.skip(found.skipped);
  const { hostname, port } = new URL(found.url);
  assert.equal(hostname, '127.0.0.1');
  await found.stop();
  const refused = await new Promise<boolean>((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
  assert.equal(refused, true, 'nothing listens on the port after stop()');
});

test('a jongodb that cannot start is a skip reason, not a crash', async () => {
  const found = await startJongodb('/nonexistent/jongodb');
  assert.ok('skipped' in found);
  assert.match(found.skipped, /^jongodb did not start/);
});

test('the harness says why it skipped the MongoDB backend when there is none', async () => {
  const stdout = await runFixture({ GATEHOUSE_TEST_MONGO: 'off' });
  assert.match(stdout, /storage harness \[tiny\]: ran sqlite \(2 cases\); skipped mongodb entirely \(2 cases\): no MongoDB: disabled by GATEHOUSE_TEST_MONGO=off/);
  assert.match(stdout, /# no MongoDB: disabled by GATEHOUSE_TEST_MONGO=off/);
});

test('MONGO_URL wins over everything and counts as a full MongoDB', async (t) => {
  const found = await findMongo();
  if ('skipped' in found) return t.skip(found.skipped);
  const stdout = await runFixture({ MONGO_URL: found.url });
  assert.match(stdout, /storage harness \[tiny\]: ran sqlite \(2 cases\), mongodb\/env \(2 cases\)$/m);
});

test('uniqueDbName() never repeats and stays a valid MongoDB name', () => {
  const names = new Set(Array.from({ length: 1000 }, () => uniqueDbName('outbox.contract/$x')));
  assert.equal(names.size, 1000);
  for (const name of names) {
    assert.match(name, /^[A-Za-z0-9_]+$/);
    assert.ok(name.length <= 63);
  }
});

test('tempDir() is private and cleanup removes it', async () => {
  const dir = await tempDir('perm check');
  assert.equal(fs.statSync(dir.path).mode & 0o777, 0o700);
  fs.writeFileSync(`${dir.path}/x`, 'y');
  await dir.cleanup();
  await dir.cleanup();
  assert.equal(fs.existsSync(dir.path), false);
});
