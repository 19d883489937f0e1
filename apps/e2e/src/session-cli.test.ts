import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditServiceClient, auditEventV1, auditV1 } from '@gatehouse/contracts';
import { call, dial } from '@gatehouse/service-kit';
import { cliLogin, runCli, totpSecretIn } from './cli-login.js';
import { startStack, type Stack } from './stack.js';

/** `exp` of a session token, read as the CLI reads it (unverified, for the test's comparison only). */
function expOf(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp: number };
  return payload.exp;
}

/**
 * A newcomer's first hour through the built CLI and the real stack, from an IP that is NOT on
 * the allowlist (loopback is left out of the static entries here): the first sign-in (the
 * enrolment says the confirming code cannot sign in; typed again, the CLI does not send it), a
 * REGISTER_IP_ONLY session, `ip register`, then `gatehouse session refresh` (FULL, later expiry,
 * stored 0600) and refresh on use near expiry. Issue 13, item 14. (GATEHOUSE_DEV_DIR alone is
 * tested against `npm start` itself: tools/dev-stack/start.test.ts.)
 */
describe('sessions through the CLI: refresh instead of signing in again', () => {
  let stack: Stack;
  let home: string;

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-session-'));
    stack = await startStack({ GATEHOUSE_AUDIT_READERS: 'dev-backend', GATEHOUSE_ALLOWLIST_STATIC_CIDRS: '192.0.2.0/24' });
  });
  after(async () => {
    await stack?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) => ({
    PATH: process.env['PATH'] ?? '',
    HOME: home,
    GATEHOUSE_ENV: 'dev',
    GATEHOUSE_TLS_DIR: stack.pkiDir,
    GATEHOUSE_DEV_ISSUER_KEY_FILE: path.join(stack.dir, 'data', 'identity-dev-issuer-key.pem'),
    GATEHOUSE_CONFIG_DIR: path.join(home, 'gatehouse'),
    GATEHOUSE_IDENTITY_ADDR: stack.services.identity.address,
    GATEHOUSE_ALLOWLIST_ADDR: stack.services.allowlist.address,
    GATEHOUSE_AUDIT_ADDR: stack.services.audit.address,
    ...extra,
  });
  const sessionFile = () => path.join(home, 'gatehouse', 'session');
  const stored = () => fs.readFileSync(sessionFile(), 'utf8').trim();
  const scopeOf = (r: { stdout: string }) => (JSON.parse(r.stdout) as { session?: { scope?: string } }).session?.scope;
  /** Each test stands on its own: sign in (plainly) if the first test left no session. */
  let secret: string | undefined;
  const signedIn = async () => {
    if (fs.existsSync(sessionFile())) return;
    const r = await cliLogin(stack, env(), 'nina@bank.example', secret ? { secret } : {});
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  };

  test('at enrolment the CLI says the confirming code cannot sign in, and does not send it when it is typed again', async () => {
    const tokenFile = path.join(stack.dir, 'data', 'identity-bootstrap-token');
    const boot = runCli(['accounts', 'bootstrap', '--token-file', tokenFile, '--dev', 'nina@bank.example', '--phone', '+4915100000007'], env(), home);
    assert.equal(boot.code, 0, boot.stdout + boot.stderr);

    const r = await cliLogin(stack, env(), 'nina@bank.example', { retypeConfirmCode: true });
    secret = totpSecretIn(r.stdout);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const beforeConfirm = r.stdout.split('Confirm it with a code before')[1]?.split('The authenticator app is set up')[0] ?? '';
    assert.match(beforeConfirm, /That code is then used up: it cannot also sign you in,\s+so the sign-in asks for the NEXT code/);
    assert.match(r.stdout, /That is the code that confirmed the app; it cannot sign you in\. Wait until the app shows a new code\./);
    assert.match(r.stdout, /Scope: REGISTER_IP_ONLY/);

    // Identity never saw the confirming code a second time: no replay was refused (and nothing counted against the account).
    const client = dial(AuditServiceClient, stack.services.audit.address, { mode: 'mtls', material: await stack.material('dev-backend', 'audit') });
    try {
      let actions: auditEventV1.Action[] = [];
      for (let i = 0; i < 100 && !actions.includes(auditEventV1.Action.ACTION_IDENTITY_SESSION_ISSUE); i++) {
        const q = await call(client, client.query, auditV1.QueryRequest.fromPartial({ filter: { services: [auditEventV1.Service.SERVICE_IDENTITY] }, pageSize: 500 }));
        actions = q.entries.map((e) => e.event?.action ?? auditEventV1.Action.ACTION_UNSPECIFIED);
        await sleep(100);
      }
      assert.ok(actions.includes(auditEventV1.Action.ACTION_IDENTITY_SESSION_ISSUE), 'the session issue reached audit');
      assert.ok(!actions.includes(auditEventV1.Action.ACTION_IDENTITY_OTP_REPLAY), `no OTP replay was refused: ${actions.map(auditEventV1.actionToJSON).join(', ')}`);
    } finally {
      client.close();
    }
  });

  test('ip register, then `gatehouse session refresh`: FULL, a later expiry, a new token stored 0600 and never printed; no new sign-in', async () => {
    await signedIn();
    assert.equal(scopeOf(runCli(['whoami', '--json'], env())), 'SESSION_SCOPE_REGISTER_IP_ONLY');
    const reg = runCli(['ip', 'register'], env());
    assert.equal(reg.code, 0, reg.stdout + reg.stderr);
    assert.match(reg.stdout, /^Registered 127\.0\.0\.1 for staging until \d{4}-/m);
    assert.match(reg.stdout, /Run `gatehouse session refresh` for a FULL scope/);

    const first = stored();
    await sleep(1_100); // token times are whole seconds
    const smsBefore = stack.services.identity.stderr.join('').split('DEV SMS').length;
    const refreshed = runCli(['session', 'refresh'], env());
    assert.equal(refreshed.code, 0, refreshed.stdout + refreshed.stderr);
    assert.match(refreshed.stdout, /^Session \S+ refreshed\.$/m);
    assert.match(refreshed.stdout, /^Scope: FULL \(pinned to 127\.0\.0\.1\)\.$/m);
    assert.match(refreshed.stdout, /expires .* unless used; at the latest .*, then sign in again\./);
    const second = stored();
    assert.notEqual(second, first, 'a new token is stored');
    assert.ok(expOf(second) > expOf(first), `the expiry moved on (${expOf(first)} → ${expOf(second)})`);
    assert.equal(fs.statSync(sessionFile()).mode & 0o777, 0o600);
    assert.ok(![refreshed.stdout, refreshed.stderr, reg.stdout, reg.stderr].some((t) => t.includes(second) || t.includes(first)), 'tokens are never printed');
    assert.equal(stack.services.identity.stderr.join('').split('DEV SMS').length, smsBefore, 'no SMS: refreshing is not signing in');
    assert.equal(scopeOf(runCli(['whoami', '--json'], env())), 'SESSION_SCOPE_FULL');
  });

  test('refresh on use: a command run with a session expiring within GATEHOUSE_SESSION_REFRESH_MARGIN refreshes it first; outside the margin it does not', async () => {
    await signedIn();
    const before = stored();
    const far = runCli(['whoami', '--json'], env()); // default margin 10 min; the session has about an hour
    assert.equal(far.code, 0, far.stderr);
    assert.equal(stored(), before, 'not refreshed outside the margin');

    await sleep(1_100);
    const near = runCli(['whoami', '--json'], env({ GATEHOUSE_SESSION_REFRESH_MARGIN: '2h' }));
    assert.equal(near.code, 0, near.stdout + near.stderr);
    assert.equal(near.stderr, '', 'a successful refresh on use is silent');
    const after = stored();
    assert.notEqual(after, before);
    assert.ok(expOf(after) > expOf(before), `the expiry moved on (${expOf(before)} → ${expOf(after)})`);
    assert.equal(fs.statSync(sessionFile()).mode & 0o777, 0o600);
    // The command itself ran with the refreshed session.
    assert.ok(new Date((JSON.parse(near.stdout) as { session: { expiresAt: string } }).session.expiresAt).getTime() / 1000 >= expOf(after) - 1);

    // A session from GATEHOUSE_SESSION_TOKEN is the caller's to manage: never refreshed behind their back.
    const pinned = runCli(['whoami', '--json'], env({ GATEHOUSE_SESSION_REFRESH_MARGIN: '2h', GATEHOUSE_SESSION_TOKEN: after }));
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.equal(stored(), after);
  });
});
