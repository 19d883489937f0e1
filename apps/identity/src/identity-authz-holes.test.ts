import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { forClient, startIdentity, type IdentityHarness, type SignedIn } from './test-support/harness.js';

const R = commonV1.Role;
const E = commonV1.Environment;
const A = identityV1.AuthorizeAction;
const D = identityV1.AuthorizeDecision;
const S = grpc.status;

/** Issue 13 items 3, 4 and 5, from outside: real identity over mTLS, callers with their own certificates. */
describe('identity issue 13: caller-chosen client IPs (item 3), the officer on STAGING (item 4), display names (item 5)', () => {
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

  test('item 4: security_officer alone reaches neither environment (no action on STAGING or LIVE)', async () => {
    for (const env of [E.ENVIRONMENT_STAGING, E.ENVIRONMENT_LIVE]) {
      for (const action of [A.AUTHORIZE_ACTION_READ_DATA, A.AUTHORIZE_ACTION_WRITE_DATA, A.AUTHORIZE_ACTION_ADMINISTER_DATABASE, A.AUTHORIZE_ACTION_VIEW_MONITORING, A.AUTHORIZE_ACTION_DEPLOY]) {
        const r = await call(cli, cli.authorize, { environment: env, action }, { bearer: officer.token });
        assert.equal(r.decision, D.AUTHORIZE_DECISION_DENY, `${commonV1.environmentToJSON(env)} ${identityV1.authorizeActionToJSON(action)}`);
        assert.equal(r.reason, identityV1.AuthorizeReason.AUTHORIZE_REASON_ROLE_NOT_PERMITTED);
        assert.match(r.message, /security_officer/);
      }
    }
    // The matrix of the contract for the other roles holds: a developer reads STAGING, support does not deploy.
    await h.approve(officer, 'dev@bank.example', [R.ROLE_DEVELOPER]);
    const dev = await h.firstSignIn('dev@bank.example');
    assert.equal((await call(cli, cli.authorize, { environment: E.ENVIRONMENT_STAGING, action: A.AUTHORIZE_ACTION_READ_DATA }, { bearer: dev.token })).decision, D.AUTHORIZE_DECISION_ALLOW);
  });

  test('item 3: Authorize and VerifySession honour a client IP from the request only from trusted proxies and Gatehouse services', async () => {
    const ip = '198.51.100.7';
    h.allowlisted.add(ip);
    await h.approve(officer, 'roam@bank.example', [R.ROLE_DEVELOPER]);
    const web = await h.client('web');
    const roam = await h.firstSignIn('roam@bank.example', { client: web, clientIp: ip });
    assert.equal(roam.session.pinnedIp, ip);
    assert.equal(roam.session.scope, identityV1.SessionScope.SESSION_SCOPE_FULL);
    const authz = (c: IdentityServiceClient, metadata?: grpc.Metadata) =>
      call(c, c.authorize, { environment: E.ENVIRONMENT_STAGING, action: A.AUTHORIZE_ACTION_READ_DATA, clientIp: ip }, { bearer: roam.token, ...(metadata ? { metadata } : {}) });

    // The trusted backend relays the employee's IP: honoured.
    assert.equal((await authz(web)).decision, D.AUTHORIZE_DECISION_ALLOW);
    assert.equal((await call(web, web.verifySession, { sessionToken: roam.token, clientIp: ip })).valid, true);
    // A Gatehouse service (a service certificate) relays the IP of the employee it serves: honoured.
    const svc = await h.client('audit');
    assert.equal((await call(svc, svc.verifySession, { sessionToken: roam.token, clientIp: ip })).valid, true);

    // Anyone else (an operator's CLI, a backend not named in GATEHOUSE_TRUSTED_PROXIES) cannot
    // pick the IP: the peer IP (loopback) is checked against the pinned IP, so a stolen token
    // does not work from elsewhere.
    for (const name of ['cli', 'other-backend']) {
      const c = await h.client(name);
      const r = await refused(authz(c));
      assert.equal(r.code, S.UNAUTHENTICATED, name);
      assert.match(r.details, /IP/, name);
      // Nor through the header an untrusted caller sends.
      assert.equal((await refused(authz(c, forClient(ip)))).code, S.UNAUTHENTICATED, name);
    }
    const other = await h.client('other-backend');
    const v = await call(other, other.verifySession, { sessionToken: roam.token, clientIp: ip });
    assert.equal(v.valid, false);
    assert.equal(v.reason, identityV1.SessionInvalidReason.SESSION_INVALID_REASON_IP_MISMATCH);
  });

  test('item 5: ApproveAccount requires a display name that is not an e-mail address; the session names the employee by it', async () => {
    await call(cli, cli.beginSignIn, { googleIdToken: h.idToken('lea.dubois@bank.example') }).catch(() => undefined);
    const listed = await call(cli, cli.listAccounts, identityV1.ListAccountsRequest.fromPartial({ email: 'lea.dubois@bank.example' }), { bearer: officer.token });
    const accountId = listed.accounts[0]?.principal?.accountId ?? '';
    const approve = (displayName: string | undefined) =>
      call(cli, cli.approveAccount, identityV1.ApproveAccountRequest.fromPartial({ accountId, roles: [R.ROLE_SUPPORT], phoneNumber: '+4915100000077', note: 'HR-7', ...(displayName === undefined ? {} : { displayName }) }), { bearer: officer.token });
    for (const bad of [undefined, '', '   ', 'lea.dubois@bank.example', 'Lea <lea@bank.example>']) {
      const r = await refused(approve(bad));
      assert.equal(r.code, S.INVALID_ARGUMENT, JSON.stringify(bad));
      assert.match(r.details, /display_name/, JSON.stringify(bad));
      const still = await call(cli, cli.getAccount, { accountId }, { bearer: officer.token });
      assert.equal(still.account?.state, identityV1.AccountState.ACCOUNT_STATE_PENDING_APPROVAL, 'nothing changed');
    }
    const ok = await approve('  Lea Dubois ');
    assert.equal(ok.account?.principal?.displayName, 'Lea Dubois');
    // The session carries it (the `name` claim), and a later sign-in keeps it (not the Google profile's).
    const lea = await h.firstSignIn('lea.dubois@bank.example');
    assert.equal(lea.session.principal?.displayName, 'Lea Dubois');
    const payload = JSON.parse(Buffer.from(lea.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { name?: string };
    assert.equal(payload.name, 'Lea Dubois');
    const again = await h.signIn('lea.dubois@bank.example', lea.device);
    assert.equal(again.session.principal?.displayName, 'Lea Dubois');
  });
});
