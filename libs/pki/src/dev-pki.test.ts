import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { callerIdentityFromCertificate, createCa, ensurePki, issueCertificate, loadTlsMaterial, type EnsurePkiOptions } from './index.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'gatehouse-pki-'));
  temps.push(base);
  return path.join(base, 'pki');
}

const OPTIONS: EnsurePkiOptions = {
  services: ['identity', 'audit'],
  clients: [
    { name: 'shop-backend', kind: 'backend' },
    { name: 'cli', kind: 'operator' },
  ],
};

/** Every file in the directory with its bytes, mode and mtime. */
async function snapshot(dir: string): Promise<Record<string, { content: string; mode: number; mtimeMs: number }>> {
  const out: Record<string, { content: string; mode: number; mtimeMs: number }> = {};
  for (const name of (await fs.readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const stat = await fs.stat(file);
    out[name] = { content: await fs.readFile(file, 'utf8'), mode: stat.mode & 0o777, mtimeMs: stat.mtimeMs };
  }
  return out;
}

test('ensurePki creates a private directory with a CA and one certificate per caller', async () => {
  const dir = await tempDir();
  const result = await ensurePki(dir, OPTIONS);
  assert.deepEqual(result.issued, ['ca', 'identity', 'audit', 'shop-backend', 'cli']);
  assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
  const files = await snapshot(dir);
  assert.deepEqual(Object.keys(files), [
    'audit.key',
    'audit.pem',
    'ca.key',
    'ca.pem',
    'cli.key',
    'cli.pem',
    'identity.key',
    'identity.pem',
    'shop-backend.key',
    'shop-backend.pem',
  ]);
  for (const [name, file] of Object.entries(files)) {
    if (name.endsWith('.key')) assert.equal(file.mode, 0o600, name);
  }
  const ca = new X509Certificate(await fs.readFile(result.caCertPath));
  for (const [name, leaf] of Object.entries(result.leaves)) {
    const cert = new X509Certificate(await fs.readFile(leaf.certPath));
    assert.equal(cert.checkIssued(ca), true);
    assert.deepEqual(
      { kind: callerIdentityFromCertificate(cert.raw)?.kind, name: callerIdentityFromCertificate(cert.raw)?.name },
      { kind: leaf.kind, name },
    );
  }
  assert.equal(result.leaves['audit']?.kind, 'service');
  assert.equal(result.leaves['cli']?.kind, 'operator');
});

test('a second ensurePki changes nothing', async () => {
  const dir = await tempDir();
  await ensurePki(dir, OPTIONS);
  const before = await snapshot(dir);
  const again = await ensurePki(dir, OPTIONS);
  assert.deepEqual(again.issued, []);
  assert.deepEqual(await snapshot(dir), before);
});

test('ensurePki reissues only what is expiring, foreign, for another identity or half-present', async () => {
  const dir = await tempDir();
  const first = await ensurePki(dir, OPTIONS);
  const paths = (name: string) => {
    const leaf = first.leaves[name];
    assert.ok(leaf);
    return leaf;
  };
  const ca = { certPem: await fs.readFile(first.caCertPath, 'utf8'), keyPem: await fs.readFile(first.caKeyPath, 'utf8') };

  // identity: expires in 3 days. audit: issued by another CA. shop-backend: key gone.
  // cli: a valid certificate from our CA, but for another identity.
  const expiring = await issueCertificate(ca, { name: 'identity', kind: 'service', validityDays: 3 });
  await fs.writeFile(paths('identity').certPath, expiring.certPem);
  await fs.writeFile(paths('identity').keyPath, expiring.keyPem);
  const foreign = await issueCertificate(await createCa(), { name: 'audit', kind: 'service' });
  await fs.writeFile(paths('audit').certPath, foreign.certPem);
  await fs.writeFile(paths('audit').keyPath, foreign.keyPem);
  await fs.rm(paths('shop-backend').keyPath);
  const wrong = await issueCertificate(ca, { name: 'cli', kind: 'backend' });
  await fs.writeFile(paths('cli').certPath, wrong.certPem);
  await fs.writeFile(paths('cli').keyPath, wrong.keyPem);
  const caBefore = await snapshot(dir).then((s) => ({ key: s['ca.key'], pem: s['ca.pem'] }));

  const second = await ensurePki(dir, OPTIONS);
  assert.deepEqual(second.issued, ['identity', 'audit', 'shop-backend', 'cli']);
  const after = await snapshot(dir);
  assert.deepEqual({ key: after['ca.key'], pem: after['ca.pem'] }, caBefore);
  const identity = new X509Certificate(await fs.readFile(paths('identity').certPath));
  assert.ok(new Date(identity.validTo).getTime() - Date.now() > 80 * DAY_MS);
  assert.equal(callerIdentityFromCertificate(await fs.readFile(paths('cli').certPath))?.kind, 'operator');
  assert.equal(after['shop-backend.key']?.mode, 0o600);
  assert.deepEqual(Object.keys(after).filter((f) => f.endsWith('.tmp')), []);

  // Seen from 85 days on, every 90-day leaf expires within the week.
  const later = await ensurePki(dir, { ...OPTIONS, now: new Date(Date.now() + 85 * DAY_MS) });
  assert.deepEqual(later.issued, ['identity', 'audit', 'shop-backend', 'cli']);
});

test('ensurePki tightens loosened permissions without reissuing', async () => {
  const dir = await tempDir();
  const first = await ensurePki(dir, { services: ['audit'] });
  await fs.chmod(dir, 0o755);
  await fs.chmod(first.caKeyPath, 0o644);
  await fs.chmod(first.leaves['audit']?.keyPath ?? '', 0o640);
  const again = await ensurePki(dir, { services: ['audit'] });
  assert.deepEqual(again.issued, []);
  assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
  assert.equal((await fs.stat(first.caKeyPath)).mode & 0o777, 0o600);
  assert.equal((await fs.stat(first.leaves['audit']?.keyPath ?? '')).mode & 0o777, 0o600);
});

test('ensurePki never regenerates half of the CA', async () => {
  const dir = await tempDir();
  const first = await ensurePki(dir, { services: ['audit'] });
  const key = await fs.readFile(first.caKeyPath, 'utf8');
  await fs.rm(first.caCertPath);
  await assert.rejects(ensurePki(dir, { services: ['audit'] }), (err: Error) => err.message.includes(first.caCertPath));
  assert.equal(await fs.readFile(first.caKeyPath, 'utf8'), key);
});

test('ensurePki validates every name before writing anything', async () => {
  const dir = await tempDir();
  await assert.rejects(ensurePki(dir, { services: ['audit', '../escape'] }), /invalid Gatehouse caller name/);
  await assert.rejects(ensurePki(dir, { services: ['ca'] }), /reserved/);
  await assert.rejects(ensurePki(dir, { services: ['audit'], clients: [{ name: 'audit', kind: 'backend' }] }), /listed twice/);
  await assert.rejects(ensurePki(dir, { services: [], clients: [{ name: 'x', kind: 'root' as 'backend' }] }), /invalid Gatehouse caller kind/);
  await assert.rejects(fs.stat(dir), { code: 'ENOENT' });
});

test('loadTlsMaterial returns the files and names the one that is missing', async () => {
  const dir = await tempDir();
  const result = await ensurePki(dir, OPTIONS);
  const material = await loadTlsMaterial(dir, 'audit');
  assert.deepEqual(material.ca, await fs.readFile(result.caCertPath));
  assert.deepEqual(material.cert, await fs.readFile(result.leaves['audit']?.certPath ?? ''));
  assert.deepEqual(material.key, await fs.readFile(result.leaves['audit']?.keyPath ?? ''));
  await assert.rejects(loadTlsMaterial(dir, 'nobody'), (err: Error) => err.message.includes(path.join(dir, 'nobody.pem')));
  await fs.rm(result.leaves['cli']?.keyPath ?? '');
  await assert.rejects(loadTlsMaterial(dir, 'cli'), (err: Error) => err.message.includes(path.join(dir, 'cli.key')));
  await assert.rejects(loadTlsMaterial(dir, 'ca'), /reserved/);
  await assert.rejects(loadTlsMaterial(dir, '../ca'), /invalid Gatehouse caller name/);
});
