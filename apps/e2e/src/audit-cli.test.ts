import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditServiceClient, auditEventV1 } from '@gatehouse/contracts';
import { call, dial } from '@gatehouse/service-kit';
import { testSessionIssuer, type TestSessionIssuer } from '@gatehouse/testing';
import { ROOT, startStack, type Stack } from './stack.js';

/** The officer's audit workflow through the `gatehouse` CLI bundle against the running stack. */
describe('gatehouse audit (CLI) against the stack', () => {
  let stack: Stack;
  let sessions: TestSessionIssuer;
  let sessionDir: string;

  before(async () => {
    sessionDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-sessions-'));
    sessions = testSessionIssuer(sessionDir);
    stack = await startStack({ GATEHOUSE_SESSION_KEYS_FILE: sessions.keysFile, GATEHOUSE_AUDIT_CHECKPOINT_EVERY: '10' });
  });
  after(async () => {
    await stack?.stop();
    fs.rmSync(sessionDir, { recursive: true, force: true });
  });

  const cli = (args: string[], roles: Array<'security_officer' | 'manager' | 'developer'> = ['security_officer']) => {
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      GATEHOUSE_TLS_DIR: stack.pkiDir,
      GATEHOUSE_AUDIT_ADDR: stack.services.audit.address,
      GATEHOUSE_SESSION_TOKEN: sessions.token({ roles }),
    };
    return spawnSync(process.execPath, [path.join(ROOT, 'dist/apps/cli/main.mjs'), ...args], { env, encoding: 'utf8', timeout: 30_000 });
  };

  test('query, export, keys and verify; a deleted line makes verify exit 1 naming the sequence', async () => {
    const client = dial(AuditServiceClient, stack.services.audit.address, { mode: 'mtls', material: await stack.material('dev-backend', 'audit') });
    const events = Array.from({ length: 25 }, (_, i) =>
      auditEventV1.AuditEvent.fromPartial({
        eventId: `e2e-cli-${Date.now()}-${i}`,
        occurredAt: new Date(),
        service: auditEventV1.Service.SERVICE_PRODUCT_BACKEND,
        action: auditEventV1.Action.ACTION_PRODUCT_BACKEND_EMPLOYEE_ACCESS,
        outcome: auditEventV1.Outcome.OUTCOME_SUCCESS,
        actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_EMPLOYEE, id: 'acc-e2e', displayName: 'e2e@example.com' },
        customerDomain: 'bank.example',
      }),
    );
    await call(client, client.append, { events });
    client.close();

    const q = cli(['audit', 'query', '--actor', 'acc-e2e', '--limit', '5']);
    assert.equal(q.status, 0, q.stderr);
    assert.equal(q.stdout.trim().split('\n').length, 5);
    assert.match(q.stdout, /product_backend_employee_access\s+success\s+actor=acc-e2e/);
    const denied = cli(['audit', 'query'], ['developer']);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /requires one of the roles security_officer, manager/);

    const exp = cli(['audit', 'export']);
    assert.equal(exp.status, 0, exp.stderr);
    const file = path.join(sessionDir, 'audit.ndjson');
    fs.writeFileSync(file, exp.stdout);
    const keys = cli(['audit', 'keys']);
    assert.equal(keys.status, 0, keys.stderr);
    const publicKey = keys.stdout.trim().split(/\s+/).pop() ?? '';

    const ok = cli(['audit', 'verify', file, '--public-key', publicKey]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    // The log holds our 25 events plus what the running services logged themselves (identity's key rotation).
    const verified = /^OK: (\d+) entries, tree size (\d+), \d+ checkpoint\(s\) verified/.exec(ok.stdout);
    assert.ok(verified, ok.stdout);
    assert.equal(verified[1], verified[2]);
    assert.ok(Number(verified[1]) >= 25);

    const lines = exp.stdout.trim().split('\n');
    const victim = lines.findIndex((l) => l.includes('"entry"') && Number(JSON.parse(l).entry.sequence) === 12);
    fs.writeFileSync(file, `${lines.filter((_, i) => i !== victim).join('\n')}\n`);
    const bad = cli(['audit', 'verify', file, '--public-key', publicKey]);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /^BAD: deleted at sequence 12/);

    const noKey = cli(['audit', 'verify', file]);
    assert.equal(noKey.status, 2);
    assert.match(noKey.stderr, /--public-key is required/);
  });

  test('alerts list works for a manager and ack is refused to a manager', () => {
    const list = cli(['alerts', 'list'], ['manager']);
    assert.equal(list.status, 0, list.stderr);
    const ack = cli(['alerts', 'ack', '0123456789abcdef0123456789abcdef', '--note', 'x'], ['manager']);
    assert.notEqual(ack.status, 0);
    assert.match(ack.stderr, /requires one of the roles security_officer/);
  });
});
