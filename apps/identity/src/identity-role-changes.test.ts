import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { startIdentity, type IdentityHarness, type SignedIn } from './test-support/harness.js';

const R = commonV1.Role;
const S = grpc.status;
const Act = auditEventV1.Action;
const CS = identityV1.RoleChangeState;

/**
 * Issue 13 item 2 from outside (real identity over mTLS): nobody changes their own roles, and
 * granting security_officer, manager or team_lead needs a second officer (two-person rule).
 */
describe('identity issue 13 item 2: self-granted roles and the two-person rule', () => {
  let h: IdentityHarness;
  let cli: IdentityServiceClient;
  let olga: SignedIn;
  let bob: SignedIn;

  before(async () => {
    h = await startIdentity();
    cli = await h.client('cli');
    olga = await h.bootstrapOfficer('olga@bank.example');
  });
  after(async () => {
    await h?.stop();
  });

  const account = async (accountId: string) => (await call(cli, cli.getAccount, { accountId }, { bearer: olga.token })).account;
  const setRoles = (by: SignedIn, accountId: string, roles: commonV1.Role[]) => call(cli, cli.setRoles, { accountId, roles, reason: 'promotion HR-77' }, { bearer: by.token });
  /** Records an applicant (the refused first sign-in) and returns its id. */
  const applicant = async (email: string) => {
    await call(cli, cli.beginSignIn, { googleIdToken: h.idToken(email) }).catch(() => undefined);
    const listed = await call(cli, cli.listAccounts, identityV1.ListAccountsRequest.fromPartial({ email }), { bearer: olga.token });
    return listed.accounts[0]?.principal?.accountId ?? '';
  };

  test('nobody changes their own roles: the officer cannot give themselves support or manager', async () => {
    for (const roles of [
      [R.ROLE_SECURITY_OFFICER, R.ROLE_SUPPORT],
      [R.ROLE_SECURITY_OFFICER, R.ROLE_MANAGER],
    ]) {
      const r = await refused(setRoles(olga, olga.accountId, roles));
      assert.equal(r.code, S.PERMISSION_DENIED);
      assert.match(r.details, /own roles/);
    }
    assert.deepEqual((await account(olga.accountId))?.principal?.roles, [R.ROLE_SECURITY_OFFICER], 'nothing changed');
    await h.drainAudit();
    assert.ok(!h.events.some((e) => e.action === Act.ACTION_IDENTITY_ROLES_SET && e.subject?.id === olga.accountId && e.outcome === auditEventV1.Outcome.OUTCOME_SUCCESS));
  });

  test('with one officer, granting manager, team_lead or security_officer is refused (SetRoles and ApproveAccount), saying a second officer is needed', async () => {
    const devId = await h.approve(olga, 'dev@bank.example', [R.ROLE_DEVELOPER]);
    for (const role of [R.ROLE_MANAGER, R.ROLE_TEAM_LEAD, R.ROLE_SECURITY_OFFICER]) {
      const r = await refused(setRoles(olga, devId, [R.ROLE_DEVELOPER, role]));
      assert.equal(r.code, S.FAILED_PRECONDITION);
      assert.match(r.details, /two-person rule/);
      assert.match(r.details, /second (security )?officer/);
    }
    assert.deepEqual((await account(devId))?.principal?.roles, [R.ROLE_DEVELOPER], 'nothing changed');
    const newId = await applicant('newmanager@bank.example');
    const a = await refused(
      call(cli, cli.approveAccount, { accountId: newId, roles: [R.ROLE_MANAGER], phoneNumber: '+4915100000050', note: 'HR-9', displayName: 'New Manager' }, { bearer: olga.token }),
    );
    assert.equal(a.code, S.FAILED_PRECONDITION);
    assert.match(a.details, /two-person rule/);
    assert.equal((await account(newId))?.state, identityV1.AccountState.ACCOUNT_STATE_PENDING_APPROVAL);
    // Developer and support are not privileged: they apply at once.
    assert.equal((await setRoles(olga, devId, [R.ROLE_DEVELOPER, R.ROLE_SUPPORT])).pendingChange, undefined);
    assert.deepEqual((await account(devId))?.principal?.roles, [R.ROLE_DEVELOPER, R.ROLE_SUPPORT]);
  });

  test('with two officers, a privileged grant waits for the OTHER officer; only then it applies and revokes sessions; one approval only', async () => {
    bob = await h.secondOfficer('bob.officer@bank.example');
    const kimId = await h.approve(olga, 'kim@bank.example', [R.ROLE_DEVELOPER]);
    const kim = await h.firstSignIn('kim@bank.example');
    const asked = await setRoles(olga, kimId, [R.ROLE_DEVELOPER, R.ROLE_MANAGER]);
    const change = asked.pendingChange;
    assert.ok(change, 'the grant is pending');
    assert.equal(change.state, CS.ROLE_CHANGE_STATE_PENDING);
    assert.deepEqual(change.grantedRoles, [R.ROLE_MANAGER]);
    assert.deepEqual(change.roles, [R.ROLE_DEVELOPER, R.ROLE_MANAGER]);
    assert.equal(change.requestedBy?.accountId, olga.accountId);
    assert.equal(asked.revokedSessionCount, 0);
    assert.deepEqual(asked.account?.principal?.roles, [R.ROLE_DEVELOPER], 'not applied yet');
    const live = await call(cli, cli.authorize, { environment: commonV1.Environment.ENVIRONMENT_LIVE, action: identityV1.AuthorizeAction.AUTHORIZE_ACTION_READ_DATA }, { bearer: kim.token });
    assert.equal(live.decision, identityV1.AuthorizeDecision.AUTHORIZE_DECISION_DENY, 'no LIVE before the second approval');
    const listed = await call(cli, cli.listRoleChanges, identityV1.ListRoleChangesRequest.fromPartial({}), { bearer: bob.token });
    assert.ok(listed.changes.some((c) => c.changeId === change.changeId && c.account?.email === 'kim@bank.example'));

    // The requester cannot approve their own request; the account holder is not an officer.
    const own = await refused(call(cli, cli.approveRoleChange, { changeId: change.changeId, note: 'me' }, { bearer: olga.token }));
    assert.equal(own.code, S.PERMISSION_DENIED);
    assert.match(own.details, /two-person rule/);
    assert.equal((await refused(call(cli, cli.approveRoleChange, { changeId: change.changeId, note: '' }, { bearer: kim.token }))).code, S.PERMISSION_DENIED);
    assert.deepEqual((await account(kimId))?.principal?.roles, [R.ROLE_DEVELOPER]);

    // Ten approvals at once by the second officer: exactly one applies.
    const tries = await Promise.allSettled(Array.from({ length: 10 }, () => call(cli, cli.approveRoleChange, { changeId: change.changeId, note: 'checked HR-77' }, { bearer: bob.token })));
    const ok = tries.filter((t): t is PromiseFulfilledResult<identityV1.ApproveRoleChangeResponse> => t.status === 'fulfilled');
    assert.equal(ok.length, 1, 'one approval applies');
    for (const t of tries) if (t.status === 'rejected') assert.ok([S.FAILED_PRECONDITION, S.ABORTED].includes((t.reason as grpc.ServiceError).code));
    const applied = ok[0]?.value;
    assert.equal(applied?.change?.state, CS.ROLE_CHANGE_STATE_APPLIED);
    assert.equal(applied?.change?.approvedBy?.accountId, bob.accountId);
    assert.deepEqual(applied?.account?.principal?.roles, [R.ROLE_DEVELOPER, R.ROLE_MANAGER]);
    assert.equal(applied?.revokedSessionCount, 1, "the holder's sessions are revoked so the new roles take effect");
    assert.equal((await refused(call(cli, cli.whoAmI, {}, { bearer: kim.token }))).code, S.UNAUTHENTICATED);
    const again = await refused(call(cli, cli.approveRoleChange, { changeId: change.changeId, note: '' }, { bearer: bob.token }));
    assert.equal(again.code, S.FAILED_PRECONDITION);
    assert.match(again.details, /already/);

    // Every step is audited, for the alert rule: requested, approved, applied.
    await h.drainAudit();
    const of = (action: auditEventV1.Action) => h.events.filter((e) => e.action === action && e.subject?.id === kimId && e.outcome === auditEventV1.Outcome.OUTCOME_SUCCESS);
    assert.equal(of(Act.ACTION_IDENTITY_ROLE_CHANGE_REQUEST)[0]?.actor?.id, olga.accountId);
    assert.equal(of(Act.ACTION_IDENTITY_ROLE_CHANGE_REQUEST)[0]?.details['granted_roles'], 'manager');
    assert.equal(of(Act.ACTION_IDENTITY_ROLE_CHANGE_APPROVE).length, 1);
    assert.equal(of(Act.ACTION_IDENTITY_ROLE_CHANGE_APPROVE)[0]?.actor?.id, bob.accountId);
    const set = of(Act.ACTION_IDENTITY_ROLES_SET).find((e) => e.details['change_id'] === change.changeId);
    assert.ok(set, 'the applied change is audited with its change id');
    assert.equal(set.details['approved_by'], bob.accountId);

    // With two officers, an officer's own promotion cannot be approved by anyone (not by themselves, not by the requester).
    const olgaUp = await refused(setRoles(bob, olga.accountId, [R.ROLE_SECURITY_OFFICER, R.ROLE_MANAGER]));
    assert.equal(olgaUp.code, S.FAILED_PRECONDITION);
    assert.match(olgaUp.details, /two-person rule/);
  });

  test('ApproveAccount with a privileged role follows the same rule; a pending change expires', async () => {
    // Bob, the second officer appointed above, signs in again.
    bob = await h.signIn('bob.officer@bank.example', bob.device);
    const leadId = await applicant('lead@bank.example');
    const asked = await call(cli, cli.approveAccount, { accountId: leadId, roles: [R.ROLE_TEAM_LEAD], phoneNumber: '+4915100000051', note: 'HR-10', displayName: 'Tea Lead' }, { bearer: olga.token });
    assert.ok(asked.pendingChange);
    assert.equal(asked.pendingChange.kind, identityV1.RoleChangeKind.ROLE_CHANGE_KIND_APPROVE_ACCOUNT);
    assert.equal(asked.account?.state, identityV1.AccountState.ACCOUNT_STATE_PENDING_APPROVAL, 'not approved yet');
    assert.equal((await refused(call(cli, cli.beginSignIn, { googleIdToken: h.idToken('lead@bank.example') }))).code, S.PERMISSION_DENIED);
    const done = await call(cli, cli.approveRoleChange, { changeId: asked.pendingChange.changeId, note: 'HR-10 checked' }, { bearer: bob.token });
    assert.equal(done.account?.state, identityV1.AccountState.ACCOUNT_STATE_ACTIVE);
    assert.deepEqual(done.account?.principal?.roles, [R.ROLE_TEAM_LEAD]);
    assert.equal(done.account?.principal?.displayName, 'Tea Lead');
    const lead = await h.firstSignIn('lead@bank.example');
    assert.deepEqual(lead.session.principal?.roles, [R.ROLE_TEAM_LEAD]);

    // A change nobody approves within 24 h expires and can no longer be applied.
    const slowId = await h.approve(olga, 'slow@bank.example', [R.ROLE_SUPPORT]);
    const slow = (await setRoles(olga, slowId, [R.ROLE_SUPPORT, R.ROLE_MANAGER])).pendingChange;
    assert.ok(slow);
    h.clock.advance(24 * 3600_000 + 1000);
    const bob2 = await h.signIn('bob.officer@bank.example', bob.device);
    const late = await refused(call(cli, cli.approveRoleChange, { changeId: slow.changeId, note: '' }, { bearer: bob2.token }));
    assert.equal(late.code, S.FAILED_PRECONDITION);
    assert.match(late.details, /expired/);
    const olga2 = await h.signIn('olga@bank.example', olga.device);
    assert.deepEqual((await call(cli, cli.getAccount, { accountId: slowId }, { bearer: olga2.token })).account?.principal?.roles, [R.ROLE_SUPPORT]);
    const expired = await call(cli, cli.listRoleChanges, identityV1.ListRoleChangesRequest.fromPartial({ states: [CS.ROLE_CHANGE_STATE_EXPIRED] }), { bearer: olga2.token });
    assert.ok(expired.changes.some((c) => c.changeId === slow.changeId && c.state === CS.ROLE_CHANGE_STATE_EXPIRED));
    const pending = await call(cli, cli.listRoleChanges, identityV1.ListRoleChangesRequest.fromPartial({}), { bearer: olga2.token });
    assert.ok(!pending.changes.some((c) => c.changeId === slow.changeId));
    assert.equal((await refused(call(cli, cli.approveRoleChange, { changeId: 'rch_doesnotexist0000000000', note: '' }, { bearer: bob2.token }))).code, S.NOT_FOUND);
  });
});
