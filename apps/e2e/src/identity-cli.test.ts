import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AllowlistServiceClient, AuditServiceClient, allowlistV1, auditEventV1, auditV1 } from '@gatehouse/contracts';
import { call, dial } from '@gatehouse/service-kit';
import { CLI_MAIN, cliLogin } from './cli-login.js';
import { startStack, type Stack } from './stack.js';

/**
 * The officer's first day through the real `gatehouse` CLI bundle against the real stack:
 * bootstrap with the token identity wrote, sign in (SMS from the dev sink, TOTP enrolment,
 * OTP), whoami, and the events that reached the real audit service.
 */
describe('identity and allowlist through the CLI against the stack', () => {
  let stack: Stack;
  let home: string;

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-home-'));
    stack = await startStack({ GATEHOUSE_AUDIT_READERS: 'dev-backend' });
  });
  after(async () => {
    await stack?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const env = () => ({
    PATH: process.env['PATH'] ?? '',
    HOME: home,
    GATEHOUSE_ENV: 'dev',
    GATEHOUSE_TLS_DIR: stack.pkiDir,
    GATEHOUSE_CONFIG_DIR: path.join(home, 'gatehouse'),
    GATEHOUSE_IDENTITY_ADDR: stack.services.identity.address,
    GATEHOUSE_ALLOWLIST_ADDR: stack.services.allowlist.address,
    GATEHOUSE_AUDIT_ADDR: stack.services.audit.address,
    GATEHOUSE_DEV_ISSUER_KEY_FILE: path.join(stack.dir, 'data', 'identity-dev-issuer-key.pem'),
  });
  const cliMain = CLI_MAIN;

  /** Runs `gatehouse login`, answering its prompts from the dev SMS sink and an independent TOTP. */
  const login = (email: string) => cliLogin(stack, env(), email);

  test('bootstrap, first sign-in with TOTP enrolment, whoami; the session file is 0600; audit received the events', async () => {
    const boot = spawnSync(
      process.execPath,
      [cliMain, 'accounts', 'bootstrap', '--token-file', path.join(stack.dir, 'data', 'identity-bootstrap-token'), '--dev', 'olga@bank.example', '--phone', '+4915100000001'],
      { env: env(), encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(boot.status, 0, boot.stderr);

    const r = await login('olga@bank.example');
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const sessionFile = path.join(home, 'gatehouse', 'session');
    assert.equal(fs.statSync(sessionFile).mode & 0o777, 0o600);
    const token = fs.readFileSync(sessionFile, 'utf8').trim();
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), 'the token is never printed');

    const who = spawnSync(process.execPath, [cliMain, 'whoami', '--json'], { env: env(), encoding: 'utf8', timeout: 30_000 });
    assert.equal(who.status, 0, who.stderr);
    assert.match(who.stdout, /olga@bank\.example/);
    assert.match(who.stdout, /security_officer/i);

    // Identity's events went through its outbox to the real audit service.
    const client = dial(AuditServiceClient, stack.services.audit.address, { mode: 'mtls', material: await stack.material('dev-backend', 'audit') });
    const wanted = [auditEventV1.Action.ACTION_IDENTITY_BOOTSTRAP_OFFICER, auditEventV1.Action.ACTION_IDENTITY_OTP_CONFIRM, auditEventV1.Action.ACTION_IDENTITY_SESSION_ISSUE];
    let seen: auditEventV1.Action[] = [];
    for (let i = 0; i < 100 && !wanted.every((a) => seen.includes(a)); i++) {
      const q = await call(client, client.query, auditV1.QueryRequest.fromPartial({ filter: { services: [auditEventV1.Service.SERVICE_IDENTITY] }, pageSize: 200 }));
      seen = q.entries.map((e) => e.event?.action ?? auditEventV1.Action.ACTION_UNSPECIFIED);
      await new Promise((res) => setTimeout(res, 100));
    }
    client.close();
    for (const a of wanted) assert.ok(seen.includes(a), `${auditEventV1.actionToJSON(a)} not in ${seen.map(auditEventV1.actionToJSON).join(', ')}`);
  });

  test('the officer (FULL session: loopback is allowlisted by the dev configuration) manages the allowlist; Check answers; events reach audit', async () => {
    const run = (args: string[]) => spawnSync(process.execPath, [cliMain, ...args], { env: env(), encoding: 'utf8', timeout: 30_000 });
    const who = run(['whoami', '--json']);
    assert.match(who.stdout, /FULL/i, who.stdout);
    const add = run(['allowlist', 'add', '10.9.0.0/16', '--scope', 'all', '--label', 'Lyon office', '--reason', 'new office']);
    assert.equal(add.status, 0, add.stderr);
    assert.match(add.stdout, /Added 10\.9\.0\.0\/16/);
    const allow = run(['ip', 'check', '10.9.200.1']);
    assert.equal(allow.status, 0, allow.stdout + allow.stderr);
    assert.match(allow.stdout, /^ALLOW 10\.9\.200\.1 for LIVE: enumerated_entry by 10\.9\.0\.0\/16/);
    const deny = run(['ip', 'check', '10.10.0.1', '--account', 'acc-nobody']);
    assert.equal(deny.status, 3);
    assert.match(deny.stdout, /^DENY 10\.10\.0\.1 for LIVE: no_match/);
    const bad = run(['allowlist', 'add', '10.0.0.0/8', '--scope', 'all', '--label', 'x', '--reason', 'x']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /INVALID_ARGUMENT: cidr: .*16/);
    // Loopback is allowlisted (static entry): registering it would only use up a daily slot (issue 13, item 15).
    const reg = run(['ip', 'register']);
    assert.equal(reg.status, 0, reg.stderr);
    assert.match(reg.stdout, /^127\.0\.0\.1 is already allowed for STAGING by 127\.0\.0\.1\/32 \(static:127\.0\.0\.1\/32\|all\): nothing registered, no daily slot used\.$/m);
    assert.doesNotMatch(reg.stdout, /Registered|refresh/);
    const token = fs.readFileSync(path.join(home, 'gatehouse', 'session'), 'utf8').trim();
    const al = dial(AllowlistServiceClient, stack.services.allowlist.address, { mode: 'mtls', material: await stack.material('cli', 'allowlist') });
    const daily = await call(al, al.listDailyIps, allowlistV1.ListDailyIpsRequest.fromPartial({ includeExpired: true, pageSize: 100 }), { bearer: token });
    al.close();
    assert.deepEqual(daily.dailyIps, [], 'no daily IP was registered');
    const listed = run(['allowlist', 'list', '--json']);
    const entries = JSON.parse(listed.stdout) as Array<{ cidr: string }>;
    assert.deepEqual(entries.map((e) => e.cidr).sort(), ['10.9.0.0/16', '127.0.0.1/32', '::1/128'].sort());

    const client = dial(AuditServiceClient, stack.services.audit.address, { mode: 'mtls', material: await stack.material('dev-backend', 'audit') });
    const wanted = [auditEventV1.Action.ACTION_ALLOWLIST_ENTRY_ADD, auditEventV1.Action.ACTION_ALLOWLIST_CHECK_DENY];
    let seen: auditEventV1.AuditEvent[] = [];
    for (let i = 0; i < 100 && !wanted.every((a) => seen.some((e) => e.action === a)); i++) {
      const q = await call(client, client.query, auditV1.QueryRequest.fromPartial({ filter: { services: [auditEventV1.Service.SERVICE_ALLOWLIST] }, pageSize: 200 }));
      seen = q.entries.map((e) => e.event).filter((e): e is auditEventV1.AuditEvent => e !== undefined);
      await new Promise((res) => setTimeout(res, 100));
    }
    client.close();
    for (const a of wanted) assert.ok(seen.some((e) => e.action === a), auditEventV1.actionToJSON(a));
    assert.ok(!seen.some((e) => e.action === auditEventV1.Action.ACTION_ALLOWLIST_DAILY_IP_REGISTER), 'no daily IP registration was audited');
    const denial = seen.find((e) => e.action === auditEventV1.Action.ACTION_ALLOWLIST_CHECK_DENY);
    assert.equal(denial?.details['claimed_account_id'], 'acc-nobody');
    assert.equal(denial?.actor?.kind, auditEventV1.ActorKind.ACTOR_KIND_SERVICE, 'the account is what the caller claims; the caller is the actor');
    assert.equal(denial?.sourceIp, '10.10.0.1');
  });
});
