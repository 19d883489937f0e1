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

/** Issue 13 items 3 and 4, from outside: real identity over mTLS, callers with their own certificates. */
describe('identity issue 13: caller-chosen client IPs (item 3), the officer on STAGING (item 4)', () => {
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
});
