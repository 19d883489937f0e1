import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AuditServiceClient, auditEventV1, auditV1, commonV1, secretsV1 } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { call, dial } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { startSecrets, TEST_PASSPHRASE } from './test-support/harness.js';

const S = secretsV1;
const A = auditEventV1.Action;
const O = auditEventV1.Outcome;
const AUDIT_MAIN = path.resolve(import.meta.dirname, '../../audit/src/main.ts');

/** The real audit service as its own process (so it can be stopped with SIGSTOP), on the harness's PKI. */
async function startAuditProcess(env: Record<string, string>, dir: string): Promise<{ child: ChildProcess; address: string }> {
  const ready = path.join(dir, 'audit-ready.json');
  const child = spawn(process.execPath, ['--import', 'tsx', AUDIT_MAIN], {
    env: {
      ...process.env,
      GATEHOUSE_PORT: '0',
      GATEHOUSE_READY_FILE: ready,
      GATEHOUSE_DATA_DIR: path.join(dir, 'audit-data'),
      GATEHOUSE_TLS_DIR: env['GATEHOUSE_TLS_DIR'],
      GATEHOUSE_SESSION_KEYS_FILE: env['GATEHOUSE_SESSION_KEYS_FILE'],
      GATEHOUSE_IDENTITY_ADDR: env['GATEHOUSE_IDENTITY_ADDR'],
      GATEHOUSE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(ready)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the audit process did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const { port } = JSON.parse(fs.readFileSync(ready, 'utf8')) as { port: number };
  return { child, address: `127.0.0.1:${port}` };
}

/**
 * Issue 13 item 6 exactly as the outside test found it: the real secrets service ships to a real
 * audit process that is stopped (SIGSTOP) while a redemption waits for its confirmation, then
 * continued (SIGCONT), so the Append it had already received lands late. The log must then hold
 * only the attempted intent (and the outcome saying it was not performed), never REDEEM success.
 */
describe('secrets against a real audit process stopped with SIGSTOP', () => {
  test('item 6: RedeemRelease fails closed, and after SIGCONT the log says "attempted", not success; the release stays READY', { timeout: 90_000 }, async () => {
    const h = await startSecrets();
    let audit: { child: ChildProcess; address: string } | undefined;
    let reader: AuditServiceClient | undefined;
    try {
      audit = await startAuditProcess(h.env, h.dir);
      await h.restart(0, { GATEHOUSE_AUDIT_ADDR: audit.address });
      const cli = await h.client('cli');
      const deployer = await h.client('deployer');
      const manager = h.token({ roles: ['manager'], accountId: 'acc-manager', email: 'manager@example.com' });
      await call(cli, cli.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: S.KeyDerivation.KEY_DERIVATION_UNSPECIFIED } });
      await call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE });
      await call(cli, cli.putSecret, S.PutSecretRequest.fromPartial({ environment: commonV1.Environment.ENVIRONMENT_LIVE, app: 'stopped', name: 'DB_PASSWORD', value: Buffer.from('sigstop-pw') }), { bearer: manager });
      const rel = await call(cli, cli.createRelease, S.CreateReleaseRequest.fromPartial({ environment: commonV1.Environment.ENVIRONMENT_LIVE, app: 'stopped', deploymentRef: 'c-1' }), { bearer: manager });
      const releaseId = rel.release?.releaseId ?? '';
      await h.drainAudit();

      audit.child.kill('SIGSTOP');
      const t0 = Date.now();
      let r: { code: grpc.status; details: string };
      try {
        r = await refused(call(deployer, deployer.redeemRelease, { releaseToken: rel.releaseToken }));
      } finally {
        audit.child.kill('SIGCONT');
      }
      assert.equal(r.code, grpc.status.UNAVAILABLE);
      assert.match(r.details, /audit/);
      assert.ok(Date.now() - t0 >= 4_500, `it waited for the confirm timeout (${Date.now() - t0} ms)`);
      const officer = h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'officer@example.com' });
      assert.equal((await call(cli, cli.getRelease, { releaseId }, { bearer: officer })).release?.state, S.ReleaseState.RELEASE_STATE_READY, 'never redeemed');

      // The Append audit held while stopped lands now; the outbox ships the rest.
      await h.drainAudit();
      reader = dial(AuditServiceClient, audit.address, { mode: 'mtls', material: { ...(await loadTlsMaterial(h.env['GATEHOUSE_TLS_DIR'] ?? '', 'cli')), expectedServerName: 'audit' } });
      const query = async () =>
        (await call(reader!, reader!.query, auditV1.QueryRequest.fromPartial({ filter: { subjectId: releaseId, actions: [A.ACTION_SECRETS_RELEASE_REDEEM] } }), { bearer: h.sessions.token({ now: h.clock.now(), roles: ['security_officer'] }) })).entries;
      let redeems = await query();
      for (let i = 0; i < 100 && redeems.length < 2; i++) {
        await new Promise((res) => setTimeout(res, 100));
        redeems = await query();
      }
      const outcomes = redeems.map((e) => auditEventV1.outcomeToJSON(e.event?.outcome ?? 0));
      assert.deepEqual(outcomes, ['OUTCOME_ATTEMPTED', 'OUTCOME_ERROR'], 'the late intent reads attempted, then: not performed');
      assert.equal(redeems[1]?.event?.intentEventId, redeems[0]?.event?.eventId);
      assert.ok(!redeems.some((e) => e.event?.outcome === O.OUTCOME_SUCCESS), 'nothing claims the redemption');

      // And with audit running again, the redemption works and is logged as intent then success.
      const b = await call(deployer, deployer.redeemRelease, { releaseToken: rel.releaseToken });
      assert.equal(Buffer.from(b.secrets[0]!.value).toString(), 'sigstop-pw');
      await h.drainAudit();
      const after = (await query()).map((e) => auditEventV1.outcomeToJSON(e.event?.outcome ?? 0));
      assert.deepEqual(after, ['OUTCOME_ATTEMPTED', 'OUTCOME_ERROR', 'OUTCOME_ATTEMPTED', 'OUTCOME_SUCCESS']);
    } finally {
      reader?.close();
      if (audit && audit.child.exitCode === null) {
        audit.child.kill('SIGCONT');
        audit.child.kill('SIGTERM');
      }
      await h.stop();
    }
  });
});
