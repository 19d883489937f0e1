import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { answeredTooLate } from '@gatehouse/testing';
import { startIdentity, type IdentityHarness, type SignedIn } from './test-support/harness.js';

const R = commonV1.Role;
const Act = auditEventV1.Action;
const O = auditEventV1.Outcome;

/**
 * Issue 13 item 6 from outside: the real identity service over mTLS; the audit double receives
 * the Append but answers only after the confirm timeout, then stores the event (a SIGSTOPped
 * audit continued later). The officer's critical changes must not be logged as done.
 */
describe('identity: an officer action audit confirmed too late is never logged as done', () => {
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

  const eventsFor = (accountId: string, action: auditEventV1.Action) => h.events.filter((e) => e.subject?.id === accountId && e.action === action);
  /** Audit holds the Append past the confirm timeout, then answers (and stores it). */
  const lateAnswer = (fn: () => Promise<unknown>, landed: () => boolean) => answeredTooLate((on) => h.hangAudit(on), () => h.drainAudit(), fn, landed);

  test('item 6: suspend and phone change confirmed too late change nothing and read "attempted"; the normal approve logs intent then success', async () => {
    const accountId = await h.approve(officer, 'late@bank.example', [R.ROLE_DEVELOPER]);

    const suspend = await lateAnswer(
      () => call(cli, cli.suspendAccount, { accountId, reason: 'left the company' }, { bearer: officer.token }),
      () => eventsFor(accountId, Act.ACTION_IDENTITY_ACCOUNT_SUSPEND).length > 0,
    );
    assert.equal(suspend.code, grpc.status.UNAVAILABLE);
    assert.match(suspend.details, /audit/);
    const phone = await lateAnswer(
      () => call(cli, cli.setPhoneNumber, { accountId, phoneNumber: '+4915100000777', reason: 'new phone' }, { bearer: officer.token }),
      () => eventsFor(accountId, Act.ACTION_IDENTITY_PHONE_NUMBER_SET).length > 0,
    );
    assert.equal(phone.code, grpc.status.UNAVAILABLE);

    const account = (await call(cli, cli.getAccount, { accountId }, { bearer: officer.token })).account;
    assert.equal(account?.state, identityV1.AccountState.ACCOUNT_STATE_ACTIVE, 'not suspended');
    assert.ok(!account?.phoneNumberMask.endsWith('77'), `the phone number did not change (${account?.phoneNumberMask})`);
    for (const action of [Act.ACTION_IDENTITY_ACCOUNT_SUSPEND, Act.ACTION_IDENTITY_PHONE_NUMBER_SET]) {
      const late = eventsFor(accountId, action);
      assert.ok(late.length > 0, `the late ${auditEventV1.actionToJSON(action)} landed`);
      assert.deepEqual(late.filter((e) => e.outcome === O.OUTCOME_SUCCESS).map((e) => e.eventId), [], `nothing claims ${auditEventV1.actionToJSON(action)} happened`);
      assert.ok(late.some((e) => e.outcome === O.OUTCOME_ATTEMPTED));
    }

    // The normal path (the approval above): a confirmed intent, then the success naming it.
    const approvals = eventsFor(accountId, Act.ACTION_IDENTITY_ACCOUNT_APPROVE);
    const done = approvals.filter((e) => e.outcome === O.OUTCOME_SUCCESS);
    assert.equal(done.length, 1);
    const intent = approvals.find((e) => e.eventId === done[0]!.intentEventId);
    assert.equal(intent?.outcome, O.OUTCOME_ATTEMPTED, 'the approval names its confirmed intent');
    assert.ok(h.events.indexOf(intent) < h.events.indexOf(done[0]!));
  });
});
