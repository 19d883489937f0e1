import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ensurePki, callerIdentityFromCertificate } from '@gatehouse/pki';
import { run } from './cli.js';

describe('gatehouse CLI', () => {
  let dir: string;
  const env = () => ({ GATEHOUSE_TLS_DIR: dir, GATEHOUSE_AUDIT_ADDR: '127.0.0.1:1', GATEHOUSE_IDENTITY_ADDR: '127.0.0.1:1' });
  const capture = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, o: (l: string) => out.push(l), e: (l: string) => err.push(l) };
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-'));
    await ensurePki(dir, { services: ['audit'], clients: [{ name: 'cli', kind: 'operator' }] });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('pki issue writes a backend certificate chained to the CA, key 0600, and refuses to overwrite', async () => {
    const c = capture();
    assert.equal(await run(['pki', 'issue', '--name', 'contacts-api'], env(), c.o, c.e), 0);
    const cert = new X509Certificate(fs.readFileSync(path.join(dir, 'contacts-api.pem')));
    const ca = new X509Certificate(fs.readFileSync(path.join(dir, 'ca.pem')));
    assert.ok(cert.verify(ca.publicKey));
    assert.deepEqual(
      { kind: callerIdentityFromCertificate(cert.raw)?.kind, name: callerIdentityFromCertificate(cert.raw)?.name },
      { kind: 'backend', name: 'contacts-api' },
    );
    assert.equal(fs.statSync(path.join(dir, 'contacts-api.key')).mode & 0o777, 0o600);
    const again = capture();
    assert.equal(await run(['pki', 'issue', '--name', 'contacts-api'], env(), again.o, again.e), 2);
    assert.match(again.err.join(), /already has a certificate .* pass --force/);
  });

  test('pki issue refuses bad names and kinds with a usage error', async () => {
    for (const args of [['--name', 'Bad Name'], ['--name', 'x', '--kind', 'service'], [], ['--name', 'ok', '--days', '0']]) {
      const c = capture();
      assert.equal(await run(['pki', 'issue', ...args], env(), c.o, c.e), 2, args.join(' '));
      assert.match(c.err.join(), /pki issue: /);
    }
  });

  test('status reports unreachable services and exits 1', async () => {
    const c = capture();
    assert.equal(await run(['status', '--json'], env(), c.o, c.e), 1);
    const rows = JSON.parse(c.out[0] ?? '[]') as Array<{ service: string; status: string }>;
    assert.equal(rows.length, 5);
    assert.equal(rows.find((r) => r.service === 'audit')?.status, 'UNREACHABLE');
  });

  test('unknown commands and options are usage errors (exit 2)', async () => {
    const c = capture();
    assert.equal(await run(['frobnicate'], env(), c.o, c.e), 2);
    assert.equal(await run(['status', '--nope'], env(), c.o, c.e), 2);
  });
});
