import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, secretsV1, type SecretsServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { BACKENDS, backendEnv, startSecrets, TEST_PASSPHRASE, type SecretsHarness } from './test-support/harness.js';

const S = secretsV1;
const LIVE = commonV1.Environment.ENVIRONMENT_LIVE;
const STAGING = commonV1.Environment.ENVIRONMENT_STAGING;
const A = auditEventV1.Action;
const MIN = 60_000;

/** A fresh app name per test: suites on MongoDB share one database per harness. */
const appName = (base: string) => `${base}-${randomBytes(3).toString('hex')}`;

function forwardedFor(value: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-forwarded-for', value);
  return md;
}

for (const backend of BACKENDS) {
  describe(`secrets on ${backend}: secrets and single-use releases`, () => {
    let h: SecretsHarness;
    let cli: SecretsServiceClient;
    let deployer: SecretsServiceClient;
    let skipped: string | undefined;
    const manager = () => h.token({ roles: ['manager'], accountId: 'acc-manager', email: 'manager@example.com' });
    const teamLead = () => h.token({ roles: ['team_lead'], accountId: 'acc-lead', email: 'lead@example.com' });
    const developer = () => h.token({ roles: ['developer'], accountId: 'acc-dev', email: 'dev@example.com' });
    const officer = () => h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'officer@example.com' });
    const support = () => h.token({ roles: ['support'], accountId: 'acc-support' });

    const put = (app: string, name: string, value: string | Buffer, env = LIVE, bearer = manager()) =>
      call(cli, cli.putSecret, S.PutSecretRequest.fromPartial({ environment: env, app, name, value: Buffer.from(value) }), { bearer });
    const create = (app: string, o: Partial<secretsV1.CreateReleaseRequest> = {}, bearer = manager(), client = cli) =>
      call(client, client.createRelease, S.CreateReleaseRequest.fromPartial({ environment: LIVE, app, deploymentRef: 'commit-4f2a9c1', ...o }), { bearer });
    const redeem = (token: string, client = deployer, metadata?: grpc.Metadata) =>
      call(client, client.redeemRelease, { releaseToken: token }, metadata ? { metadata } : {});
    const getRelease = (releaseId: string) => call(cli, cli.getRelease, { releaseId }, { bearer: officer() }).then((r) => r.release);
    const eventsFor = (releaseId: string, action?: auditEventV1.Action) =>
      h.events.filter((e) => e.subject?.id === releaseId && (action === undefined || e.action === action));

    before(async () => {
      const env = await backendEnv(backend, (why) => (skipped = why));
      if (!env) return;
      h = await startSecrets(env);
      cli = await h.client('cli');
      deployer = await h.client('deployer');
      await call(cli, cli.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: S.KeyDerivation.KEY_DERIVATION_UNSPECIFIED } });
      const unsealed = await call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE });
      assert.equal(unsealed.seal?.state, S.SealState.SEAL_STATE_UNSEALED);
    });
    after(async () => {
      await h?.stop();
    });
    const live = (t: { skip(msg?: string): void }) => {
      if (skipped) t.skip(skipped);
      return !skipped;
    };

    test('PutSecret: new versions per put; LIVE only for manager and team lead; metadata never holds the value', async (t) => {
      if (!live(t)) return;
      const app = appName('payments');
      const v1 = await put(app, 'DB_PASSWORD', 'first-value');
      assert.equal(v1.secret?.version, 1);
      assert.equal(v1.secret?.updatedBy?.accountId, 'acc-manager');
      const v2 = await put(app, 'DB_PASSWORD', 'second-value', LIVE, teamLead());
      assert.equal(v2.secret?.version, 2);
      assert.equal(v2.secret?.updatedBy?.accountId, 'acc-lead');

      const dev = await refused(put(app, 'DB_PASSWORD', 'x', LIVE, developer()));
      assert.equal(dev.code, grpc.status.PERMISSION_DENIED);
      assert.match(dev.details, /manager, team_lead.*LIVE/);
      for (const bearer of [officer(), support()]) assert.equal((await refused(put(app, 'DB_PASSWORD', 'x', LIVE, bearer))).code, grpc.status.PERMISSION_DENIED);
      assert.equal((await put(app, 'DB_PASSWORD', 'staging-value', STAGING, developer())).secret?.version, 1, 'a developer writes STAGING');

      const registerIp = h.token({ roles: ['manager'], scope: 'register-ip' });
      assert.equal((await refused(put(app, 'DB_PASSWORD', 'x', LIVE, registerIp))).code, grpc.status.PERMISSION_DENIED, 'a register-ip session reaches nothing');
      const liveEnded = h.token({ roles: ['manager'], env: { staging: new Date(h.clock.now().getTime() + 60 * MIN), live: new Date(h.clock.now().getTime() - 1) } });
      const ended = await refused(put(app, 'DB_PASSWORD', 'x', LIVE, liveEnded));
      assert.equal(ended.code, grpc.status.PERMISSION_DENIED);
      assert.match(ended.details, /no longer reaches LIVE/);
      assert.equal((await refused(call(cli, cli.putSecret, { environment: LIVE, app, name: 'X', value: Buffer.from('v') }))).code, grpc.status.UNAUTHENTICATED, 'no session');

      const listed = await call(cli, cli.listSecrets, S.ListSecretsRequest.fromPartial({ app }), { bearer: officer() });
      assert.deepEqual(
        listed.secrets.map((s) => [s.environment, s.name, s.version]),
        [
          [LIVE, 'DB_PASSWORD', 2],
          [STAGING, 'DB_PASSWORD', 1],
        ],
      );
      assert.ok(!/first-value|second-value|staging-value/.test(JSON.stringify(listed)), 'the listing holds no value');
      const devList = await call(cli, cli.listSecrets, S.ListSecretsRequest.fromPartial({ app }), { bearer: developer() });
      assert.deepEqual(
        devList.secrets.map((s) => s.environment),
        [STAGING],
        'a developer sees STAGING only',
      );
      const devLive = await refused(call(cli, cli.listSecrets, S.ListSecretsRequest.fromPartial({ app, environment: LIVE }), { bearer: developer() }));
      assert.equal(devLive.code, grpc.status.PERMISSION_DENIED);
      assert.match(devLive.details, /STAGING/);

      await h.drainAudit();
      const putEvents = h.events.filter((e) => e.action === A.ACTION_SECRETS_SECRET_PUT && e.subject?.id.includes(app));
      assert.equal(putEvents.length, 3);
      assert.deepEqual(putEvents.map((e) => e.details['version']), ['1', '2', '1']);
    });

    test('hostile input: each refused with the field named, nothing stored', async (t) => {
      if (!live(t)) return;
      const app = appName('hostile');
      await put(app, 'API_KEY', 'v');
      const cases: Array<[string, Partial<secretsV1.PutSecretRequest>, RegExp]> = [
        ['operator-like app', { app: '{"$ne":null}' }, /app/],
        ['operator-like name', { name: '$ne' }, /name/],
        ['lower-case name', { name: 'api_key' }, /name/],
        ['oversized name', { name: `A${'B'.repeat(200)}` }, /name/],
        ['empty value', { value: Buffer.alloc(0) }, /value/],
        ['value over 64 KiB', { value: Buffer.alloc(64 * 1024 + 1, 1) }, /value/],
        ['no environment', { environment: commonV1.Environment.ENVIRONMENT_UNSPECIFIED }, /environment/],
      ];
      for (const [what, o, field] of cases) {
        const r = await refused(call(cli, cli.putSecret, S.PutSecretRequest.fromPartial({ environment: LIVE, app, name: 'API_KEY', value: Buffer.from('v2'), ...o }), { bearer: manager() }));
        assert.equal(r.code, grpc.status.INVALID_ARGUMENT, what);
        assert.match(r.details, field, what);
      }
      const listed = await call(cli, cli.listSecrets, S.ListSecretsRequest.fromPartial({ app }), { bearer: officer() });
      assert.deepEqual(
        listed.secrets.map((s) => [s.name, s.version]),
        [['API_KEY', 1]],
        'nothing changed',
      );
      const badPage = await refused(call(cli, cli.listSecrets, S.ListSecretsRequest.fromPartial({ pageToken: '{"$gt":""}' }), { bearer: officer() }));
      assert.equal(badPage.code, grpc.status.INVALID_ARGUMENT);
      assert.match(badPage.details, /page_token/);
      const badCreate = await refused(create(app, { ttl: { seconds: 10, nanos: 0 } }));
      assert.equal(badCreate.code, grpc.status.INVALID_ARGUMENT);
      assert.match(badCreate.details, /ttl/);
      const tooLong = await refused(create(app, { ttl: { seconds: 2 * 3600, nanos: 0 } }));
      assert.match(tooLong.details, /ttl.*at most 60 minutes/);
      for (const [o, field] of [
        [{ boundCidr: '0.0.0.0/0' }, /bound_cidr/],
        [{ boundCidr: '10.0.0.1/8' }, /bound_cidr/],
        [{ boundClientIdentity: '$ne' }, /bound_client_identity/],
        [{ deploymentRef: '' }, /deployment_ref/],
        [{ app: '$ne' }, /app/],
      ] as const) {
        const r = await refused(create(app, o));
        assert.equal(r.code, grpc.status.INVALID_ARGUMENT);
        assert.match(r.details, field);
      }
      const noSecrets = await refused(create(appName('empty')));
      assert.equal(noSecrets.code, grpc.status.FAILED_PRECONDITION);
      assert.match(noSecrets.details, /no secrets in LIVE/);
      const list = await call(cli, cli.listReleases, S.ListReleasesRequest.fromPartial({ app }), { bearer: officer() });
      assert.equal(list.releases.length, 0, 'no release was created');
    });

    test('exactly one redemption: 100 parallel RedeemRelease → 1 bundle, 99 refusals, 100 audit events', async (t) => {
      if (!live(t)) return;
      const app = appName('payments');
      await put(app, 'DB_PASSWORD', 'pa55-value');
      await put(app, 'API_KEY', 'api-value');
      const created = await create(app);
      const releaseId = created.release?.releaseId ?? '';
      assert.equal(created.release?.state, S.ReleaseState.RELEASE_STATE_READY);
      assert.match(created.releaseToken, /^ghr_[A-Za-z0-9_-]{43}$/);
      assert.equal(created.release?.expiresAt?.getTime(), h.clock.now().getTime() + 15 * MIN, 'default TTL 15 min');

      // 30 s per call, not the kit's 10 s: on MongoDB (jongodb) a process's units run in turn, so
      // the 100th refusal waits for 99 units, and a loaded 2-core CI machine can need over 10 s.
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, () => call(deployer, deployer.redeemRelease, { releaseToken: created.releaseToken }, { deadlineMs: 30_000 })),
      );
      const ok = results.filter((r): r is PromiseFulfilledResult<secretsV1.RedeemReleaseResponse> => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as grpc.ServiceError);
      assert.equal(ok.length, 1, 'exactly one bundle');
      assert.equal(failed.length, 99);
      for (const e of failed) {
        assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
        assert.match(e.details, new RegExp(`release ${releaseId} was already redeemed`));
      }
      const bundle = ok[0]!.value;
      assert.equal(bundle.releaseId, releaseId);
      assert.equal(bundle.deploymentRef, 'commit-4f2a9c1');
      assert.deepEqual(
        bundle.secrets.map((s) => [s.name, s.version, Buffer.from(s.value).toString()]),
        [
          ['API_KEY', 1, 'api-value'],
          ['DB_PASSWORD', 1, 'pa55-value'],
        ],
      );

      await h.drainAudit();
      const all = eventsFor(releaseId).filter((e) => e.action !== A.ACTION_SECRETS_RELEASE_CREATE);
      // The winner's confirmed intent (issue 13 item 6) says nothing happened; every other event is one call's outcome.
      const intents = all.filter((e) => e.outcome === auditEventV1.Outcome.OUTCOME_ATTEMPTED);
      const events = all.filter((e) => e.outcome !== auditEventV1.Outcome.OUTCOME_ATTEMPTED);
      assert.equal(events.length, 100, 'one event per call');
      assert.equal(intents.length, 1, 'one intent: the winner of the compare-and-set');
      assert.equal(events.filter((e) => e.action === A.ACTION_SECRETS_RELEASE_REDEEM).length, 1);
      assert.equal(events.find((e) => e.action === A.ACTION_SECRETS_RELEASE_REDEEM)?.intentEventId, intents[0]?.eventId, 'the redemption names its intent');
      const refusals = events.filter((e) => e.action === A.ACTION_SECRETS_RELEASE_REDEEM_REFUSED);
      assert.equal(refusals.length, 99);
      assert.ok(refusals.every((e) => e.details['reason'] === 'already_redeemed' && e.details['class'] === 'replay' && e.outcome === auditEventV1.Outcome.OUTCOME_DENIED));
      const rel = await getRelease(releaseId);
      assert.equal(rel?.state, S.ReleaseState.RELEASE_STATE_REDEEMED);
      assert.equal(rel?.redeemedByIdentity, 'backend:deployer');
      assert.equal(rel?.redeemedFromIp, '127.0.0.1');
      assert.equal(rel?.refusedRedemptionCount, 99);

      const again = await refused(redeem(created.releaseToken));
      assert.equal(again.code, grpc.status.FAILED_PRECONDITION, 'and later too');
    });

    test('fails closed: audit down → UNAVAILABLE, no bundle, the release stays redeemable', async (t) => {
      if (!live(t)) return;
      const app = appName('orders');
      await put(app, 'DB_PASSWORD', 'orders-pw');
      const created = await create(app);
      h.audit.fail(true);
      try {
        const r = await refused(redeem(created.releaseToken));
        assert.equal(r.code, grpc.status.UNAVAILABLE);
        assert.match(r.details, /audit/);
        assert.ok(!r.details.includes('orders-pw'));
      } finally {
        h.audit.fail(false);
      }
      assert.equal((await getRelease(created.release?.releaseId ?? ''))?.state, S.ReleaseState.RELEASE_STATE_READY);
      const b = await redeem(created.releaseToken);
      assert.equal(Buffer.from(b.secrets[0]!.value).toString(), 'orders-pw');
    });

    test('refusals: expired, revoked, unknown, malformed — each audited, nothing released', async (t) => {
      if (!live(t)) return;
      const app = appName('billing');
      await put(app, 'DB_PASSWORD', 'billing-pw');
      const short = await create(app, { ttl: { seconds: 60, nanos: 0 } });
      const revoked = await create(app);
      h.clock.advance(61_000);
      const expired = await refused(redeem(short.releaseToken));
      assert.equal(expired.code, grpc.status.FAILED_PRECONDITION);
      assert.match(expired.details, /expired at/);

      const ctl = await refused(call(cli, cli.revokeRelease, { releaseId: revoked.release?.releaseId ?? '', reason: 'line one\nline two' }, { bearer: manager() }));
      assert.equal(ctl.code, grpc.status.INVALID_ARGUMENT);
      assert.match(ctl.details, /reason.*control characters/);
      assert.equal((await getRelease(revoked.release?.releaseId ?? ''))?.state, S.ReleaseState.RELEASE_STATE_READY, 'refused before anything changed');
      const rv = await call(cli, cli.revokeRelease, { releaseId: revoked.release?.releaseId ?? '', reason: 'pipeline cancelled' }, { bearer: manager() });
      assert.equal(rv.release?.state, S.ReleaseState.RELEASE_STATE_REVOKED);
      assert.equal(rv.release?.revokeReason, 'pipeline cancelled');
      const r = await refused(redeem(revoked.releaseToken));
      assert.equal(r.code, grpc.status.FAILED_PRECONDITION);
      assert.match(r.details, /revoked/);
      const twice = await refused(call(cli, cli.revokeRelease, { releaseId: revoked.release?.releaseId ?? '', reason: 'again' }, { bearer: manager() }));
      assert.equal(twice.code, grpc.status.FAILED_PRECONDITION);
      const byStranger = await refused(call(cli, cli.revokeRelease, { releaseId: revoked.release?.releaseId ?? '', reason: 'x' }, { bearer: support() }));
      assert.equal(byStranger.code, grpc.status.PERMISSION_DENIED);

      const unknown = await refused(redeem(`ghr_${randomBytes(32).toString('base64url')}`));
      assert.equal(unknown.code, grpc.status.PERMISSION_DENIED);
      assert.match(unknown.details, /unknown release token/);
      for (const token of ['{"$ne":null}', '$ne', '', 'ghr_short', `ghr_${'A'.repeat(100_000)}`]) {
        const m = await refused(redeem(token));
        assert.equal(m.code, grpc.status.INVALID_ARGUMENT, token.slice(0, 20));
        assert.match(m.details, /release_token/);
      }

      await h.drainAudit();
      const reasons = (id: string) => eventsFor(id, A.ACTION_SECRETS_RELEASE_REDEEM_REFUSED).map((e) => e.details['reason']);
      assert.deepEqual(reasons(short.release?.releaseId ?? ''), ['expired']);
      assert.deepEqual(reasons(revoked.release?.releaseId ?? ''), ['revoked']);
      const anonymous = h.events.filter((e) => e.action === A.ACTION_SECRETS_RELEASE_REDEEM_REFUSED && !e.subject);
      assert.ok(anonymous.some((e) => e.details['reason'] === 'unknown_token'));
      assert.ok(anonymous.some((e) => e.details['reason'] === 'malformed_token'));
      assert.ok(!JSON.stringify(h.events).includes(short.releaseToken), 'never the token in audit');
    });

    test('the expiry job: an unredeemed release becomes EXPIRED and raises exactly one event', async (t) => {
      if (!live(t)) return;
      const app = appName('reports');
      await put(app, 'DB_PASSWORD', 'reports-pw');
      const rel = await create(app, { ttl: { seconds: 120, nanos: 0 } });
      const id = rel.release?.releaseId ?? '';
      h.clock.advance(121_000);
      const deadline = Date.now() + 5_000;
      while ((await getRelease(id))?.state !== S.ReleaseState.RELEASE_STATE_EXPIRED) {
        assert.ok(Date.now() < deadline, 'the expiry job ran within 5 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 400)); // several more scans
      await h.drainAudit();
      const events = eventsFor(id, A.ACTION_SECRETS_RELEASE_EXPIRED_UNREDEEMED);
      assert.equal(events.length, 1);
      assert.equal(events[0]?.actor?.kind, auditEventV1.ActorKind.ACTOR_KIND_SYSTEM);
      assert.equal(events[0]?.environment, LIVE);
    });

    test('bindings: a bound CIDR or client certificate mismatch is refused; the right caller gets the bundle', async (t) => {
      if (!live(t)) return;
      const app = appName('gateway');
      await put(app, 'GATEWAY_KEY', 'gw-secret');
      const net = await create(app, { boundCidr: '10.20.0.0/16' });
      const wrongNet = await refused(redeem(net.releaseToken));
      assert.equal(wrongNet.code, grpc.status.PERMISSION_DENIED);
      assert.match(wrongNet.details, /bound to a network/);
      const untrusted = await refused(redeem(net.releaseToken, await h.client('other-deployer'), forwardedFor('10.20.1.1')));
      assert.equal(untrusted.code, grpc.status.PERMISSION_DENIED, 'a forwarded-for from an untrusted backend is ignored');
      const viaProxy = await redeem(net.releaseToken, await h.client('web'), forwardedFor('10.20.1.1'));
      assert.equal(Buffer.from(viaProxy.secrets[0]!.value).toString(), 'gw-secret', 'the trusted proxy names the deployer inside the CIDR');

      const cert = await create(app, { boundClientIdentity: 'backend:deployer', boundCidr: '127.0.0.0/8' });
      const other = await refused(redeem(cert.releaseToken, await h.client('other-deployer')));
      assert.equal(other.code, grpc.status.PERMISSION_DENIED);
      assert.match(other.details, /another client certificate/);
      const ok = await redeem(cert.releaseToken, deployer);
      assert.equal(ok.secrets.length, 1);
      await h.drainAudit();
      assert.deepEqual(
        eventsFor(net.release?.releaseId ?? '', A.ACTION_SECRETS_RELEASE_REDEEM_REFUSED).map((e) => e.details['reason']),
        ['cidr_mismatch', 'cidr_mismatch'],
      );
      assert.deepEqual(
        eventsFor(cert.release?.releaseId ?? '', A.ACTION_SECRETS_RELEASE_REDEEM_REFUSED).map((e) => e.details['reason']),
        ['identity_mismatch'],
      );
      assert.equal((await getRelease(cert.release?.releaseId ?? ''))?.refusedRedemptionCount, 1);
      assert.ok(
        [...eventsFor(net.release?.releaseId ?? ''), ...eventsFor(cert.release?.releaseId ?? '')]
          .filter((e) => e.action === A.ACTION_SECRETS_RELEASE_REDEEM_REFUSED)
          .every((e) => e.details['class'] === 'misuse'),
        'binding mismatches are misuse (the misuse alert rule)',
      );
    });

    test('LIVE releases: developer and support refused, manager and team lead pass; STAGING for developers', async (t) => {
      if (!live(t)) return;
      const app = appName('crm');
      await put(app, 'DB_PASSWORD', 'crm-live');
      await put(app, 'DB_PASSWORD', 'crm-staging', STAGING);
      for (const bearer of [developer(), support(), officer()]) {
        const r = await refused(create(app, {}, bearer));
        assert.equal(r.code, grpc.status.PERMISSION_DENIED);
        assert.match(r.details, /LIVE may only be created by manager or team_lead/);
      }
      assert.equal((await create(app, {}, manager())).release?.state, S.ReleaseState.RELEASE_STATE_READY);
      assert.equal((await create(app, {}, teamLead())).release?.state, S.ReleaseState.RELEASE_STATE_READY);
      const staging = await create(app, { environment: STAGING }, developer());
      const b = await redeem(staging.releaseToken);
      assert.equal(b.environment, STAGING);
      assert.equal(Buffer.from(b.secrets[0]!.value).toString(), 'crm-staging');
      const fromBackend = await create(app, {}, manager(), await h.client('deployer'));
      assert.equal(fromBackend.release?.createdBy?.accountId, 'acc-manager', 'a backend may create a release for a manager session');

      const devHistory = await refused(call(cli, cli.listReleases, S.ListReleasesRequest.fromPartial({ environment: LIVE }), { bearer: developer() }));
      assert.equal(devHistory.code, grpc.status.PERMISSION_DENIED);
      const devView = await call(cli, cli.listReleases, S.ListReleasesRequest.fromPartial({ app }), { bearer: developer() });
      assert.deepEqual(
        devView.releases.map((r) => r.environment),
        [STAGING],
      );
    });

    test('approvals (M-of-N) when enabled: not redeemable before, never by the creator, each approver once, audit must confirm', async (t) => {
      if (!live(t)) return;
      const replica = await h.addReplica({ GATEHOUSE_SECRETS_LIVE_APPROVALS: '2' });
      const idx = h.replicas.indexOf(replica);
      const c = await h.client('cli', idx);
      await call(c, c.unseal, { passphrase: TEST_PASSPHRASE });
      const app = appName('ledger');
      await put(app, 'DB_PASSWORD', 'ledger-pw');
      const rel = await create(app, {}, manager(), c);
      const id = rel.release?.releaseId ?? '';
      assert.equal(rel.release?.state, S.ReleaseState.RELEASE_STATE_PENDING_APPROVAL);
      assert.equal(rel.release?.requiredApprovals, 2);
      const early = await refused(redeem(rel.releaseToken));
      assert.equal(early.code, grpc.status.FAILED_PRECONDITION);
      assert.match(early.details, /waiting for approval \(0 of 2\)/);

      const approve = (bearer: string, note = 'reviewed') => call(c, c.approveRelease, { releaseId: id, note }, { bearer });
      const own = await refused(approve(manager()));
      assert.equal(own.code, grpc.status.PERMISSION_DENIED);
      assert.match(own.details, /creator/);
      assert.equal((await refused(approve(developer()))).code, grpc.status.PERMISSION_DENIED);
      h.audit.fail(true);
      try {
        assert.equal((await refused(approve(teamLead()))).code, grpc.status.UNAVAILABLE, 'critical: audit must confirm');
      } finally {
        h.audit.fail(false);
      }
      assert.equal((await getRelease(id))?.approvals.length, 0, 'the approval did not happen');
      const first = await approve(teamLead(), 'change CHG-1234 checked');
      assert.equal(first.release?.state, S.ReleaseState.RELEASE_STATE_PENDING_APPROVAL);
      const dup = await refused(approve(teamLead()));
      assert.equal(dup.code, grpc.status.FAILED_PRECONDITION);
      assert.match(dup.details, /already approved/);
      const other = h.token({ roles: ['manager'], accountId: 'acc-manager-2', email: 'm2@example.com' });
      const second = await approve(other);
      assert.equal(second.release?.state, S.ReleaseState.RELEASE_STATE_READY);
      assert.deepEqual(
        second.release?.approvals.map((a) => [a.approver?.accountId, a.note]),
        [
          ['acc-lead', 'change CHG-1234 checked'],
          ['acc-manager-2', 'reviewed'],
        ],
      );
      const b = await redeem(rel.releaseToken);
      assert.equal(Buffer.from(b.secrets[0]!.value).toString(), 'ledger-pw');

      // The history: who created, approved and redeemed, from where and when.
      const hist = await call(cli, cli.listReleases, S.ListReleasesRequest.fromPartial({ app }), { bearer: officer() });
      assert.equal(hist.releases.length, 1);
      const r = hist.releases[0]!;
      assert.equal(r.createdBy?.accountId, 'acc-manager');
      assert.deepEqual(r.approvals.map((a) => a.approver?.accountId), ['acc-lead', 'acc-manager-2']);
      assert.equal(r.redeemedByIdentity, 'backend:deployer');
      assert.equal(r.redeemedFromIp, '127.0.0.1');
      assert.ok(r.redeemedAt);
      assert.deepEqual(r.secrets.map((s) => [s.name, s.version]), [['DB_PASSWORD', 1]]);
      await h.drainAudit();
      const approvals = eventsFor(id, A.ACTION_SECRETS_RELEASE_APPROVE);
      assert.equal(approvals.filter((e) => e.outcome === auditEventV1.Outcome.OUTCOME_SUCCESS).length, 2, 'only the approvals that happened');
      assert.equal(approvals.filter((e) => e.outcome === auditEventV1.Outcome.OUTCOME_ATTEMPTED).length, 3, 'three intents: the refused one (UNAVAILABLE) and the two that happened');
    });

    test('a deleted secret: out of new releases, and a release holding it does not redeem', async (t) => {
      if (!live(t)) return;
      const app = appName('search');
      await put(app, 'DB_PASSWORD', 'search-pw');
      await put(app, 'OLD_TOKEN', 'old');
      const before = await create(app);
      const del = await call(cli, cli.deleteSecret, { environment: LIVE, app, name: 'OLD_TOKEN', reason: 'rotated out' }, { bearer: manager() });
      assert.ok(del.secret?.deletedAt);
      assert.equal((await refused(call(cli, cli.deleteSecret, { environment: LIVE, app, name: 'OLD_TOKEN', reason: 'again' }, { bearer: manager() }))).code, grpc.status.NOT_FOUND);
      const r = await refused(redeem(before.releaseToken));
      assert.equal(r.code, grpc.status.FAILED_PRECONDITION);
      assert.match(r.details, /OLD_TOKEN version 1, which was deleted/);
      const after = await create(app);
      assert.deepEqual(after.release?.secrets.map((s) => s.name), ['DB_PASSWORD']);
      const b = await redeem(after.releaseToken);
      assert.deepEqual(b.secrets.map((s) => s.name), ['DB_PASSWORD']);
    });

    test('ciphertext binding: values swapped between rows fail authentication; nothing is released', async (t) => {
      if (!live(t)) return;
      const app = appName('swap');
      await put(app, 'ALPHA', 'alpha-value');
      await put(app, 'BETA', 'beta-value');
      const rel = await create(app);
      await swapCiphertexts(h, { environment: 'live', app, a: 'ALPHA', b: 'BETA' });
      const r = await refused(redeem(rel.releaseToken));
      assert.equal(r.code, grpc.status.INTERNAL);
      assert.ok(!/alpha|beta/i.test(r.details), 'the cause is not sent');
      assert.equal((await getRelease(rel.release?.releaseId ?? ''))?.state, S.ReleaseState.RELEASE_STATE_READY, 'not consumed');
      assert.ok(h.logs.some((l) => l.includes('could not be decrypted')), 'the integrity failure is logged');
      await swapCiphertexts(h, { environment: 'live', app, a: 'ALPHA', b: 'BETA' }); // back in place: each row opens again
      const b = await redeem(rel.releaseToken);
      assert.deepEqual(b.secrets.map((s) => Buffer.from(s.value).toString()), ['alpha-value', 'beta-value']);
    });

    test('master key rotation re-wraps data keys; values still redeem, also after a restart', async (t) => {
      if (!live(t)) return;
      const app = appName('rotate');
      await put(app, 'ONE', 'one-value');
      await put(app, 'TWO', 'two-value');
      const before = await call(cli, cli.sealStatus, {});
      const denied = await refused(call(cli, cli.rotateMasterKey, { reason: 'yearly' }, { bearer: manager() }));
      assert.equal(denied.code, grpc.status.PERMISSION_DENIED);
      const rot = await call(cli, cli.rotateMasterKey, { reason: 'yearly' }, { bearer: officer() });
      assert.equal(rot.seal?.keyVersion, (before.seal?.keyVersion ?? 0) + 1);
      assert.ok(rot.rewrappedDataKeyCount >= 2);
      const b = await redeem((await create(app)).releaseToken);
      assert.deepEqual(b.secrets.map((s) => Buffer.from(s.value).toString()), ['one-value', 'two-value']);

      const rel = await create(app);
      await h.restart(0);
      cli = await h.client('cli');
      deployer = await h.client('deployer');
      assert.equal((await call(cli, cli.sealStatus, {})).seal?.state, S.SealState.SEAL_STATE_SEALED, 'sealed after a restart');
      await call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE });
      const again = await redeem(rel.releaseToken);
      assert.deepEqual(again.secrets.map((s) => Buffer.from(s.value).toString()), ['one-value', 'two-value']);
    });

    test('no plaintext anywhere: a canary value is absent from the store, the logs and the audit details', async (t) => {
      if (!live(t)) return;
      const canary = `canary-${randomBytes(12).toString('hex')}`;
      const app = appName('canary');
      await put(app, 'CANARY_SECRET', canary);
      const rel = await create(app);
      const b = await redeem(rel.releaseToken);
      assert.equal(Buffer.from(b.secrets[0]!.value).toString(), canary, 'the canary is really there');
      await refused(redeem(rel.releaseToken));
      await h.drainAudit();
      const stored = await storeDump(h);
      assert.ok(stored.length > 0);
      assert.ok(!stored.includes(canary), 'not in the database');
      assert.ok(!stored.includes(Buffer.from(canary).toString('base64')), 'not even base64');
      assert.ok(!stored.includes(rel.releaseToken), 'the release token is stored only as a hash');
      assert.ok(h.logs.length > 0);
      const logs = h.logs.join('\n');
      assert.ok(!logs.includes(canary) && !logs.includes(rel.releaseToken) && !logs.includes(TEST_PASSPHRASE), 'not in the logs');
      const audit = JSON.stringify(h.events);
      assert.ok(!audit.includes(canary) && !audit.includes(rel.releaseToken) && !audit.includes(TEST_PASSPHRASE), 'not in audit');
    });
  });
}

