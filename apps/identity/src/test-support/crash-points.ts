import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { assertBothOrNeither, type CrashFinding, backendEnv, skipReason } from '@gatehouse/testing';
import { startIdentity, type IdentityHarness, type SignedIn } from './harness.js';

const R = commonV1.Role;
const Act = auditEventV1.Action;
const O = auditEventV1.Outcome;

/**
 * Issue 14 item 5 for identity, from outside: a replica in a child process, armed to die by
 * SIGKILL at one point of a critical use case (after each write, before and after the commit),
 * serves the officer's RPC; the in-process replica then ships what the outbox holds. The state
 * change and its success event must both exist, or neither: never an approval without its trace,
 * nor a trace of an approval that did not happen.
 *
 * One test file per backend (identity-crash-<backend>.test.ts): each backend's 25 kill-and-restart
 * cases take about 80 s on an idle 2-core machine, and each file has its own time budget.
 */
export function describeCrashPoints(backend: 'sqlite' | 'mongodb'): void {
  describe(`identity crash points (${backend})`, () => {
    let h: IdentityHarness | undefined;
    let cli: IdentityServiceClient;
    let officer: SignedIn;
    let helper: SignedIn;
    let n = 0;

    let skipped: string | undefined;

    before(async () => {
      const env = await backendEnv('identity', backend, (why) => (skipped = why));
      if (!env) return;
      h = await startIdentity(env);
      cli = await h.client('cli');
      officer = await h.bootstrapOfficer('olga.crash@bank.example');
      // The second officer approves role changes (two-person rule) and stays active.
      helper = await h.secondOfficer('hugo.crash@bank.example');
    });
    after(async () => {
      await h?.stop();
    });

    const eventFor = (accountId: string, action: auditEventV1.Action) =>
      h!.events.some((e) => e.subject?.id === accountId && e.action === action && e.outcome === O.OUTCOME_SUCCESS);
    const account = async (accountId: string) => (await call(cli, cli.getAccount, { accountId }, { bearer: officer.token })).account;

    /** An applicant recorded by its refused first BeginSignIn; its account id. */
    const applicant = async (): Promise<string> => {
      const email = `crash.${backend}.${++n}@bank.example`;
      await call(cli, cli.beginSignIn, { googleIdToken: h!.idToken(email) }).then(
        () => assert.fail('an applicant signed in'),
        (err: grpc.ServiceError) => assert.equal(err.code, grpc.status.PERMISSION_DENIED),
      );
      const listed = await call(cli, cli.listAccounts, identityV1.ListAccountsRequest.fromPartial({ email }), { bearer: officer.token });
      const id = listed.accounts[0]?.principal?.accountId;
      assert.ok(id, 'the applicant is listed');
      return id;
    };

    /**
     * Runs `rpc` on a child replica armed at `identity.<useCase>.<point>`, checks it died by
     * SIGKILL, drains the outbox through the in-process replica, and prints and checks the line.
     */
    const crash = async (useCase: string, point: string, rpc: (c: IdentityServiceClient) => Promise<unknown>, observe: () => Promise<CrashFinding>): Promise<void> => {
      const child = await h!.spawnReplica({ GATEHOUSE_TEST_FAULT_POINT: `identity.${useCase}.${point}` });
      const c = await child.client('cli');
      let outcome = '';
      let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      // Up to 3 tries: on a loaded machine audit may not confirm an intent in time (UNAVAILABLE,
      // nothing written), and the replica then lives on without reaching the point.
      for (let attempt = 1; attempt <= 3 && !exited; attempt++) {
        outcome = await rpc(c).then(
          () => 'answered',
          (err: grpc.ServiceError) => `failed (${grpc.status[err.code]}: ${err.details})`,
        );
        exited = await Promise.race([child.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3_000))]);
        if (!exited && outcome === 'answered') break;
      }
      if (!exited) {
        await child.kill();
        assert.fail(`the replica never reached ${useCase}.${point}: the call ${outcome}`);
      }
      assert.equal(exited.signal, 'SIGKILL', `the replica died at ${point} (the call ${outcome}; exit ${JSON.stringify(exited)})`);
      assert.notEqual(outcome, 'answered', 'the killed replica did not answer OK');
      await h!.drainAudit();
      assertBothOrNeither({ useCase, point, backend }, await observe());
    };

    test('ApproveAccount: the account is active with its event, or still pending without one', async (t) => {
      if (!h) return t.skip(skipReason(skipped));
      for (const point of ['account-update', 'before-commit', 'after-commit']) {
        const accountId = await applicant();
        await crash(
          'approve-account',
          point,
          (c) => call(c, c.approveAccount, { accountId, roles: [R.ROLE_DEVELOPER], phoneNumber: '+4915100000321', note: 'crash test', displayName: 'Crash Test' }, { bearer: officer.token }),
          async () => ({
            state: (await account(accountId))?.state === identityV1.AccountState.ACCOUNT_STATE_ACTIVE,
            event: eventFor(accountId, Act.ACTION_IDENTITY_ACCOUNT_APPROVE),
          }),
        );
      }
    });

    test('ApproveAccount with a privileged role: the pending change exists with its request event, or neither', async (t) => {
      if (!h) return t.skip(skipReason(skipped));
      for (const point of ['role-change-create', 'before-commit', 'after-commit']) {
        const accountId = await applicant();
        await crash(
          'approve-account',
          point,
          (c) => call(c, c.approveAccount, { accountId, roles: [R.ROLE_MANAGER], phoneNumber: '+4915100000322', note: 'crash test', displayName: 'Crash Manager' }, { bearer: officer.token }),
          async () => {
            const pending = await call(cli, cli.listRoleChanges, identityV1.ListRoleChangesRequest.fromPartial({}), { bearer: officer.token });
            return {
              state: pending.changes.some((ch) => ch.account?.accountId === accountId),
              event: eventFor(accountId, Act.ACTION_IDENTITY_ROLE_CHANGE_REQUEST),
            };
          },
        );
      }
    });

    test('SetRoles: the roles changed (sessions revoked) with their event, or nothing changed', async (t) => {
      if (!h) return t.skip(skipReason(skipped));
      for (const point of ['account-update', 'revocation-log', 'sessions-revoke', 'before-commit', 'after-commit']) {
        const accountId = await h.approve(officer, `crash.roles.${backend}.${++n}@bank.example`, [R.ROLE_DEVELOPER]);
        await crash(
          'set-roles',
          point,
          (c) => call(c, c.setRoles, { accountId, roles: [R.ROLE_SUPPORT], reason: 'crash test' }, { bearer: officer.token }),
          async () => ({
            state: (await account(accountId))?.principal?.roles.includes(R.ROLE_SUPPORT) ?? false,
            event: eventFor(accountId, Act.ACTION_IDENTITY_ROLES_SET),
          }),
        );
      }
    });

    test('ApproveRoleChange: the change applied AND the roles set, with both events, or none of it', async (t) => {
      if (!h) return t.skip(skipReason(skipped));
      // The helper's session was issued on the harness clock, which each TOTP sign-in moved 30 s
      // ahead; the child replicas keep real time and accept an issue time at most 30 s ahead of
      // theirs. On a fast run, wait until real time is within 25 s of the harness clock.
      const ahead = h.clock.now().getTime() - Date.now();
      if (ahead > 25_000) await sleep(ahead - 25_000);
      for (const point of ['role-change-decide', 'account-update', 'revocation-log', 'sessions-revoke', 'before-commit', 'after-commit']) {
        const accountId = await h.approve(officer, `crash.grant.${backend}.${++n}@bank.example`, [R.ROLE_DEVELOPER]);
        const requested = await call(cli, cli.setRoles, { accountId, roles: [R.ROLE_DEVELOPER, R.ROLE_MANAGER], reason: 'crash test: promotion' }, { bearer: officer.token });
        const changeId = requested.pendingChange?.changeId ?? '';
        assert.ok(changeId, 'the grant waits for the second officer');
        await crash(
          'approve-role-change',
          point,
          (c) => call(c, c.approveRoleChange, { changeId, note: 'crash test: second officer' }, { bearer: helper.token }),
          async () => {
            const applied = await call(cli, cli.listRoleChanges, identityV1.ListRoleChangesRequest.fromPartial({ states: [identityV1.RoleChangeState.ROLE_CHANGE_STATE_APPLIED] }), {
              bearer: officer.token,
            });
            const changeApplied = applied.changes.some((ch) => ch.changeId === changeId);
            const rolesSet = (await account(accountId))?.principal?.roles.includes(R.ROLE_MANAGER) ?? false;
            assert.equal(changeApplied, rolesSet, `the change is applied (${changeApplied}) exactly when the roles are set (${rolesSet})`);
            const approved = eventFor(accountId, Act.ACTION_IDENTITY_ROLE_CHANGE_APPROVE);
            const set = eventFor(accountId, Act.ACTION_IDENTITY_ROLES_SET);
            assert.equal(approved, set, `the approval's event (${approved}) exists exactly when the roles-set event (${set}) does`);
            return { state: rolesSet, event: set };
          },
        );
      }
    });

    test('VerifyOtp (issue 14 item 4, one unit): the session exists with its events and the code is used, or none of it', async (t) => {
      if (!h) return t.skip(skipReason(skipped));
      const points = ['throttle-reserve', 'credential-cas', 'sign-in-cas', 'throttle-reset', 'session-record', 'account-update', 'before-commit', 'after-commit'];
      for (const point of points) {
        const email = `crash.otp.${backend}.${++n}@bank.example`;
        const accountId = await h.approve(officer, email, [R.ROLE_DEVELOPER]);
        // HOTP: its codes do not depend on the clock, which the child replica keeps itself.
        const first = await h.firstSignIn(email, { kind: 'hotp' });
        h.clock.set(Math.max(h.clock.now().getTime(), Date.now()));
        const signInId = await h.pastSms(email);
        const code = h.hotp(first.device);
        const sessions = async () =>
          (await call(cli, cli.listSessions, identityV1.ListSessionsRequest.fromPartial({ accountId, statuses: [identityV1.SessionStatus.SESSION_STATUS_ACTIVE] }), { bearer: officer.token })).sessions.length;
        const verified = () => h!.events.filter((e) => e.subject?.id === accountId && e.action === Act.ACTION_IDENTITY_OTP_VERIFY && e.outcome === O.OUTCOME_SUCCESS).length;
        const failedCount = () => h!.events.filter((e) => e.subject?.id === accountId && e.action === Act.ACTION_IDENTITY_OTP_VERIFY && e.outcome !== O.OUTCOME_SUCCESS).length;
        await h.drainAudit();
        const [sessionsBefore, eventsBefore] = [await sessions(), verified()];
        await crash(
          'verify-otp',
          point,
          (c) => call(c, c.verifyOtp, { signInId, code }),
          async () => {
            const issued = (await sessions()) > sessionsBefore;
            const event = verified() > eventsBefore;
            // The code is used exactly when the session was issued: presenting it again is a replay then.
            const again = await call(cli, cli.verifyOtp, { signInId, code }).then(
              () => 'accepted',
              (err: grpc.ServiceError) => grpc.status[err.code],
            );
            assert.equal(again === 'accepted', !issued, `the code is ${issued ? 'used' : 'still usable'} (retry: ${again})`);
            assert.equal(failedCount(), 0, 'no failure was recorded for the killed attempt');
            return { state: issued, event };
          },
        );
      }
    });
  });
}
