import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { startIdentity, type IdentityHarness, type SignedIn } from './test-support/harness.js';

const R = commonV1.Role;
const E = commonV1.Environment;
const A = identityV1.AuthorizeAction;
const D = identityV1.AuthorizeDecision;
const S = grpc.status;

function actions(h: IdentityHarness, action: auditEventV1.Action, outcome?: auditEventV1.Outcome): auditEventV1.AuditEvent[] {
  return h.events.filter((e) => e.action === action && (outcome === undefined || e.outcome === outcome));
}

describe('identity: accounts, sign-in, sessions and roles over gRPC', () => {
  let h: IdentityHarness;
  let cli: IdentityServiceClient;
  let officer: SignedIn;

  before(async () => {
    h = await startIdentity();
    cli = await h.client('cli');
    officer = await h.bootstrapOfficer('olga@bank.example');
  });
  after(async () => {
    await h?.stop();
  });

  test('the bootstrap token works once: a second officer cannot bootstrap, and the token file is single use', async () => {
    const token = fs.readFileSync(path.join(h.dataDir, 'identity-bootstrap-token'), 'utf8').trim();
    const again = await refused(call(cli, cli.bootstrapOfficer, { bootstrapToken: token, googleIdToken: h.idToken('mallory@bank.example'), phoneNumber: '+4915100000002' }));
    assert.equal(again.code, S.FAILED_PRECONDITION);
    assert.match(again.details, /security officer already exists/);
    const bogus = await refused(call(cli, cli.bootstrapOfficer, { bootstrapToken: '$ne', googleIdToken: h.idToken('m@bank.example'), phoneNumber: '+4915100000002' }));
    assert.equal(bogus.code, S.PERMISSION_DENIED);
    assert.equal(actions(h, auditEventV1.Action.ACTION_IDENTITY_BOOTSTRAP_OFFICER, auditEventV1.Outcome.OUTCOME_SUCCESS).length, 1);
  });

  test('an unknown Google account is recorded for approval and refused until the officer approves it', async () => {
    const first = await refused(call(cli, cli.beginSignIn, { googleIdToken: h.idToken('dev1@bank.example') }));
    assert.equal(first.code, S.PERMISSION_DENIED);
    assert.match(first.details, /not approved/);
    const pending = await call(cli, cli.listAccounts, identityV1.ListAccountsRequest.fromPartial({ states: [identityV1.AccountState.ACCOUNT_STATE_PENDING_APPROVAL] }), { bearer: officer.token });
    const acc = pending.accounts.find((a) => a.principal?.email === 'dev1@bank.example');
    assert.ok(acc, 'the applicant is listed as pending');
    // Only the officer may approve: a developer's session is refused.
    await call(cli, cli.approveAccount, { accountId: acc.principal?.accountId ?? '', roles: [R.ROLE_DEVELOPER], phoneNumber: '+4915100000010', note: 'joined the team', displayName: 'Dev One' }, { bearer: officer.token });
    const dev = await h.firstSignIn('dev1@bank.example');
    const denied = await refused(
      call(cli, cli.approveAccount, { accountId: dev.accountId, roles: [R.ROLE_MANAGER], note: '', displayName: 'Dev One' }, { bearer: dev.token }),
    );
    assert.equal(denied.code, S.PERMISSION_DENIED);
    assert.match(denied.details, /security_officer/);
    assert.ok(actions(h, auditEventV1.Action.ACTION_IDENTITY_ACCOUNT_REQUEST).length >= 1);
  });

  test('roles decide LIVE and STAGING: developers and support never reach LIVE; managers and team leads do, for a shorter time', async () => {
    await h.approve(officer, 'sam@bank.example', [R.ROLE_SUPPORT]);
    await h.approve(officer, 'mia@bank.example', [R.ROLE_MANAGER]);
    await h.approve(officer, 'tom@bank.example', [R.ROLE_TEAM_LEAD]);
    const support = await h.firstSignIn('sam@bank.example');
    const manager = await h.firstSignIn('mia@bank.example');
    const lead = await h.firstSignIn('tom@bank.example');
    const authz = (s: SignedIn, environment: commonV1.Environment, action = A.AUTHORIZE_ACTION_READ_DATA) =>
      call(cli, cli.authorize, { environment, action }, { bearer: s.token });

    const liveSupport = await authz(support, E.ENVIRONMENT_LIVE);
    assert.equal(liveSupport.decision, D.AUTHORIZE_DECISION_DENY);
    assert.equal(liveSupport.reason, identityV1.AuthorizeReason.AUTHORIZE_REASON_ROLE_NOT_PERMITTED);
    assert.match(liveSupport.message, /only manager and team_lead reach LIVE/);
    assert.equal((await authz(support, E.ENVIRONMENT_STAGING)).decision, D.AUTHORIZE_DECISION_ALLOW);
    // Least tooling on STAGING: support does not administer the database; a developer does.
    assert.equal((await authz(support, E.ENVIRONMENT_STAGING, A.AUTHORIZE_ACTION_ADMINISTER_DATABASE)).decision, D.AUTHORIZE_DECISION_DENY);
    const liveOfficer = await authz(officer, E.ENVIRONMENT_LIVE);
    assert.equal(liveOfficer.decision, D.AUTHORIZE_DECISION_DENY, 'P1: not even the officer reaches live customer data');

    for (const s of [manager, lead]) {
      const live = await authz(s, E.ENVIRONMENT_LIVE, A.AUTHORIZE_ACTION_WRITE_DATA);
      assert.equal(live.decision, D.AUTHORIZE_DECISION_ALLOW);
      const staging = await authz(s, E.ENVIRONMENT_STAGING);
      assert.ok(live.validUntil && staging.validUntil && live.validUntil < staging.validUntil, 'LIVE access ends before STAGING access');
      assert.equal(live.validUntil.getTime() - (s.session.issuedAt?.getTime() ?? 0), 15 * 60_000);
    }
    // Invalid enum values are INVALID_ARGUMENT naming the field, not a decision.
    const bad = await refused(call(cli, cli.authorize, { environment: E.ENVIRONMENT_UNSPECIFIED, action: A.AUTHORIZE_ACTION_READ_DATA }, { bearer: manager.token }));
    assert.equal(bad.code, S.INVALID_ARGUMENT);
    assert.match(bad.details, /environment/);
    await h.drainAudit();
    const decisions = actions(h, auditEventV1.Action.ACTION_IDENTITY_AUTHORIZE);
    assert.ok(decisions.length >= 8, 'every decision is audited');
    assert.ok(decisions.some((e) => e.outcome === auditEventV1.Outcome.OUTCOME_DENIED && e.environment === E.ENVIRONMENT_LIVE && e.actor?.id === support.accountId));
    // The first LIVE-capable session from an IP raises the new-IP event for the alert rule.
    const newIp = actions(h, auditEventV1.Action.ACTION_IDENTITY_SIGN_IN_NEW_IP);
    assert.ok(newIp.some((e) => e.actor?.id === manager.accountId && e.environment === E.ENVIRONMENT_LIVE));
    assert.ok(!newIp.some((e) => e.actor?.id === support.accountId), 'roles that never reach LIVE raise no new-IP alert');
  });

  test('VerifySession checks signature, pinned IP and revocation; revocation is immediate', async () => {
    // A trusted proxy relays the presenter's IP (from anyone else client_ip is not honoured: issue 13 item 3).
    const svc = await h.client('web');
    const ok = await call(svc, svc.verifySession, { sessionToken: officer.token, clientIp: '127.0.0.1' });
    assert.equal(ok.valid, true);
    assert.equal(ok.session?.pinnedIp, '127.0.0.1');
    const moved = await call(svc, svc.verifySession, { sessionToken: officer.token, clientIp: '203.0.113.9' });
    assert.equal(moved.valid, false);
    assert.equal(moved.reason, identityV1.SessionInvalidReason.SESSION_INVALID_REASON_IP_MISMATCH);
    const [head, payload, sig] = officer.token.split('.') as [string, string, string];
    // The token names the account's display name (`name`), so services can show it without the e-mail.
    const account = await call(cli, cli.getAccount, { accountId: officer.session.principal?.accountId ?? '' }, { bearer: officer.token });
    assert.ok(account.account?.principal?.displayName);
    assert.equal((JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { name?: string }).name, account.account?.principal?.displayName);
    const forged = `${head}.${payload}.${sig.slice(0, -4)}AAAA`;
    assert.equal((await call(svc, svc.verifySession, { sessionToken: forged, clientIp: '127.0.0.1' })).reason, identityV1.SessionInvalidReason.SESSION_INVALID_REASON_BAD_SIGNATURE);
    assert.equal((await call(svc, svc.verifySession, { sessionToken: '$ne', clientIp: '127.0.0.1' })).reason, identityV1.SessionInvalidReason.SESSION_INVALID_REASON_MALFORMED);

    await h.approve(officer, 'rev@bank.example', [R.ROLE_DEVELOPER]);
    const dev = await h.firstSignIn('rev@bank.example');
    assert.equal((await call(svc, svc.verifySession, { sessionToken: dev.token, clientIp: '127.0.0.1' })).valid, true);
    const revoked = await call(cli, cli.revokeSession, { sessionId: dev.session.sessionId, reason: 'lost laptop' }, { bearer: dev.token });
    assert.equal(revoked.revokedSessionCount, 1);
    const after = await call(svc, svc.verifySession, { sessionToken: dev.token, clientIp: '127.0.0.1' });
    assert.equal(after.valid, false);
    assert.equal(after.reason, identityV1.SessionInvalidReason.SESSION_INVALID_REASON_REVOKED);
    assert.equal((await refused(call(cli, cli.whoAmI, {}, { bearer: dev.token }))).code, S.UNAUTHENTICATED);
    // A non-officer cannot revoke (or learn about) someone else's session.
    await h.approve(officer, 'eve@bank.example', [R.ROLE_DEVELOPER]);
    const eve = await h.firstSignIn('eve@bank.example');
    const notYours = await refused(call(cli, cli.revokeSession, { sessionId: officer.session.sessionId, reason: '' }, { bearer: eve.token }));
    assert.equal(notYours.code, S.NOT_FOUND);
    assert.equal((await call(svc, svc.verifySession, { sessionToken: officer.token, clientIp: '127.0.0.1' })).valid, true);
  });
  test('LIVE access expires after its shorter inactivity limit; STAGING goes on until the session expires; refresh extends', async () => {
    await h.approve(officer, 'lena@bank.example', [R.ROLE_MANAGER]);
    const m = await h.firstSignIn('lena@bank.example');
    h.clock.advance(16 * 60_000);
    const live = await call(cli, cli.authorize, { environment: E.ENVIRONMENT_LIVE, action: A.AUTHORIZE_ACTION_READ_DATA }, { bearer: m.token });
    assert.equal(live.decision, D.AUTHORIZE_DECISION_DENY);
    assert.equal(live.reason, identityV1.AuthorizeReason.AUTHORIZE_REASON_ENVIRONMENT_ACCESS_EXPIRED);
    const staging = await call(cli, cli.authorize, { environment: E.ENVIRONMENT_STAGING, action: A.AUTHORIZE_ACTION_READ_DATA }, { bearer: m.token });
    assert.equal(staging.decision, D.AUTHORIZE_DECISION_ALLOW);
    const refreshed = await call(cli, cli.refreshSession, {}, { bearer: m.token });
    const again = await call(cli, cli.authorize, { environment: E.ENVIRONMENT_LIVE, action: A.AUTHORIZE_ACTION_READ_DATA }, { bearer: refreshed.session?.token ?? '' });
    assert.equal(again.decision, D.AUTHORIZE_DECISION_ALLOW);
    // Past the inactivity limit the token itself is dead.
    h.clock.advance(61 * 60_000);
    const dead = await refused(call(cli, cli.whoAmI, {}, { bearer: refreshed.session?.token ?? '' }));
    assert.equal(dead.code, S.UNAUTHENTICATED);
    assert.match(dead.details, /expired/);
  });
});
