import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, secretsV1, type SecretsServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { answeredTooLate } from '@gatehouse/testing';
import { BACKENDS, backendEnv, startSecrets, TEST_PASSPHRASE, type SecretsHarness } from './test-support/harness.js';

const S = secretsV1;
const A = auditEventV1.Action;
const O = auditEventV1.Outcome;
const LIVE = commonV1.Environment.ENVIRONMENT_LIVE;
const appName = (base: string) => `${base}-${randomBytes(3).toString('hex')}`;
const outcomeName = (e: auditEventV1.AuditEvent) => auditEventV1.outcomeToJSON(e.outcome);

/**
 * Issue 13 items 6 and 9, from outside: the real secrets service over mTLS, and an audit double
 * that receives the Append but answers only after the confirm timeout (then stores the event),
 * as a SIGSTOPped then SIGCONTinued audit does.
 */
for (const backend of BACKENDS) {
  describe(`secrets on ${backend}: an audit event says only what happened`, () => {
    let h: SecretsHarness;
    let cli: SecretsServiceClient;
    let deployer: SecretsServiceClient;
    let skipped: string | undefined;
    const manager = () => h.token({ roles: ['manager'], accountId: 'acc-manager', email: 'manager@example.com' });
    const teamLead = () => h.token({ roles: ['team_lead'], accountId: 'acc-lead', email: 'lead@example.com' });
    const officer = () => h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'officer@example.com' });
    const put = (app: string) => call(cli, cli.putSecret, S.PutSecretRequest.fromPartial({ environment: LIVE, app, name: 'DB_PASSWORD', value: Buffer.from('truth-pw') }), { bearer: manager() });
    const create = (app: string) => call(cli, cli.createRelease, S.CreateReleaseRequest.fromPartial({ environment: LIVE, app, deploymentRef: 'commit-9' }), { bearer: manager() });
    const approve = (releaseId: string) => call(cli, cli.approveRelease, { releaseId, note: 'checked' }, { bearer: teamLead() });
    const redeem = (token: string) => call(deployer, deployer.redeemRelease, { releaseToken: token });
    const getRelease = async (releaseId: string) => (await call(cli, cli.getRelease, { releaseId }, { bearer: officer() })).release;
    const eventsFor = (releaseId: string, action: auditEventV1.Action) => h.events.filter((e) => e.subject?.id === releaseId && e.action === action);

    /** Audit holds the Append past the confirm timeout, then answers (and stores it). */
    const lateAnswer = (fn: () => Promise<unknown>, landed: () => boolean) => answeredTooLate((on) => h.audit.hang(on), () => h.drainAudit(), fn, landed);

    before(async () => {
      const env = await backendEnv(backend, (why) => (skipped = why));
      if (!env) return;
      h = await startSecrets({ ...env, GATEHOUSE_SECRETS_LIVE_APPROVALS: '1' });
      cli = await h.client('cli');
      deployer = await h.client('deployer');
      await call(cli, cli.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: S.KeyDerivation.KEY_DERIVATION_UNSPECIFIED } });
      await call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE });
    });
    after(async () => {
      await h?.stop();
    });
    const live = (t: { skip(msg?: string): void }) => {
      if (skipped) t.skip(skipped);
      return !skipped;
    };

    test('item 6: approve and redeem that audit confirmed too late fail closed, and the late event reads "attempted", never success', async (t) => {
      if (!live(t)) return;
      const app = appName('late');
      await put(app);
      const rel = await create(app);
      const id = rel.release?.releaseId ?? '';
      assert.equal(rel.release?.state, S.ReleaseState.RELEASE_STATE_PENDING_APPROVAL);

      const lateApprove = await lateAnswer(() => approve(id), () => eventsFor(id, A.ACTION_SECRETS_RELEASE_APPROVE).length > 0);
      assert.equal(lateApprove.code, grpc.status.UNAVAILABLE);
      assert.match(lateApprove.details, /audit/);
      const pending = await getRelease(id);
      assert.equal(pending?.state, S.ReleaseState.RELEASE_STATE_PENDING_APPROVAL, 'still pending');
      assert.equal(pending?.approvals.length, 0, 'no approval happened');
      const approvals = eventsFor(id, A.ACTION_SECRETS_RELEASE_APPROVE);
      assert.ok(approvals.length > 0, 'the late Append landed');
      assert.deepEqual(approvals.filter((e) => e.outcome === O.OUTCOME_SUCCESS).map(outcomeName), [], 'nothing claims the approval happened');
      assert.ok(approvals.some((e) => e.outcome === O.OUTCOME_ATTEMPTED), 'the intent reads attempted');

      assert.equal((await approve(id)).release?.state, S.ReleaseState.RELEASE_STATE_READY);

      const lateRedeem = await lateAnswer(() => redeem(rel.releaseToken), () => eventsFor(id, A.ACTION_SECRETS_RELEASE_REDEEM).length > 0);
      assert.equal(lateRedeem.code, grpc.status.UNAVAILABLE);
      assert.ok(!lateRedeem.details.includes('truth-pw'));
      assert.equal((await getRelease(id))?.state, S.ReleaseState.RELEASE_STATE_READY, 'never redeemed');
      const redeems = eventsFor(id, A.ACTION_SECRETS_RELEASE_REDEEM);
      assert.ok(redeems.length > 0, 'the late Append landed');
      assert.deepEqual(redeems.filter((e) => e.outcome === O.OUTCOME_SUCCESS).map(outcomeName), [], 'nothing claims the redemption happened');
      assert.ok(redeems.some((e) => e.outcome === O.OUTCOME_ATTEMPTED));

      // The normal path: a confirmed intent, then the success outcome naming it.
      const b = await redeem(rel.releaseToken);
      assert.equal(Buffer.from(b.secrets[0]!.value).toString(), 'truth-pw');
      await h.drainAudit();
      for (const action of [A.ACTION_SECRETS_RELEASE_APPROVE, A.ACTION_SECRETS_RELEASE_REDEEM]) {
        const all = eventsFor(id, action);
        const successes = all.filter((e) => e.outcome === O.OUTCOME_SUCCESS);
        assert.equal(successes.length, 1, `one ${auditEventV1.actionToJSON(action)} success`);
        const intent = all.find((e) => e.eventId === successes[0]!.intentEventId);
        assert.ok(intent, 'the outcome names its intent');
        assert.equal(intent.outcome, O.OUTCOME_ATTEMPTED);
        assert.equal(intent.intentEventId, '', 'an intent links to nothing');
        assert.ok(h.events.indexOf(intent) < h.events.indexOf(successes[0]!), 'the intent is logged before its outcome');
      }
    });

    test('item 9: a CREATE queued while audit was down is sequenced before the APPROVE and REDEEM that followed it; events carry occurred_at and a causal counter', async (t) => {
      if (!live(t)) return;
      const app = appName('order');
      await put(app);
      await h.drainAudit();
      const failing = h.audit.fail(true);
      let rel: secretsV1.CreateReleaseResponse;
      try {
        rel = await create(app);
      } finally {
        h.audit.fail(failing);
      }
      const id = rel.release?.releaseId ?? '';
      await approve(id);
      h.clock.advance(1_000);
      await redeem(rel.releaseToken);
      h.clock.advance(60_000); // any back-off the queued CREATE waits for is over
      await h.drainAudit();

      // What happened, in causal order: created, approved, redeemed.
      const happened = [A.ACTION_SECRETS_RELEASE_CREATE, A.ACTION_SECRETS_RELEASE_APPROVE, A.ACTION_SECRETS_RELEASE_REDEEM].map((a) => {
        const [e, ...more] = eventsFor(id, a).filter((x) => x.outcome === O.OUTCOME_SUCCESS);
        assert.ok(e && more.length === 0, `one ${auditEventV1.actionToJSON(a)} success`);
        return e;
      });
      const order = happened.map((e) => h.events.indexOf(e));
      assert.deepEqual([...order].sort((a, b) => a - b), order, `audit's sequence follows causal order: CREATE, APPROVE, REDEEM at sequences ${order.join(', ')}`);
      const happenedCounters = happened.map((e) => e.causalCounter);
      assert.ok(happenedCounters.every((c, i) => c > 0 && (i === 0 || c > happenedCounters[i - 1]!)), `causal counters strictly increase (${happenedCounters.join(', ')})`);

      const chain = [
        ...eventsFor(id, A.ACTION_SECRETS_RELEASE_CREATE),
        ...eventsFor(id, A.ACTION_SECRETS_RELEASE_APPROVE),
        ...eventsFor(id, A.ACTION_SECRETS_RELEASE_REDEEM),
      ];
      const label = (e: auditEventV1.AuditEvent) => `${auditEventV1.actionToJSON(e.action)}/${outcomeName(e)}`;
      assert.deepEqual(chain.map(label), [
        'ACTION_SECRETS_RELEASE_CREATE/OUTCOME_SUCCESS',
        'ACTION_SECRETS_RELEASE_APPROVE/OUTCOME_ATTEMPTED',
        'ACTION_SECRETS_RELEASE_APPROVE/OUTCOME_SUCCESS',
        'ACTION_SECRETS_RELEASE_REDEEM/OUTCOME_ATTEMPTED',
        'ACTION_SECRETS_RELEASE_REDEEM/OUTCOME_SUCCESS',
      ]);
      const seqs = chain.map((e) => h.events.indexOf(e));
      assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, `audit's sequence follows causal order (${seqs.join(', ')})`);
      const counters = chain.map((e) => e.causalCounter);
      assert.ok(counters.every((c, i) => c > 0 && (i === 0 || c > counters[i - 1]!)), `causal counters strictly increase (${counters.join(', ')})`);
      const times = chain.map((e) => e.occurredAt?.getTime() ?? 0);
      assert.ok(times.every((x, i) => i === 0 || x >= times[i - 1]!), 'occurred_at never goes back along the chain');
      assert.equal(times[0], rel.release?.createdAt?.getTime(), 'CREATE occurred when the release was created');
      assert.ok(times[4]! >= ((await getRelease(id))?.redeemedAt?.getTime() ?? Infinity), 'REDEEM success occurred once the release was redeemed, not before');
      assert.ok(times[4]! > times[0]!);
    });

    test('item 6: an unseal audit confirmed too late leaves the service sealed, and the log says attempted', async (t) => {
      if (!live(t)) return;
      await call(cli, cli.seal, { reason: 'truth test' });
      const from = h.events.length;
      const unseals = () => h.events.slice(from).filter((e) => e.action === A.ACTION_SECRETS_UNSEAL);
      const late = await lateAnswer(() => call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE }), () => unseals().length > 0);
      assert.equal(late.code, grpc.status.UNAVAILABLE);
      assert.equal((await call(cli, cli.sealStatus, {})).seal?.state, S.SealState.SEAL_STATE_SEALED, 'still sealed');
      assert.ok(unseals().length > 0, 'the late Append landed');
      assert.deepEqual(unseals().filter((e) => e.outcome === O.OUTCOME_SUCCESS && e.details['unsealed'] === 'true').map(outcomeName), [], 'nothing claims the unseal');
      assert.ok(unseals().some((e) => e.outcome === O.OUTCOME_ATTEMPTED));
      assert.equal((await call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE })).seal?.state, S.SealState.SEAL_STATE_UNSEALED);
      await h.drainAudit();
      const done = unseals().filter((e) => e.outcome === O.OUTCOME_SUCCESS && e.details['unsealed'] === 'true');
      assert.equal(done.length, 1);
      assert.equal(unseals().find((e) => e.eventId === done[0]!.intentEventId)?.outcome, O.OUTCOME_ATTEMPTED);
    });
  });
}
