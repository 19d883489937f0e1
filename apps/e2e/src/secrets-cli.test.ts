import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { SecretsServiceClient } from '@gatehouse/contracts';
import { call, dial } from '@gatehouse/service-kit';
import { testSessionIssuer, type TestSessionIssuer } from '@gatehouse/testing';
import { ROOT, startStack, type Stack } from './stack.js';

/** A deployment's secrets through the built `gatehouse` CLI and the built stack, with audit's real alert rules. */
describe('gatehouse secrets / release (CLI) against the stack', () => {
  let stack: Stack;
  let sessions: TestSessionIssuer;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-secrets-'));
    sessions = testSessionIssuer(dir);
    stack = await startStack({ GATEHOUSE_SESSION_KEYS_FILE: sessions.keysFile });
  });
  after(async () => {
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cli = (args: string[], o: { roles?: Array<'security_officer' | 'manager'>; cert?: string } = {}) =>
    spawnSync(process.execPath, [path.join(ROOT, 'dist/apps/cli/main.mjs'), ...args], {
      env: {
        PATH: process.env['PATH'] ?? '',
        GATEHOUSE_TLS_DIR: stack.pkiDir,
        GATEHOUSE_SECRETS_ADDR: stack.services.secrets.address,
        GATEHOUSE_AUDIT_ADDR: stack.services.audit.address,
        ...(o.roles ? { GATEHOUSE_SESSION_TOKEN: sessions.token({ roles: o.roles }) } : {}),
        ...(o.cert ? { GATEHOUSE_CLI_CERT: o.cert } : {}),
      },
      encoding: 'utf8',
      timeout: 30_000,
    });

  test('put → release create → release redeem writes a 0600 env file once; 100 parallel redemptions: one bundle, one alert', async () => {
    const status = cli(['secrets', 'status', '--json']);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /UNSEALED/, 'the dev stack unseals itself');

    const valueFile = path.join(dir, 'value');
    fs.writeFileSync(valueFile, "s3cr3t-'quoted'-value", { mode: 0o600 });
    const put = cli(['secrets', 'put', 'live', 'payments', 'DB_PASSWORD', '--value-file', valueFile], { roles: ['manager'] });
    assert.equal(put.status, 0, put.stderr);
    assert.ok(!put.stdout.includes('s3cr3t'), 'the value is never echoed');
    const list = cli(['secrets', 'list', '--app', 'payments'], { roles: ['security_officer'] });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /DB_PASSWORD/);

    const tokenFile = path.join(dir, 'release-token');
    const created = cli(['release', 'create', 'live', 'payments', '--ref', 'commit-e2e-1', '--token-file', tokenFile], { roles: ['manager'] });
    assert.equal(created.status, 0, created.stderr);
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
    const token = fs.readFileSync(tokenFile, 'utf8').trim();
    assert.ok(!created.stdout.includes(token), 'the token went to the file only');

    const envFile = path.join(dir, 'app.env');
    const redeemed = cli(['release', 'redeem', '--token-file', tokenFile, '--out', envFile, '--expect-ref', 'commit-e2e-1'], { cert: 'dev-backend' });
    assert.equal(redeemed.status, 0, redeemed.stderr);
    assert.equal(fs.statSync(envFile).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(envFile, 'utf8'), "DB_PASSWORD='s3cr3t-'\\''quoted'\\''-value'\n");
    const again = cli(['release', 'redeem', '--token-file', tokenFile, '--json'], { cert: 'dev-backend' });
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already redeemed/);
    assert.ok(!again.stdout.includes('s3cr3t'));

    // 100 deployments racing on one token, straight over gRPC.
    const second = path.join(dir, 'release-token-2');
    const c2 = cli(['release', 'create', 'live', 'payments', '--ref', 'commit-e2e-2', '--token-file', second, '--json'], { roles: ['manager'] });
    assert.equal(c2.status, 0, c2.stderr);
    const releaseId = /"(rel_[A-Za-z0-9_-]{16})"/.exec(c2.stdout)?.[1] ?? '';
    assert.ok(releaseId, c2.stdout);
    const client = dial(SecretsServiceClient, stack.services.secrets.address, { mode: 'mtls', material: await stack.material('dev-backend', 'secrets') });
    const token2 = fs.readFileSync(second, 'utf8').trim();
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => call(client, client.redeemRelease, { releaseToken: token2 })));
    client.close();
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one bundle');
    const refusals = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as grpc.ServiceError);
    assert.equal(refusals.length, 99);
    assert.ok(refusals.every((e) => /already redeemed/.test(e.details)));

    // Audit's rule turns the 99 replays into ONE alert for the release (raised within 1 s of the event that completes it).
    const alertsFor = () => {
      const r = cli(['alerts', 'list', '--json', '--limit', '500'], { roles: ['security_officer'] });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { ruleId: string; groupKey: string; count?: string })
        .filter((a) => a.ruleId === 'secrets.release_redeemed_twice' && a.groupKey.includes(releaseId));
    };
    const deadline = Date.now() + 10_000;
    while (alertsFor().length === 0) {
      assert.ok(Date.now() < deadline, 'the alert was raised');
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(alertsFor().length, 1, 'one alert, not 99');

    const events = cli(['audit', 'query', '--subject', releaseId, '--limit', '1000'], { roles: ['security_officer'] });
    assert.equal(events.status, 0, events.stderr);
    const lines = events.stdout.trim().split('\n');
    assert.equal(lines.filter((l) => /secrets_release_redeem_refused/.test(l)).length, 99);
    // The winner's confirmed intent, then its outcome (issue 13 item 6).
    assert.equal(lines.filter((l) => /secrets_release_redeem\s+success\s/.test(l)).length, 1);
    assert.equal(lines.filter((l) => /secrets_release_redeem\s+attempted\s/.test(l)).length, 1);
    const redeemLines = lines.filter((l) => /secrets_release_redeem\s/.test(l));
    assert.ok(redeemLines.every((l) => /^#\d+ {2}occurred=\S+ {2}appended=\S+ {2}causal=secrets:\d+ /.test(l)), 'each line shows when it happened and its causal counter');
    assert.ok(!events.stdout.includes(token2) && !events.stdout.includes('s3cr3t'));
  });
});
