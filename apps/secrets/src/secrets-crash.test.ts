import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { MongoOutboxRepository, SqliteOutboxRepository } from '@gatehouse/audit-client';
import { auditEventV1, commonV1, secretsV1, type SecretsServiceClient } from '@gatehouse/contracts';
import type { HostedService } from '@gatehouse/service-host';
import { call } from '@gatehouse/service-kit';
import { assertBothOrNeither, refused, type ChildReplica } from '@gatehouse/testing';
import { BACKENDS, backendEnv, startSecrets, TEST_PASSPHRASE, type SecretsHarness } from './test-support/harness.js';

const S = secretsV1;
const A = auditEventV1.Action;
const O = auditEventV1.Outcome;
const LIVE = commonV1.Environment.ENVIRONMENT_LIVE;
const STAGING = commonV1.Environment.ENVIRONMENT_STAGING;
const SPEC = { file: 'apps/secrets/src/service.ts', exportName: 'secretsService' };

/** Every kill point of a use case: after each of its writes, then before and after the commit (issue 14 item 5). */
const POINTS = {
  'redeem-release': ['redeem', 'before-commit', 'after-commit'],
  'put-secret': ['version', 'before-commit', 'after-commit'],
  'create-release': ['create', 'before-commit', 'after-commit'],
  'approve-release': ['approve', 'before-commit', 'after-commit'],
} as const;
type UseCase = keyof typeof POINTS;

/** A child replica (a real process, so it can really die) armed at `point`, unsealed as an operator does on every replica. */
async function armedReplica(h: SecretsHarness, point: string | undefined): Promise<ChildReplica<SecretsServiceClient>> {
  const replica = await h.spawnReplica(SPEC, point ? { GATEHOUSE_TEST_FAULT_POINT: point } : {});
  const operator = await replica.client('cli');
  await call(operator, operator.unseal, { passphrase: TEST_PASSPHRASE });
  operator.close();
  return replica;
}

/**
 * Kills a child replica at `secrets.<useCase>.<step>` during the call `act` makes to it, then
 * reads what survived through the in-process replica (which ships whatever the outbox holds):
 * the state change and its audit event must both be there or neither (issue 14 item 5).
 */
async function crashAt(
  h: SecretsHarness,
  backend: string,
  useCase: UseCase,
  step: string,
  act: (child: ChildReplica<SecretsServiceClient>) => Promise<unknown>,
  found: () => Promise<{ state: boolean; event: boolean }>,
): Promise<{ state: boolean; event: boolean }> {
  const point = `secrets.${useCase}.${step}`;
  const replica = await armedReplica(h, point);
  try {
    const lost = await refused(act(replica));
    assert.equal(lost.code, grpc.status.UNAVAILABLE, `${point}: the caller heard nothing (the process died)`);
    const { signal } = await replica.exited;
    assert.equal(signal, 'SIGKILL', `${point}: the replica died at the point`);
  } finally {
    await replica.kill();
  }
  await h.drainAudit();
  const seen = await found();
  assertBothOrNeither({ useCase, point, backend }, seen);
  return seen;
}

/** Outbox rows not yet shipped, over the store every replica shares. */
function pendingEvents(h: SecretsHarness): Promise<number> {
  const r = h.replicas[0] as HostedService;
  return (r.store.backend === 'sqlite' ? new SqliteOutboxRepository(r.store.store) : new MongoOutboxRepository(r.store.store)).countPending();
}

