import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
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

test('npm start: all five SERVING within 15 s, then Ctrl-C stops everything and leaves no process or port behind', async () => {
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
    assert.ok(fs.existsSync(path.join(dir, 'pki', 'ca.pem')) && fs.existsSync(path.join(dir, 'data', 'identity.db')));
    // Only the service processes: tsx may also run an esbuild helper under the launcher.
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(launcher.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /dist\/apps\/[a-z]+\/main\.mjs/.test(l))
      .map((l) => Number(l.trim().split(/\s+/)[0]))
      .filter((n) => n > 0);
    assert.equal(children.length, 5, `one process per service (ps found ${JSON.stringify(children)})`);

    launcher.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => launcher.once('exit', (c) => resolve(c)));
    assert.equal(code, 0, out);
    assert.match(out, /all services stopped/);
    assert.deepEqual(children.filter(alive), [], 'no service process outlives the launcher');
    for (let i = 0; i < 5; i++) assert.equal(await portOpen(base + i), false, `port ${base + i} is closed`);
  } finally {
    if (launcher.exitCode === null) launcher.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
