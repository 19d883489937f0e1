import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { runService } from '@gatehouse/service-host';
import { ConfigError, call } from '@gatehouse/service-kit';
import { findMongo, refused } from '@gatehouse/testing';
import { identityService } from './service.js';
import { forClient, startIdentity, type IdentityHarness, type SignedIn } from './test-support/harness.js';

const R = commonV1.Role;
const S = grpc.status;
const Act = auditEventV1.Action;

describe('identity: the officer, register-ip sessions, key rotation, no leaks', () => {
  let h: IdentityHarness;
  let cli: IdentityServiceClient;
  let officer: SignedIn;

  before(async () => {
    h = await startIdentity({ GATEHOUSE_LOG_LEVEL: 'debug' });
    cli = await h.client('cli');
    officer = await h.bootstrapOfficer('olga@bank.example');
  });
  after(async () => {
    await h?.stop();
  });

  test('a session from an IP not on the allowlist is limited to register-ip; refresh widens it once the IP is allowlisted', async () => {
    await h.approve(officer, 'home@bank.example', [R.ROLE_MANAGER]);
    const web = await h.client('web');
    const home = await h.firstSignIn('home@bank.example', { client: web, clientIp: '198.51.100.7' });
    assert.equal(home.session.scope, identityV1.SessionScope.SESSION_SCOPE_REGISTER_IP_ONLY);
    assert.equal(home.session.pinnedIp, '198.51.100.7');
    assert.deepEqual(home.session.environmentAccess, [], 'a register-ip session reaches no environment');
    const md = forClient('198.51.100.7');
    const live = await call(web, web.authorize, { environment: commonV1.Environment.ENVIRONMENT_STAGING, action: identityV1.AuthorizeAction.AUTHORIZE_ACTION_READ_DATA }, { bearer: home.token, metadata: md });
    assert.equal(live.decision, identityV1.AuthorizeDecision.AUTHORIZE_DECISION_DENY);
    assert.equal(live.reason, identityV1.AuthorizeReason.AUTHORIZE_REASON_SCOPE_REGISTER_IP_ONLY);
    // Full-scope RPCs refuse it; WhoAmI (any scope) answers.
    assert.equal((await refused(call(web, web.listSessions, identityV1.ListSessionsRequest.fromPartial({}), { bearer: home.token, metadata: md }))).code, S.PERMISSION_DENIED);
    assert.equal((await call(web, web.whoAmI, {}, { bearer: home.token, metadata: md })).session?.scope, identityV1.SessionScope.SESSION_SCOPE_REGISTER_IP_ONLY);
    // From another IP the token is worthless (pinned), even through the trusted backend.
    assert.equal((await refused(call(web, web.whoAmI, {}, { bearer: home.token, metadata: forClient('198.51.100.8') }))).code, S.UNAUTHENTICATED);
    // An untrusted backend cannot claim the client IP: its own peer IP counts.
    const other = await h.client('other-backend');
    assert.equal((await refused(call(other, other.whoAmI, {}, { bearer: home.token, metadata: md }))).code, S.UNAUTHENTICATED);
    h.allowlisted.add('198.51.100.7'); // the employee registered today's IP
    const refreshed = await call(web, web.refreshSession, {}, { bearer: home.token, metadata: md });
    assert.equal(refreshed.session?.info?.scope, identityV1.SessionScope.SESSION_SCOPE_FULL);
    const now = await call(web, web.authorize, { environment: commonV1.Environment.ENVIRONMENT_LIVE, action: identityV1.AuthorizeAction.AUTHORIZE_ACTION_READ_DATA }, { bearer: refreshed.session?.token ?? '', metadata: md });
    assert.equal(now.decision, identityV1.AuthorizeDecision.AUTHORIZE_DECISION_ALLOW);
  });

  test('suspend and role changes revoke sessions at once; the last officer cannot be removed; ResetOtp forces re-enrolment', async () => {
    const accountId = await h.approve(officer, 'lea@bank.example', [R.ROLE_TEAM_LEAD]);
    const lea = await h.firstSignIn('lea@bank.example');
    const roles = await call(cli, cli.setRoles, { accountId, roles: [R.ROLE_DEVELOPER], reason: 'moved team' }, { bearer: officer.token });
    assert.equal(roles.revokedSessionCount, 1);
    assert.equal((await refused(call(cli, cli.whoAmI, {}, { bearer: lea.token }))).code, S.UNAUTHENTICATED);
    const lea2 = await h.signIn('lea@bank.example', lea.device);
    assert.deepEqual(lea2.session.principal?.roles, [R.ROLE_DEVELOPER]);
    const reset = await call(cli, cli.resetOtp, { accountId, reason: 'lost phone' }, { bearer: officer.token });
    assert.equal(reset.revokedSessionCount, 1);
    assert.equal(reset.account?.activeOtpCredential, undefined);
    const signInId = await h.pastSms('lea@bank.example');
    const next = await call(cli, cli.verifyOtp, { signInId, code: h.totp(lea.device) }).catch((e: grpc.ServiceError) => e);
    assert.equal((next as grpc.ServiceError).code, S.FAILED_PRECONDITION);
    assert.match((next as grpc.ServiceError).details, /enrol/);
    const lea3 = await h.firstSignIn('lea@bank.example');
    const suspended = await call(cli, cli.suspendAccount, { accountId, reason: 'left the company' }, { bearer: officer.token });
    assert.equal(suspended.revokedSessionCount, 1);
    assert.equal(suspended.account?.state, identityV1.AccountState.ACCOUNT_STATE_SUSPENDED);
    assert.equal((await refused(call(cli, cli.whoAmI, {}, { bearer: lea3.token }))).code, S.UNAUTHENTICATED);
    const begin = await refused(call(cli, cli.beginSignIn, { googleIdToken: h.idToken('lea@bank.example') }));
    assert.deepEqual([begin.code, /suspended/.test(begin.details)], [S.PERMISSION_DENIED, true]);
    // The last officer stays.
    const last = await refused(call(cli, cli.suspendAccount, { accountId: officer.accountId, reason: 'oops' }, { bearer: officer.token }));
    assert.deepEqual([last.code, /last active security officer/.test(last.details)], [S.FAILED_PRECONDITION, true]);
    const demote = await refused(call(cli, cli.setRoles, { accountId: officer.accountId, roles: [R.ROLE_MANAGER], reason: 'oops' }, { bearer: officer.token }));
    assert.equal(demote.code, S.FAILED_PRECONDITION);
    await h.drainAudit();
    for (const a of [Act.ACTION_IDENTITY_ROLES_SET, Act.ACTION_IDENTITY_OTP_RESET, Act.ACTION_IDENTITY_ACCOUNT_SUSPEND, Act.ACTION_IDENTITY_ACCOUNT_APPROVE]) {
      assert.ok(h.events.some((e) => e.action === a && e.subject?.id === accountId && e.actor?.id === officer.accountId), auditEventV1.actionToJSON(a));
    }
  });

  test('critical officer actions fail closed when audit cannot confirm', async () => {
    await call(cli, cli.beginSignIn, { googleIdToken: h.idToken('late@bank.example') }).catch(() => undefined);
    const listed = await call(cli, cli.listAccounts, identityV1.ListAccountsRequest.fromPartial({ email: 'late@bank.example' }), { bearer: officer.token });
    const accountId = listed.accounts[0]?.principal?.accountId ?? '';
    // Point the audit double at nothing by stopping it: the approval must not happen.
    const savedAppend = h.failAudit(true);
    const r = await refused(call(cli, cli.approveAccount, { accountId, roles: [R.ROLE_DEVELOPER], phoneNumber: '+4915100000042', note: '', displayName: 'Late Joiner' }, { bearer: officer.token }));
    h.failAudit(savedAppend);
    assert.equal(r.code, S.UNAVAILABLE);
    assert.match(r.details, /audit/);
    const still = await call(cli, cli.getAccount, { accountId }, { bearer: officer.token });
    assert.equal(still.account?.state, identityV1.AccountState.ACCOUNT_STATE_PENDING_APPROVAL);
  });

  test('GetSigningKeys publishes the active key; rotation publishes the next key ahead and keeps the retired one while its tokens live', async () => {
    const keys0 = await call(cli, cli.getSigningKeys, {});
    assert.equal(keys0.issuer, 'gatehouse-identity');
    const active0 = keys0.keys.filter((k) => k.status === commonV1.KeyStatus.KEY_STATUS_ACTIVE);
    assert.equal(active0.length, 1);
    assert.equal(active0[0]?.publicKey.length, 32);
    const before = await h.signIn('olga@bank.example', officer.device);
    // Near the end of the 30-day period a successor is published 1 h ahead of use.
    h.clock.advance(30 * 24 * 3600_000 - 30 * 60_000);
    const keys1 = await call(cli, cli.getSigningKeys, {});
    const next = keys1.keys.find((k) => k.status === commonV1.KeyStatus.KEY_STATUS_NEXT);
    assert.ok(next, 'a NEXT key is published before it signs');
    h.clock.advance(60 * 60_000);
    const fresh = await h.signIn('olga@bank.example', officer.device);
    const keys2 = await call(cli, cli.getSigningKeys, {});
    const active2 = keys2.keys.find((k) => k.status === commonV1.KeyStatus.KEY_STATUS_ACTIVE);
    assert.equal(active2?.keyId, next.keyId);
    assert.equal(fresh.session.keyId, next.keyId);
    const retired = keys2.keys.find((k) => k.keyId === active0[0]?.keyId);
    assert.equal(retired?.status, commonV1.KeyStatus.KEY_STATUS_RETIRED);
    assert.ok(retired?.notAfter);
    void before;
    await h.drainAudit();
    assert.ok(h.events.some((e) => e.action === Act.ACTION_IDENTITY_SIGNING_KEY_ROTATE && e.subject?.id === next.keyId));
    officer = fresh;
  });

  test('no leaks: a canary seed, the codes, the phone number and session tokens never reach the database, logs, audit events or errors in clear', async () => {
    const phone = '+4915177700042';
    await h.approve(officer, 'canary@bank.example', [R.ROLE_DEVELOPER], phone);
    const c = await h.firstSignIn('canary@bank.example');
    const seedHex = Buffer.from(c.device.seed.reveal()).toString('hex');
    const seedB32 = new URL(c.device.uri).searchParams.get('secret') ?? '';
    const codes = h.sms.map((s) => s.code).filter((x) => x.length >= 6);
    const wrong = await refused(call(cli, cli.verifyOtp, { signInId: await h.pastSms('canary@bank.example'), code: '000000' }));
    await h.drainAudit();
    const secrets = [seedHex, seedB32, phone, phone.slice(1), c.token, c.token.split('.')[2] ?? '', ...codes];
    const sources: Array<[string, string]> = [
      ['audit events', JSON.stringify(h.events.map((e) => auditEventV1.AuditEvent.toJSON(e)))],
      ['error', wrong.details],
      ['logs', h.logs.join('')],
    ];
    assert.ok(h.logs.length > 20, 'debug logs were captured');
    for (const f of fs.readdirSync(h.dataDir)) {
      if (f.endsWith('.key') || f.endsWith('.pem') || f.includes('bootstrap')) continue; // key files hold keys by design
      sources.push([`data file ${f}`, fs.readFileSync(path.join(h.dataDir, f)).toString('latin1')]);
    }
    for (const [name, text] of sources) {
      for (const s of secrets) {
        if (s.length < 6) continue;
        assert.ok(!text.includes(s), `${name} contains a secret (${s.slice(0, 3)}…)`);
        assert.ok(!text.toLowerCase().includes(s.toLowerCase()), `${name} contains a secret in another case`);
      }
    }
  });
});

