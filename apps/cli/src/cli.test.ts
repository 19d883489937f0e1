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

  test('every command\'s --help prints that command\'s help, not the global one (and `help <command>` the same)', async () => {
    const approve = capture();
    assert.equal(await run(['accounts', 'approve', 'acc-1', '--help'], env(), approve.o, approve.e), 0);
    const text = approve.out.join('\n');
    assert.match(text, /^Security officer .*:$/m);
    assert.match(text, /^ {2}gatehouse accounts approve <account> --roles /m);
    assert.match(text, /^ {2}Roles: security_officer, manager, team_lead, developer, support$/m);
    assert.doesNotMatch(text, /gatehouse (accounts suspend|status|login)/);
    const all = capture();
    assert.equal(await run(['--help'], env(), all.o, all.e), 0);
    const usage = all.out.join('\n');
    const entries = usage.split('\n').filter((l) => /^ {2}gatehouse [a-z]/.test(l));
    assert.ok(entries.length > 40, `the usage lists the commands (${entries.length})`);
    const keyOf = (line: string) => {
      const words: string[] = [];
      for (const w of line.trim().split(/\s+/).slice(1)) {
        if (!/^[a-z][a-z-]*$/.test(w)) break;
        words.push(w);
      }
      return words;
    };
    for (const line of entries) {
      const key = keyOf(line);
      const c = capture();
      assert.equal(await run([...key, '--help'], env(), c.o, c.e), 0, key.join(' '));
      const text = c.out.join('\n');
      assert.ok(text.split('\n').includes(line), `${key.join(' ')} --help shows its own line:\n${text}`);
      assert.notEqual(text, usage, `${key.join(' ')} --help is not the global help`);
      // Only this command's entries: every entry line shown starts with its words.
      for (const shown of text.split('\n').filter((l) => /^ {2}gatehouse [a-z]/.test(l))) {
        assert.deepEqual(keyOf(shown).slice(0, key.length), key, `${key.join(' ')} --help shows only its own entries, not ${JSON.stringify(shown)}`);
      }
    }
    const viaHelp = capture();
    assert.equal(await run(['help', 'accounts', 'approve'], env(), viaHelp.o, viaHelp.e), 0);
    assert.equal(viaHelp.out.join('\n'), text);
    const group = capture();
    assert.equal(await run(['accounts', '--help'], env(), group.o, group.e), 0);
    assert.match(group.out.join('\n'), /gatehouse accounts approve[\s\S]*gatehouse accounts bootstrap/);
    const unknown = capture();
    assert.equal(await run(['frobnicate', '--help'], env(), unknown.o, unknown.e), 2);
    assert.match(unknown.err.join(), /unknown command "frobnicate"/);
  });

  test('a certificate that is not there is named with the command that issues it (not "the dev stack creates it")', async () => {
    const c = capture();
    assert.equal(await run(['ip', 'check', '10.1.2.3'], { ...env(), GATEHOUSE_CLI_CERT: 'deployer' }, c.o, c.e), 1);
    const text = c.err.join('\n');
    assert.ok(text.includes(path.join(dir, 'deployer')) || text.includes(dir), text);
    assert.match(text, /no certificate "deployer" in .* \(GATEHOUSE_CLI_CERT=deployer\): issue it with `gatehouse pki issue --name deployer --kind backend`/);
    assert.doesNotMatch(text, /dev stack creates it/);
    const noCa = capture();
    assert.equal(await run(['ip', 'check', '10.1.2.3'], { ...env(), GATEHOUSE_TLS_DIR: path.join(dir, 'nowhere') }, noCa.o, noCa.e), 1);
    assert.match(noCa.err.join('\n'), /no Gatehouse CA in .*nowhere: start the dev stack .*GATEHOUSE_DEV_DIR/);
  });

  test('without GATEHOUSE_TLS_DIR the PKI is the dev stack\'s, <GATEHOUSE_DEV_DIR>/pki; a bad GATEHOUSE_DEV_BASE_PORT is a usage error naming it', async () => {
    const devDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-devdir-'));
    try {
      await ensurePki(path.join(devDir, 'pki'), { services: ['audit'], clients: [{ name: 'cli', kind: 'operator' }] });
      const c = capture();
      assert.equal(await run(['pki', 'issue', '--name', 'contacts-api'], { GATEHOUSE_DEV_DIR: devDir }, c.o, c.e), 0, c.err.join('\n'));
      assert.ok(fs.existsSync(path.join(devDir, 'pki', 'contacts-api.pem')));
      const bad = capture();
      assert.equal(await run(['status'], { GATEHOUSE_DEV_DIR: devDir, GATEHOUSE_DEV_BASE_PORT: 'seventy' }, bad.o, bad.e), 2);
      assert.match(bad.err.join(), /GATEHOUSE_DEV_BASE_PORT: expected a port number/);
    } finally {
      fs.rmSync(devDir, { recursive: true, force: true });
    }
  });

  test('unknown commands and options are usage errors (exit 2)', async () => {
    const c = capture();
    assert.equal(await run(['frobnicate'], env(), c.o, c.e), 2);
    assert.equal(await run(['status', '--nope'], env(), c.o, c.e), 2);
  });
});
