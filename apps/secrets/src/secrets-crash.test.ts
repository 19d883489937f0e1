import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, SecretsServiceClient, secretsV1 } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { call, dial } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { BACKENDS, backendEnv, startSecrets, TEST_PASSPHRASE, type SecretsHarness } from './test-support/harness.js';

const S = secretsV1;
const LIVE = commonV1.Environment.ENVIRONMENT_LIVE;
const MAIN = path.join(import.meta.dirname, 'main.ts');

async function clientOn(h: SecretsHarness, port: number, cert: string): Promise<SecretsServiceClient> {
  const tls = await loadTlsMaterial(h.env['GATEHOUSE_TLS_DIR'] ?? '', cert);
  return dial(SecretsServiceClient, `127.0.0.1:${port}`, { mode: 'mtls', material: { ...tls, expectedServerName: 'secrets' } });
}

/** Starts the process and unseals it (an operator's job on every replica); returns a deployer's client. */
async function startProcess(h: SecretsHarness): Promise<{ child: ChildProcess; client: SecretsServiceClient }> {
  // Port 0 and the ready file (as launchers do): no race for a port picked in advance.
  const ready = path.join(h.dir, `ready-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, ...h.env, GATEHOUSE_PORT: '0', GATEHOUSE_READY_FILE: ready, GATEHOUSE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(ready)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the secrets process did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const { port } = JSON.parse(fs.readFileSync(ready, 'utf8')) as { port: number };
  const client = await clientOn(h, port, 'deployer');
  for (;;) {
    try {
      await call(client, client.sealStatus, {}, { deadlineMs: 1000 });
      const operator = await clientOn(h, port, 'cli');
      await call(operator, operator.unseal, { passphrase: TEST_PASSPHRASE });
      operator.close();
      return { child, client };
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('the secrets process did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

for (const backend of BACKENDS) {
  describe(`secrets on ${backend}: a crash after the redemption committed`, () => {
    test('the process dies between the compare-and-set and the reply: the bundle never goes out twice', async (t) => {
      const env = await backendEnv(backend, (why) => t.skip(why));
      if (!env) return;
      const h = await startSecrets(env);
      const children: ChildProcess[] = [];
      try {
        const cli = await h.client('cli');
        await call(cli, cli.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: 0 } });
        await call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE });
        const manager = h.token({ roles: ['manager'] });
        await call(cli, cli.putSecret, { environment: LIVE, app: 'payments', name: 'DB_PASSWORD', value: Buffer.from('crash-canary') }, { bearer: manager });
        const rel = await call(cli, cli.createRelease, S.CreateReleaseRequest.fromPartial({ environment: LIVE, app: 'payments', deploymentRef: 'c-crash' }), { bearer: manager });
        const releaseId = rel.release?.releaseId ?? '';
        const officer = h.token({ roles: ['security_officer'] });
        const stateOf = async () => (await call(cli, cli.getRelease, { releaseId }, { bearer: officer })).release?.state;

        // A second replica as a real process, so it can really die.
        const first = await startProcess(h);
        children.push(first.child);

        // Audit holds the confirmation: the redemption has committed, the reply has not gone out.
        h.audit.hang(true);
        const inFlight = refused(call(first.client, first.client.redeemRelease, { releaseToken: rel.releaseToken }));
        const deadline = Date.now() + 10_000;
        while ((await stateOf()) !== S.ReleaseState.RELEASE_STATE_REDEEMED) {
          assert.ok(Date.now() < deadline, 'the redemption committed');
          await new Promise((r) => setTimeout(r, 20));
        }
        first.child.kill('SIGKILL');
        const lost = await inFlight;
        assert.equal(lost.code, grpc.status.UNAVAILABLE, 'the caller got no bundle');
        first.client.close();
        h.audit.hang(false);

        // After the crash: the release stays REDEEMED; no replica, old or new, releases it again.
        assert.equal(await stateOf(), S.ReleaseState.RELEASE_STATE_REDEEMED);
        const deployer = await h.client('deployer');
        const again = await refused(call(deployer, deployer.redeemRelease, { releaseToken: rel.releaseToken }));
        assert.equal(again.code, grpc.status.FAILED_PRECONDITION);
        assert.match(again.details, /already redeemed/);
        const second = await startProcess(h);
        children.push(second.child);
        const afterRestart = await refused(call(second.client, second.client.redeemRelease, { releaseToken: rel.releaseToken }));
        assert.equal(afterRestart.code, grpc.status.FAILED_PRECONDITION);
        second.client.close();

        await h.drainAudit();
        const forRelease = h.events.filter((e) => e.subject?.id === releaseId);
        // Audit had the intent in hand when the process died: it records that one redemption was attempted, and no bundle left (issue 13 item 6).
        const redeems = forRelease.filter((e) => e.action === auditEventV1.Action.ACTION_SECRETS_RELEASE_REDEEM);
        assert.deepEqual(redeems.map((e) => e.outcome), [auditEventV1.Outcome.OUTCOME_ATTEMPTED], 'one attempted redemption, and nothing claims it succeeded');
        assert.ok(forRelease.filter((e) => e.action === auditEventV1.Action.ACTION_SECRETS_RELEASE_REDEEM_REFUSED).length >= 1);
      } finally {
        h.audit.hang(false);
        for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
        await h.stop();
      }
    });
  });
}