for (const backend of BACKENDS) {
  describe(`secrets crash test on ${backend}: a change and its audit event survive together or not at all`, () => {
    test('RedeemRelease, PutSecret, CreateRelease and ApproveRelease killed at every write, before and after the commit', { timeout: 600_000 }, async (t) => {
      const env = await backendEnv(backend, (why) => t.skip(why));
      if (!env) return;
      // STAGING releases need one approval (the approve cases); LIVE ones none (the redeem cases).
      const h = await startSecrets({ ...env, GATEHOUSE_SECRETS_STAGING_APPROVALS: '1' });
      try {
        const cli = await h.client('cli');
        await call(cli, cli.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: 0 } });
        await call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE });
        const manager = () => h.token({ roles: ['manager'], accountId: 'acc-manager', email: 'manager@bank.example' });
        const teamLead = () => h.token({ roles: ['team_lead'], accountId: 'acc-lead', email: 'lead@bank.example' });
        const officer = () => h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'officer@bank.example' });
        const deadlineMs = 20_000;
        const getRelease = async (releaseId: string) => (await call(cli, cli.getRelease, { releaseId }, { bearer: officer() })).release;
        const eventsOf = (action: auditEventV1.Action, match: (e: auditEventV1.AuditEvent) => boolean) => h.events.filter((e) => e.action === action && match(e));
        const deployer = await h.client('deployer');
        await call(cli, cli.putSecret, { environment: LIVE, app: 'payments', name: 'DB_PASSWORD', value: Buffer.from('crash-canary') }, { bearer: manager() });
        await call(cli, cli.putSecret, { environment: STAGING, app: 'payments', name: 'DB_PASSWORD', value: Buffer.from('crash-canary') }, { bearer: manager() });
        const newRelease = async (environment = LIVE, ref = `c-${Math.random().toString(36).slice(2)}`) =>
          call(cli, cli.createRelease, S.CreateReleaseRequest.fromPartial({ environment, app: 'payments', deploymentRef: ref }), { bearer: manager() });

        // RedeemRelease: REDEEMED exactly when its REDEEM outcome is in the log (the outside test once found one without).
        for (const step of POINTS['redeem-release']) {
          const rel = await newRelease();
          const releaseId = rel.release?.releaseId ?? '';
          const redeemEvent = (outcome: auditEventV1.Outcome) => eventsOf(A.ACTION_SECRETS_RELEASE_REDEEM, (e) => e.subject?.id === releaseId && e.outcome === outcome);
          const seen = await crashAt(
            h,
            backend,
            'redeem-release',
            step,
            async (child) => {
              const c = await child.client('deployer');
              try {
                return await call(c, c.redeemRelease, { releaseToken: rel.releaseToken }, { deadlineMs });
              } finally {
                c.close();
              }
            },
            async () => ({ state: (await getRelease(releaseId))?.state === S.ReleaseState.RELEASE_STATE_REDEEMED, event: redeemEvent(O.OUTCOME_SUCCESS).length > 0 }),
          );
          assert.equal(redeemEvent(O.OUTCOME_ATTEMPTED).length, 1, 'audit confirmed the intent before the compare-and-set');
          if (seen.state) {
            // Killed after the commit, before the reply: it stays REDEEMED and no replica releases it again.
            const again = await refused(call(deployer, deployer.redeemRelease, { releaseToken: rel.releaseToken }));
            assert.equal(again.code, grpc.status.FAILED_PRECONDITION);
            assert.match(again.details, /already redeemed/);
            assert.equal(redeemEvent(O.OUTCOME_SUCCESS).length, 1, 'one redemption in the log');
          } else {
            // Nothing committed, nothing left: the release is still READY, and redeems once.
            assert.equal((await getRelease(releaseId))?.state, S.ReleaseState.RELEASE_STATE_READY);
            const bundle = await call(deployer, deployer.redeemRelease, { releaseToken: rel.releaseToken });
            assert.equal(Buffer.from(bundle.secrets[0]?.value ?? []).toString(), 'crash-canary');
            await h.drainAudit();
            assert.equal(redeemEvent(O.OUTCOME_SUCCESS).length, 1, 'the one redemption that happened, logged');
          }
        }

        // PutSecret: the new version exists exactly when its SECRET_PUT event does.
        for (const step of POINTS['put-secret']) {
          const name = `CRASH_${step.toUpperCase().replace('-', '_')}`;
          await crashAt(
            h,
            backend,
            'put-secret',
            step,
            async (child) => {
              const c = await child.client('cli');
              try {
                return await call(c, c.putSecret, { environment: LIVE, app: 'payments', name, value: Buffer.from('put-canary') }, { bearer: manager(), deadlineMs });
              } finally {
                c.close();
              }
            },
            async () => {
              const list = await call(cli, cli.listSecrets, S.ListSecretsRequest.fromPartial({ environment: LIVE, app: 'payments' }), { bearer: officer() });
              return {
                state: list.secrets.some((s) => s.name === name),
                event: eventsOf(A.ACTION_SECRETS_SECRET_PUT, (e) => e.subject?.id === `live:payments:${name}`).length > 0,
              };
            },
          );
        }

        // CreateRelease: the release exists exactly when its RELEASE_CREATE event does.
        for (const step of POINTS['create-release']) {
          const ref = `create-crash-${step}`;
          await crashAt(
            h,
            backend,
            'create-release',
            step,
            async (child) => {
              const c = await child.client('cli');
              try {
                return await call(c, c.createRelease, S.CreateReleaseRequest.fromPartial({ environment: LIVE, app: 'payments', deploymentRef: ref }), { bearer: manager(), deadlineMs });
              } finally {
                c.close();
              }
            },
            async () => {
              const list = await call(cli, cli.listReleases, S.ListReleasesRequest.fromPartial({ app: 'payments', deploymentRef: ref }), { bearer: officer() });
              return {
                state: list.releases.length > 0,
                event: eventsOf(A.ACTION_SECRETS_RELEASE_CREATE, (e) => e.details['deployment_ref'] === ref).length > 0,
              };
            },
          );
        }

        // ApproveRelease: the approval is stored exactly when its APPROVE outcome is logged.
        for (const step of POINTS['approve-release']) {
          const rel = await newRelease(STAGING);
          const releaseId = rel.release?.releaseId ?? '';
          assert.equal(rel.release?.state, S.ReleaseState.RELEASE_STATE_PENDING_APPROVAL);
          await crashAt(
            h,
            backend,
            'approve-release',
            step,
            async (child) => {
              const c = await child.client('cli');
              try {
                return await call(c, c.approveRelease, { releaseId, note: `crash at ${step}` }, { bearer: teamLead(), deadlineMs });
              } finally {
                c.close();
              }
            },
            async () => {
              const r = await getRelease(releaseId);
              return {
                state: (r?.approvals.length ?? 0) > 0 && r?.state === S.ReleaseState.RELEASE_STATE_READY,
                event: eventsOf(A.ACTION_SECRETS_RELEASE_APPROVE, (e) => e.subject?.id === releaseId && e.outcome === O.OUTCOME_SUCCESS).length > 0,
              };
            },
          );
        }
      } finally {
        await h.stop();
      }
    });

    test('a process killed while audit holds the redemption intent: nothing was redeemed, and the release redeems once afterwards', { timeout: 120_000 }, async (t) => {
      const env = await backendEnv(backend, (why) => t.skip(why));
      if (!env) return;
      const h = await startSecrets(env);
      try {
        const cli = await h.client('cli');
        await call(cli, cli.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: 0 } });
        await call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE });
        const manager = h.token({ roles: ['manager'] });
        const officer = h.token({ roles: ['security_officer'] });
        await call(cli, cli.putSecret, { environment: LIVE, app: 'payments', name: 'DB_PASSWORD', value: Buffer.from('crash-canary') }, { bearer: manager });
        const rel = await call(cli, cli.createRelease, S.CreateReleaseRequest.fromPartial({ environment: LIVE, app: 'payments', deploymentRef: 'c-crash' }), { bearer: manager });
        const releaseId = rel.release?.releaseId ?? '';
        await h.drainAudit();

        const replica = await armedReplica(h, undefined);
        const child = await replica.client('deployer');
        await h.drainAudit(); // the unseal's events shipped: the next queued event is the intent
        // Audit holds the confirmation: the intent is queued, the compare-and-set has not run.
        h.audit.hang(true);
        const inFlight = refused(call(child, child.redeemRelease, { releaseToken: rel.releaseToken }));
        const deadline = Date.now() + 10_000;
        while ((await pendingEvents(h)) === 0) {
          assert.ok(Date.now() < deadline, 'the intent was queued');
          await new Promise((r) => setTimeout(r, 20));
        }
        await replica.kill();
        assert.equal((await inFlight).code, grpc.status.UNAVAILABLE, 'the caller got no bundle');
        child.close();
        h.audit.hang(false);

        const deployer = await h.client('deployer');
        const stateOf = async () => (await call(cli, cli.getRelease, { releaseId }, { bearer: officer })).release?.state;
        assert.equal(await stateOf(), S.ReleaseState.RELEASE_STATE_READY, 'nothing was redeemed');
        const bundle = await call(deployer, deployer.redeemRelease, { releaseToken: rel.releaseToken });
        assert.equal(Buffer.from(bundle.secrets[0]?.value ?? []).toString(), 'crash-canary');
        const again = await refused(call(deployer, deployer.redeemRelease, { releaseToken: rel.releaseToken }));
        assert.equal(again.code, grpc.status.FAILED_PRECONDITION);
        assert.match(again.details, /already redeemed/);

        await h.drainAudit();
        const redeems = h.events.filter((e) => e.subject?.id === releaseId && e.action === A.ACTION_SECRETS_RELEASE_REDEEM);
        // The dead process's intent says only "attempted"; the redemption that happened has its own intent and outcome.
        assert.deepEqual(redeems.map((e) => e.outcome).sort(), [O.OUTCOME_ATTEMPTED, O.OUTCOME_ATTEMPTED, O.OUTCOME_SUCCESS].sort());
        const success = redeems.find((e) => e.outcome === O.OUTCOME_SUCCESS);
        assert.ok(redeems.some((e) => e.eventId === success?.intentEventId && e.outcome === O.OUTCOME_ATTEMPTED), 'the success names its own intent');
        assert.equal(redeems.filter((e) => e.outcome === O.OUTCOME_SUCCESS).length, 1, 'one redemption');
        assert.ok(h.events.filter((e) => e.subject?.id === releaseId && e.action === A.ACTION_SECRETS_RELEASE_REDEEM_REFUSED).length >= 1);
      } finally {
        h.audit.hang(false);
        await h.stop();
      }
    });
  });
}