/** Everything the store holds, as text: the SQLite files' bytes, or every MongoDB document. */
async function storeDump(h: SecretsHarness): Promise<string> {
  const opened = h.replicas[0]!.store;
  if (opened.backend === 'sqlite') {
    await opened.store.exec(undefined, (db) => db.pragma('wal_checkpoint(TRUNCATE)'));
    const dir = h.env['GATEHOUSE_DATA_DIR'] ?? '';
    return fs
      .readdirSync(dir)
      .filter((f) => f.startsWith('secrets.db'))
      .map((f) => fs.readFileSync(path.join(dir, f)).toString('latin1'))
      .join('\n');
  }
  const db = opened.store.db;
  const parts: string[] = [];
  // jongodb has no listCollections: every collection the service writes, by name.
  for (const c of ['secret_heads', 'secret_versions', 'releases', 'audit_outbox']) parts.push(JSON.stringify(await db.collection(c).find({}).toArray()));
  return parts.join('\n');
}

/** Swaps the envelope (ciphertext, IV, tag, wrapped data key) of two secrets' version 1 directly in the store. */
async function swapCiphertexts(h: SecretsHarness, k: { environment: string; app: string; a: string; b: string }): Promise<void> {
  const FIELDS = ['ciphertext', 'iv', 'tag', 'wrappedDataKey'] as const;
  const opened = h.replicas[0]!.store;
  if (opened.backend === 'sqlite') {
    await opened.store.exec(undefined, (db) => {
      const get = db.prepare('SELECT doc FROM secret_versions WHERE environment = ? AND app = ? AND name = ? AND version = 1');
      const set = db.prepare('UPDATE secret_versions SET doc = ? WHERE environment = ? AND app = ? AND name = ? AND version = 1');
      const a = JSON.parse((get.get(k.environment, k.app, k.a) as { doc: string }).doc) as Record<string, unknown>;
      const b = JSON.parse((get.get(k.environment, k.app, k.b) as { doc: string }).doc) as Record<string, unknown>;
      for (const f of FIELDS) [a[f], b[f]] = [b[f], a[f]];
      set.run(JSON.stringify(a), k.environment, k.app, k.a);
      set.run(JSON.stringify(b), k.environment, k.app, k.b);
    });
    return;
  }
  const col = opened.store.db.collection('secret_versions');
  const a = await col.findOne({ environment: k.environment, app: k.app, name: k.a, version: 1 });
  const b = await col.findOne({ environment: k.environment, app: k.app, name: k.b, version: 1 });
  assert.ok(a && b);
  const pick = (d: Record<string, unknown>) => Object.fromEntries(FIELDS.map((f) => [f, d[f]]));
  await col.updateOne({ _id: a._id }, { $set: pick(b) });
  await col.updateOne({ _id: b._id }, { $set: pick(a) });
}