describe('identity configuration refuses unsafe setups', () => {
  test('outside dev mode, the dev issuer and a missing Google client id or SMS gateway are configuration errors naming the variable', async () => {
    const dir = fs.mkdtempSync(path.join(process.env['TMPDIR'] ?? '/tmp', 'identity-cfg-'));
    const base = { GATEHOUSE_ENV: 'production', GATEHOUSE_INSECURE_PLAINTEXT: 'true', GATEHOUSE_PORT: '0', GATEHOUSE_DATA_DIR: dir, GATEHOUSE_LOG_LEVEL: 'silent' };
    await assert.rejects(runService(identityService, { env: { ...base, GATEHOUSE_DEV_ISSUER_KEY_FILE: path.join(dir, 'dev.pem') } }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /GATEHOUSE_DEV_ISSUER_KEY_FILE: the dev issuer is refused outside dev mode/);
      assert.match(e.message, /GATEHOUSE_GOOGLE_CLIENT_IDS/);
      assert.match(e.message, /GATEHOUSE_SMS_GATEWAY_URL/);
      return true;
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('identity on MongoDB', () => {
  test('the whole sign-in runs on the MongoDB store', async (t) => {
    const mongo = await findMongo();
    if ('skipped' in mongo) {
      t.skip(`no MongoDB: ${mongo.skipped}`);
      return;
    }
    const h = await startIdentity({ GATEHOUSE_STORE: 'mongodb', MONGO_URL: mongo.url });
    try {
      const officer = await h.bootstrapOfficer('mongo@bank.example');
      const cli = await h.client('cli');
      assert.equal((await call(cli, cli.whoAmI, {}, { bearer: officer.token })).account?.principal?.email, 'mongo@bank.example');
      const again = await h.signIn('mongo@bank.example', officer.device);
      assert.equal((await call(cli, cli.revokeSession, { sessionId: again.session.sessionId, reason: '' }, { bearer: again.token })).revokedSessionCount, 1);
    } finally {
      await h.stop();
    }
  });
});
