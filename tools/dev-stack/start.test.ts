import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = path.resolve(import.meta.dirname, '../..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

test('npm start: all five SERVING within 15 s and the console answering, then Ctrl-C stops everything and leaves no process or port behind', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-devstack-'));
  // Below the ephemeral range (32768+), away from the audit outbox test's 20000-29999.
  const base = 10_000 + Math.floor(Math.random() * 9_000);
  const t0 = performance.now();
  const launcher = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'tools/dev-stack/start.ts')], {
    cwd: root,
    env: {
      ...process.env,
      GATEHOUSE_DEV_DIR: dir,
      GATEHOUSE_DEV_BASE_PORT: String(base),
      GATEHOUSE_DEV_METRICS_BASE_PORT: String(base + 10),
      GATEHOUSE_DEV_CONSOLE_PORT: String(base + 20),
      GATEHOUSE_DEV_SKIP_BUILD: '1', // the test target depends on the builds
      GATEHOUSE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  launcher.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  launcher.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  try {
    while (!out.includes('dev stack is up') && performance.now() - t0 < 30_000 && launcher.exitCode === null) await sleep(100);
    const secs = (performance.now() - t0) / 1000;
    assert.match(out, /Gatehouse dev stack is up/, out);
    assert.ok(secs < 15, `SERVING within 15 s (took ${secs.toFixed(1)} s)`);
    for (const svc of ['identity', 'allowlist', 'secrets', 'impersonation', 'audit']) {
      assert.match(out, new RegExp(`${svc}\\s+127\\.0\\.0\\.1:\\d+\\s+http://127\\.0\\.0\\.1:\\d+/metrics\\s+\\S+\\s+SERVING`), `${svc} row`);
    }
    assert.match(out, new RegExp(`console\\s+http://127\\.0\\.0\\.1:${base + 20}/\\s+SERVING`), 'the console row: its URL, answering');
    const page = await fetch(`http://127.0.0.1:${base + 20}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.ok(fs.existsSync(path.join(dir, 'pki', 'ca.pem')) && fs.existsSync(path.join(dir, 'data', 'identity.db')));
    // Only the service processes: tsx may also run an esbuild helper under the launcher.
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(launcher.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /dist\/apps\/[a-z]+\/main\.mjs/.test(l))
      .map((l) => Number(l.trim().split(/\s+/)[0]))
      .filter((n) => n > 0);
    assert.equal(children.length, 6, `one process per service and the console (ps found ${JSON.stringify(children)})`);

    await newcomerCli(t, dir, base);

    launcher.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => launcher.once('exit', (c) => resolve(c)));
    assert.equal(code, 0, out);
    assert.match(out, /all services stopped/);
    assert.deepEqual(children.filter(alive), [], 'no service process outlives the launcher');
    for (let i = 0; i < 5; i++) assert.equal(await portOpen(base + i), false, `port ${base + i} is closed`);
    assert.equal(await portOpen(base + 20), false, 'the console port is closed');
  } finally {
    if (launcher.exitCode === null) launcher.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The built CLI, run in a folder that is not the repository, against the stack started with
 * GATEHOUSE_DEV_DIR and GATEHOUSE_DEV_BASE_PORT: told the same two variables, it must find the
 * stack's certificates, ports, bootstrap token and dev issuer key (issue 13, items 12 and 13).
 */
async function newcomerCli(t: TestContext, dir: string, base: number): Promise<void> {
  const cliMain = path.join(root, 'dist/apps/cli/main.mjs');
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-newcomer-'));
  const devEnv = { GATEHOUSE_DEV_DIR: dir, GATEHOUSE_DEV_BASE_PORT: String(base) };
  const cli = (args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, [cliMain, ...args], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', HOME: cwd, GATEHOUSE_CONFIG_DIR: path.join(cwd, 'config'), ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
  try {
    await t.test('a CLI told GATEHOUSE_DEV_DIR and GATEHOUSE_DEV_BASE_PORT finds the stack; bootstrap reads its token and dev key; another folder\'s key is named', () => {
      // An older stack's state in the working folder, as a newcomer who once ran `npm start` there has.
      const stale = path.join(cwd, '.gatehouse', 'data');
      fs.mkdirSync(stale, { recursive: true });
      const staleKey = path.join(stale, 'identity-dev-issuer-key.pem');
      fs.writeFileSync(staleKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      fs.writeFileSync(path.join(stale, 'identity-bootstrap-token'), `ghb_${randomBytes(32).toString('base64url')}`, { mode: 0o600 });
      const boot = ['accounts', 'bootstrap', '--dev', 'olga@example.com', '--phone', '+4915100000001'];

      // Certificates and address given, the state folder not: identity refuses the token, and the CLI names the key file it used.
      const half = cli(boot, { GATEHOUSE_ENV: 'dev', GATEHOUSE_TLS_DIR: path.join(dir, 'pki'), GATEHOUSE_IDENTITY_ADDR: `127.0.0.1:${base}` });
      assert.equal(half.status, 1, half.stdout + half.stderr);
      assert.match(half.stderr, /unknown key/);
      assert.ok(half.stderr.includes(staleKey), `the error names ${staleKey}:\n${half.stderr}`);
      assert.match(half.stderr, /GATEHOUSE_DEV_DIR/);

      const status = cli(['status'], devEnv);
      assert.equal(status.status, 0, status.stdout + status.stderr);
      for (const svc of ['identity', 'allowlist', 'secrets', 'impersonation', 'audit']) assert.match(status.stdout, new RegExp(`^${svc}\\s+127\\.0\\.0\\.1:\\d+\\s+\\S+\\s+SERVING$`, 'm'));

      const ok = cli(boot, { ...devEnv, GATEHOUSE_ENV: 'dev' });
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /security officer created: acc_\S+ <olga@example\.com>/);
    });

    await t.test('GATEHOUSE_CLI_CERT=deployer (the README\'s release redeem) works on the dev stack; a certificate it does not make is named with the command that issues it', () => {
      assert.ok(fs.existsSync(path.join(dir, 'pki', 'deployer.pem')) && fs.existsSync(path.join(dir, 'pki', 'deployer.key')), 'the dev PKI holds deployer');
      const status = cli(['status', '--json'], { ...devEnv, GATEHOUSE_CLI_CERT: 'deployer' });
      assert.equal(status.status, 0, status.stdout + status.stderr);
      assert.deepEqual((JSON.parse(status.stdout) as Array<{ status: string }>).map((r) => r.status), Array(5).fill('SERVING'));

      const missing = cli(['ip', 'check', '10.1.2.3'], { ...devEnv, GATEHOUSE_CLI_CERT: 'contacts-api' });
      assert.equal(missing.status, 1, missing.stdout + missing.stderr);
      assert.ok(missing.stderr.includes(path.join(dir, 'pki')), missing.stderr);
      assert.match(missing.stderr, /gatehouse pki issue --name contacts-api --kind backend/);
      assert.doesNotMatch(missing.stderr, /dev stack creates it/);
      // The advice works: issued into the stack's PKI (found by GATEHOUSE_DEV_DIR), the same call is answered.
      const issued = cli(['pki', 'issue', '--name', 'contacts-api', '--kind', 'backend'], devEnv);
      assert.equal(issued.status, 0, issued.stdout + issued.stderr);
      const check = cli(['ip', 'check', '10.1.2.3'], { ...devEnv, GATEHOUSE_CLI_CERT: 'contacts-api' });
      assert.equal(check.status, 3, check.stdout + check.stderr);
      assert.match(check.stdout, /^DENY 10\.1\.2\.3 for LIVE: no_match/);
    });
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}
