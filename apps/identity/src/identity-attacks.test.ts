import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { forClient, startIdentity, type IdentityHarness, type SignedIn } from './test-support/harness.js';

const R = commonV1.Role;
const S = grpc.status;
const Act = auditEventV1.Action;
const Out = auditEventV1.Outcome;

const codeOf = (h: IdentityHarness) => h.sms[h.sms.length - 1]?.code ?? '';
const wrong = (code: string) => String((Number(code) + 1) % 10 ** code.length).padStart(code.length, '0');

describe('identity under attack: replay, brute force, SMS misuse, hostile input', () => {
  let h: IdentityHarness;
  let cli: IdentityServiceClient;
  let officer: SignedIn;

  before(async () => {
    // Delays of 1 ms so parallel guesses are evaluated (not merely delayed) until the lock at 10.
    h = await startIdentity({ GATEHOUSE_LOCK_AFTER: '10', GATEHOUSE_FREE_FAILURES: '9', GATEHOUSE_THROTTLE_BASE_DELAY_MS: '1', GATEHOUSE_THROTTLE_MAX_DELAY_MS: '1' });
    cli = await h.client('cli');
    officer = await h.bootstrapOfficer('olga@bank.example');
  });
  after(async () => {
    await h?.stop();
  });

  const account = async (id: string) => (await call(cli, cli.getAccount, { accountId: id }, { bearer: officer.token })).account as identityV1.Account;

  test('a TOTP code is accepted once: 20 parallel VerifyOtp with one code on 20 sign-ins give exactly one session', async () => {
    const accountId = await h.approve(officer, 'replay@bank.example', [R.ROLE_DEVELOPER]);
    const first = await h.firstSignIn('replay@bank.example');
    const signIns: string[] = [];
    for (let i = 0; i < 20; i++) {
      signIns.push(await h.pastSms('replay@bank.example'));
      h.clock.advance(31_000); // the SMS resend cooldown is per sign-in; keep sends realistic
    }
    const code = h.totp(first.device);
    const results = await Promise.allSettled(signIns.map((signInId) => call(cli, cli.verifyOtp, { signInId, code })));
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 1, 'exactly one success');
    for (const r of results) {
      if (r.status === 'rejected') {
        // A replay is a failed attempt: refused as invalid, and once 10 failures add up, as locked.
        const e = r.reason as grpc.ServiceError;
        assert.ok(
          (e.code === S.UNAUTHENTICATED && /sign-in or the code is not valid/.test(e.details)) || (e.code === S.PERMISSION_DENIED && /locked/.test(e.details)),
          `${e.code} ${e.details}`,
        );
      }
    }
    // The replays were audited as such against the account, for the alert rule.
    await h.drainAudit();
    assert.ok(h.events.filter((e) => e.action === Act.ACTION_IDENTITY_OTP_REPLAY && e.subject?.id === accountId).length >= 1);
    // An older in-window code after a newer one is refused too.
    await call(cli, cli.unlockAccount, { accountId, note: 'test reset' }, { bearer: officer.token }).catch(() => undefined);
    const older = h.totp(first.device, -1);
    const signInId = await h.pastSms('replay@bank.example');
    assert.equal((await refused(call(cli, cli.verifyOtp, { signInId, code: older }))).code, S.UNAUTHENTICATED);
  });

  test('parallel brute force over 50 connections evaluates at most N guesses and locks every path', async () => {
    const accountId = await h.approve(officer, 'brute@bank.example', [R.ROLE_DEVELOPER]);
    const victim = await h.firstSignIn('brute@bank.example');
    const signInId = await h.pastSms('brute@bank.example');
    const clients = await Promise.all(Array.from({ length: 50 }, () => h.client('cli')));
    const right = h.totp(victim.device);
    const guesses = clients.map((c, i) => call(c, c.verifyOtp, { signInId, code: String((Number(right) + 1 + i) % 1e6).padStart(6, '0') }));
    const results = await Promise.allSettled(guesses);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 0);
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as grpc.ServiceError).code : S.OK));
    assert.ok(codes.every((c) => c === S.UNAUTHENTICATED || c === S.PERMISSION_DENIED || c === S.RESOURCE_EXHAUSTED), String(codes));
    await h.drainAudit();
    const evaluated = h.events.filter((e) => e.action === Act.ACTION_IDENTITY_OTP_VERIFY && e.outcome === Out.OUTCOME_FAILURE && e.subject?.id === accountId);
    assert.ok(evaluated.length <= 10, `at most 10 guesses evaluated, saw ${evaluated.length}`);
    const acc = await account(accountId);
    assert.equal(acc.lockState, identityV1.LockState.LOCK_STATE_LOCKED);
    assert.equal(acc.consecutiveFailures, 10);
    assert.equal(h.events.filter((e) => e.action === Act.ACTION_IDENTITY_ACCOUNT_LOCK && e.subject?.id === accountId).length, 1);

    // Locked on every path: even the right code, SMS, resync, a new sign-in and session refresh.
    const locked = /locked after too many failed attempts/;
    const right2 = await refused(call(cli, cli.verifyOtp, { signInId, code: h.totp(victim.device) }));
    assert.deepEqual([right2.code, locked.test(right2.details)], [S.PERMISSION_DENIED, true]);
    const begin = await refused(call(cli, cli.beginSignIn, { googleIdToken: h.idToken('brute@bank.example') }));
    assert.equal(begin.code, S.PERMISSION_DENIED);
    const send = await refused(call(cli, cli.sendSmsCode, { signInId }));
    assert.equal(send.code, S.PERMISSION_DENIED);
    const resync = await refused(call(cli, cli.resyncHotp, { signInId, firstCode: '123456', secondCode: '234567' }));
    assert.equal(resync.code, S.PERMISSION_DENIED);
    // The lock revoked the victim's sessions (issue 13 item 1): refresh and every other use are refused.
    const refresh = await refused(call(cli, cli.refreshSession, {}, { bearer: victim.token }));
    assert.deepEqual([refresh.code, /revoked/.test(refresh.details)], [S.UNAUTHENTICATED, true]);
    const who = await refused(call(cli, cli.whoAmI, {}, { bearer: victim.token }));
    assert.equal(who.code, S.UNAUTHENTICATED);
    for (const c of clients) c.close();

    // The officer unlocks: the event is emitted and the right code works again.
    await call(cli, cli.unlockAccount, { accountId, note: 'verified by phone' }, { bearer: officer.token });
    await h.drainAudit();
    const unlock = h.events.find((e) => e.action === Act.ACTION_IDENTITY_ACCOUNT_UNLOCK && e.subject?.id === accountId);
    assert.ok(unlock);
    assert.equal(unlock.details['was_locked'], 'true');
    await h.signIn('brute@bank.example', victim.device);
  });

  test('an unknown sign-in and a wrong code get the same status and message', async () => {
    await h.approve(officer, 'enum@bank.example', [R.ROLE_SUPPORT]);
    const dev = await h.firstSignIn('enum@bank.example');
    const signInId = await h.pastSms('enum@bank.example');
    const wrongCode = await refused(call(cli, cli.verifyOtp, { signInId, code: wrong(h.totp(dev.device)) }));
    const unknown = await refused(call(cli, cli.verifyOtp, { signInId: 'si_AAAAAAAAAAAAAAAAAAAAAA', code: '123456' }));
    assert.deepEqual(unknown, wrongCode);
    const smsUnknown = await refused(call(cli, cli.verifySmsCode, { signInId: 'si_BBBBBBBBBBBBBBBBBBBBBB', code: '123456' }));
    assert.deepEqual(smsUnknown, wrongCode);
  });

  test('SMS: bound to its sign-in, expires, cooldown and resend limit, and a resend never resets failures', async () => {
    const accountId = await h.approve(officer, 'sms@bank.example', [R.ROLE_DEVELOPER]);
    const a = (await call(cli, cli.beginSignIn, { googleIdToken: h.idToken('sms@bank.example') })).state?.signInId ?? '';
    const b = (await call(cli, cli.beginSignIn, { googleIdToken: h.idToken('sms@bank.example') })).state?.signInId ?? '';
    const sentA = await call(cli, cli.sendSmsCode, { signInId: a });
    assert.equal(sentA.resendsRemaining, 2);
    assert.ok(sentA.codeExpiresAt && sentA.codeExpiresAt.getTime() - h.clock.now().getTime() <= 10 * 60_000);
    const codeA = codeOf(h);
    assert.match(codeA, /^\d{6}$/);
    assert.equal(h.sms[h.sms.length - 1]?.to, '+4915100000099');
    await call(cli, cli.sendSmsCode, { signInId: b });
    // A's code on B is refused (bound to its sign-in), and counts as a failure.
    assert.equal((await refused(call(cli, cli.verifySmsCode, { signInId: b, code: codeA }))).code, S.UNAUTHENTICATED);
    assert.equal((await refused(call(cli, cli.verifySmsCode, { signInId: a, code: wrong(codeA) }))).code, S.UNAUTHENTICATED);
    assert.equal((await account(accountId)).consecutiveFailures, 2);
    // Resend: cooldown first, then a new code; the old one is dead and the failures stay.
    const cooldown = await refused(call(cli, cli.sendSmsCode, { signInId: a }));
    assert.equal(cooldown.code, S.RESOURCE_EXHAUSTED);
    assert.match(cooldown.details, /wait \d+ s/);
    h.clock.advance(31_000);
    await call(cli, cli.sendSmsCode, { signInId: a });
    const codeA2 = codeOf(h);
    assert.equal((await account(accountId)).consecutiveFailures, 2, 'a new code never resets the failure count');
    if (codeA2 !== codeA) assert.equal((await refused(call(cli, cli.verifySmsCode, { signInId: a, code: codeA }))).code, S.UNAUTHENTICATED);
    h.clock.advance(31_000);
    await call(cli, cli.sendSmsCode, { signInId: a });
    h.clock.advance(31_000);
    const limit = await refused(call(cli, cli.sendSmsCode, { signInId: a }));
    assert.equal(limit.code, S.FAILED_PRECONDITION);
    assert.match(limit.details, /no SMS resends remain/);
    // Expiry: the latest code is refused after its lifetime (5 min by default).
    const latest = codeOf(h);
    h.clock.advance(5 * 60_000 + 1000);
    assert.equal((await refused(call(cli, cli.verifySmsCode, { signInId: a, code: latest }))).code, S.UNAUTHENTICATED);
    // The sign-in is bound to its client IP: the same id from another IP is unknown.
    const c = (await call(cli, cli.beginSignIn, { googleIdToken: h.idToken('sms@bank.example') })).state?.signInId ?? '';
    const web = await h.client('web');
    const moved = await refused(call(web, web.sendSmsCode, { signInId: c }, { metadata: forClient('198.51.100.20') }));
    assert.equal(moved.code, S.UNAUTHENTICATED);
    await call(cli, cli.unlockAccount, { accountId, note: 'test' }, { bearer: officer.token });
  });

  test('hostile input: operator-like strings, malformed ids and codes, oversized tokens get INVALID_ARGUMENT or UNAUTHENTICATED naming the problem, and change nothing', async () => {
    const before = h.events.length;
    const cases: Array<[() => Promise<unknown>, grpc.status, RegExp]> = [
      [() => call(cli, cli.verifyOtp, { signInId: '{"$ne":null}', code: '123456' }), S.INVALID_ARGUMENT, /sign_in_id/],
      [() => call(cli, cli.verifyOtp, { signInId: 'si_AAAAAAAAAAAAAAAAAAAAAA', code: '$ne' }), S.INVALID_ARGUMENT, /code: must be 6 to 10 digits/],
      [() => call(cli, cli.verifySmsCode, { signInId: 'si_AAAAAAAAAAAAAAAAAAAAAA', code: '1'.repeat(5000) }), S.INVALID_ARGUMENT, /code/],
      [() => call(cli, cli.getAccount, { accountId: '$ne' }, { bearer: officer.token }), S.INVALID_ARGUMENT, /account_id/],
      [() => call(cli, cli.approveAccount, { accountId: '{"$gt":""}', roles: [R.ROLE_MANAGER], note: '', displayName: 'Injection Test' }, { bearer: officer.token }), S.INVALID_ARGUMENT, /account_id/],
      [() => call(cli, cli.beginSignIn, { googleIdToken: 'x'.repeat(20_000) }), S.UNAUTHENTICATED, /ID token/],
      [() => call(cli, cli.beginSignIn, { googleIdToken: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.' }), S.UNAUTHENTICATED, /alg "none" is refused/],
      [() => call(cli, cli.whoAmI, {}, { bearer: 'a.b.c' }), S.UNAUTHENTICATED, /session token is malformed/],
      [() => call(cli, cli.setPhoneNumber, { accountId: officer.accountId, phoneNumber: '0151 1234', reason: '' }, { bearer: officer.token }), S.INVALID_ARGUMENT, /phone_number: must be an E.164 number/],
      [() => call(cli, cli.setRoles, { accountId: officer.accountId, roles: [R.ROLE_UNSPECIFIED], reason: 'x' }, { bearer: officer.token }), S.INVALID_ARGUMENT, /roles/],
      [() => call(cli, cli.listAccounts, { states: [], roles: [], lockStates: [], pageSize: 5, pageToken: '$ne' }, { bearer: officer.token }), S.INVALID_ARGUMENT, /page_token/],
    ];
    for (const [p, code, message] of cases) {
      const r = await refused(p());
      assert.equal(r.code, code, `${message}: ${r.details}`);
      assert.match(r.details, message);
    }
    const me = await call(cli, cli.getAccount, { accountId: officer.accountId }, { bearer: officer.token });
    assert.deepEqual(me.account?.principal?.roles, [R.ROLE_SECURITY_OFFICER]);
    assert.equal(me.account?.phoneNumberMask, '••••0001');
    await h.drainAudit();
    assert.ok(!h.events.slice(before).some((e) => e.outcome === Out.OUTCOME_SUCCESS && e.action !== Act.ACTION_IDENTITY_SESSION_VERIFY), 'no state change was audited');
  });

  test('changing a second factor needs a fresh sign-in; HOTP enrolment, look-ahead sign-in and resync', async () => {
    const accountId = await h.approve(officer, 'hotp@bank.example', [R.ROLE_DEVELOPER]);
    const u = await h.firstSignIn('hotp@bank.example', { kind: 'hotp' });
    assert.deepEqual(u.session.amr, [identityV1.AuthMethod.AUTH_METHOD_GOOGLE, identityV1.AuthMethod.AUTH_METHOD_SMS, identityV1.AuthMethod.AUTH_METHOD_HOTP]);
    // Look-ahead: the device skipped 5 codes; the 6th is accepted.
    u.device.counter += 5;
    const s2 = await h.signIn('hotp@bank.example', u.device);
    assert.ok(s2.token);
    // Beyond the window: two consecutive codes resynchronise.
    u.device.counter += 40;
    const signInId = await h.pastSms('hotp@bank.example');
    const lost = await refused(call(cli, cli.verifyOtp, { signInId, code: h.hotp(u.device) }));
    assert.equal(lost.code, S.UNAUTHENTICATED);
    const c1 = h.hotp(u.device);
    const c2 = h.hotp(u.device);
    const synced = await call(cli, cli.resyncHotp, { signInId, firstCode: c1, secondCode: c2 });
    assert.equal(synced.credential?.kind, identityV1.OtpKind.OTP_KIND_HOTP);
    await call(cli, cli.verifyOtp, { signInId, code: h.hotp(u.device) });
    // A fresh session may enrol a new device; an old one may not.
    const enrolled = await call(cli, cli.enrollOtp, identityV1.EnrollOtpRequest.fromPartial({ kind: identityV1.OtpKind.OTP_KIND_TOTP, algorithm: identityV1.OtpAlgorithm.OTP_ALGORITHM_SHA256, digits: 8 }), { bearer: s2.token });
    assert.match(enrolled.otpauthUri, /^otpauth:\/\/totp\/.*algorithm=SHA256.*digits=8/);
    h.clock.advance(11 * 60_000);
    const s3 = await h.signIn('hotp@bank.example', u.device);
    h.clock.advance(11 * 60_000);
    const stale = await refused(call(cli, cli.enrollOtp, identityV1.EnrollOtpRequest.fromPartial({ kind: identityV1.OtpKind.OTP_KIND_TOTP }), { bearer: s3.token }));
    assert.equal(stale.code, S.FAILED_PRECONDITION);
    assert.match(stale.details, /fresh sign-in/);
    // During a sign-in, enrolment is only for accounts without an active credential.
    const si = await h.pastSms('hotp@bank.example');
    const already = await refused(call(cli, cli.enrollOtp, identityV1.EnrollOtpRequest.fromPartial({ signInId: si, kind: identityV1.OtpKind.OTP_KIND_TOTP })));
    assert.equal(already.code, S.FAILED_PRECONDITION);
    await h.drainAudit();
    assert.ok(h.events.some((e) => e.action === Act.ACTION_IDENTITY_HOTP_RESYNC && e.outcome === Out.OUTCOME_SUCCESS && e.actor?.id === accountId));
  });
});
