import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { commonV1, identityV1, IdentityServiceService, SERVICE_NAMES } from '@gatehouse/contracts';
import { FailedPreconditionError, PermissionDeniedError, ResourceExhaustedError, systemClock, UnauthenticatedError } from '@gatehouse/core';
import { DEV_CLIENT_ID, DEV_ISSUER, DevIdTokenIssuer } from '@gatehouse/dev-issuer';
import { unary, type RunningServer } from '@gatehouse/service-kit';
import { startFakeService, tempDir, type TempDir } from '@gatehouse/testing';
import { run } from './cli.js';

const { Role } = commonV1;
const { SignInStep, SessionScope, OtpKind, OtpAlgorithm, AccountState, LockState, AuthMethod } = identityV1;

// Secrets the CLI handles and must never print.
const SESSION_TOKEN = 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.c2Vzc2lvbi1wYXlsb2Fk.c2lnbmF0dXJlLXNlY3JldA';
const SIGN_IN_ID = 'sin-4f9c2b7e0d1a8c3e5b6f';
const SMS_CODE = '482913';
const CONFIRM_CODE = '615207';
const OTP_CODE = '903418';
const OTPAUTH = 'otpauth://totp/Gatehouse:alice%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30';

const NOW = Date.now();
const minutes = (m: number) => new Date(NOW + m * 60_000);

interface Recorded {
  rpc: string;
  req: unknown;
  bearer: string | undefined;
}

/** The fake identity's behaviour, set per test. */
interface FakeState {
  enrolled: boolean;
  scope: identityV1.SessionScope;
  smsCooldown: boolean;
}

const principal = (): commonV1.Principal =>
  commonV1.Principal.fromPartial({ accountId: 'acc-alice', email: 'alice@example.com', displayName: 'Alice Example', roles: [Role.ROLE_MANAGER, Role.ROLE_DEVELOPER] });

function sessionInfo(scope: identityV1.SessionScope): identityV1.SessionInfo {
  const full = scope === SessionScope.SESSION_SCOPE_FULL;
  return identityV1.SessionInfo.fromPartial({
    sessionId: 'ses-7d3e',
    principal: principal(),
    scope,
    amr: [AuthMethod.AUTH_METHOD_GOOGLE, AuthMethod.AUTH_METHOD_SMS, AuthMethod.AUTH_METHOD_TOTP],
    pinnedIp: '198.51.100.23',
    issuedAt: new Date(NOW),
    authTime: new Date(NOW),
    expiresAt: minutes(60),
    absoluteExpiresAt: minutes(24 * 60),
    environmentAccess: full
      ? [
          { environment: commonV1.Environment.ENVIRONMENT_LIVE, expiresAt: minutes(120) },
          { environment: commonV1.Environment.ENVIRONMENT_STAGING, expiresAt: minutes(480) },
        ]
      : [],
  });
}

function account(id = 'acc-alice'): identityV1.Account {
  return identityV1.Account.fromPartial({
    principal: { ...principal(), accountId: id },
    state: AccountState.ACCOUNT_STATE_ACTIVE,
    lockState: LockState.LOCK_STATE_UNLOCKED,
    phoneNumberMask: '+49 151•• ••••78',
  });
}

/** A role change waiting for a second officer, as the fake identity answers it. */
function pendingChange(roles: commonV1.Role[]): identityV1.RoleChange {
  return identityV1.RoleChange.fromPartial({
    changeId: 'rch-0001',
    account: { accountId: 'acc-bob', email: 'bob@example.com', roles: [Role.ROLE_DEVELOPER] },
    kind: identityV1.RoleChangeKind.ROLE_CHANGE_KIND_SET_ROLES,
    roles,
    grantedRoles: roles.filter((r) => r === Role.ROLE_MANAGER || r === Role.ROLE_TEAM_LEAD),
    reason: 'promotion',
    requestedBy: { accountId: 'acc-olga', email: 'olga@example.com' },
    requestedAt: new Date(NOW),
    expiresAt: minutes(24 * 60),
    state: identityV1.RoleChangeState.ROLE_CHANGE_STATE_PENDING,
  });
}

function signInState(next: identityV1.SignInStep, enrolled: boolean): identityV1.SignInState {
  return identityV1.SignInState.fromPartial({
    signInId: SIGN_IN_ID,
    email: 'alice@example.com',
    displayName: 'Alice Example',
    nextStep: next,
    phoneNumberMask: '+49 151•• ••••78',
    otpKind: enrolled ? OtpKind.OTP_KIND_TOTP : OtpKind.OTP_KIND_UNSPECIFIED,
    clientIp: '198.51.100.23',
    expiresAt: minutes(10),
  });
}

/** Verifies an RS256 JWT with a public key and returns its payload. */
function verifiedPayload(jwt: string, publicKeyPem: string): Record<string, unknown> {
  const [h, p, s] = jwt.split('.');
  assert.ok(h && p && s, 'a JWT has three parts');
  assert.equal((JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string }).alg, 'RS256');
  assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey(publicKeyPem), Buffer.from(s, 'base64url')), 'signature verifies with the issuer key');
  return JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
}

describe('gatehouse identity commands against a fake IdentityService', () => {
  let server: RunningServer;
  let dir: TempDir;
  let keyFile: string;
  let issuer: DevIdTokenIssuer;
  const calls: Recorded[] = [];
  const state: FakeState = { enrolled: false, scope: SessionScope.SESSION_SCOPE_FULL, smsCooldown: false };

  const record = <Req, Res>(rpc: string, fn: (req: Req, bearer: string | undefined) => Res | Promise<Res>) =>
    unary<Req, Res>(async (req, ctx) => {
      const bearer = ctx.bearerToken();
      calls.push({ rpc, req, bearer });
      return fn(req, bearer);
    });
  const requireSession = (bearer: string | undefined) => {
    if (bearer !== SESSION_TOKEN) throw new UnauthenticatedError('session missing or invalid');
  };
  const rpcs = () => calls.map((c) => c.rpc);
  const callOf = <T>(rpc: string): Recorded & { req: T } => {
    const c = calls.find((x) => x.rpc === rpc);
    assert.ok(c, `${rpc} was called`);
    return c as Recorded & { req: T };
  };

  const configDir = () => path.join(dir.path, 'config');
  const sessionFile = () => path.join(configDir(), 'session');
  const env = (extra: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
    GATEHOUSE_INSECURE_PLAINTEXT: 'true',
    GATEHOUSE_IDENTITY_ADDR: server.address,
    GATEHOUSE_CONFIG_DIR: configDir(),
    GATEHOUSE_DEV_ISSUER_KEY_FILE: keyFile,
    HOME: dir.path,
    ...extra,
  });
  const storeSession = () => {
    fs.mkdirSync(configDir(), { recursive: true, mode: 0o700 });
    fs.writeFileSync(sessionFile(), SESSION_TOKEN, { mode: 0o600 });
  };

  /** A prompt answering by question; records the questions asked. */
  const answering = (answers: Array<[RegExp, string]>) => {
    const asked: string[] = [];
    const prompt = async (q: string) => {
      asked.push(q);
      const hit = answers.find(([re]) => re.test(q));
      assert.ok(hit, `unexpected question ${JSON.stringify(q)}`);
      return `${hit[1]}\n`;
    };
    return { asked, prompt };
  };
  const capture = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, o: (l: string) => out.push(l), e: (l: string) => err.push(l), all: () => [...out, ...err].join('\n') };
  };
  const assertNoSecrets = (text: string) => {
    for (const secret of [SESSION_TOKEN, SIGN_IN_ID, SMS_CODE, CONFIRM_CODE, OTP_CODE]) assert.ok(!text.includes(secret), `output must not contain ${secret}`);
  };

  before(async () => {
    dir = await tempDir('cli-identity');
    issuer = new DevIdTokenIssuer({ clock: systemClock });
    keyFile = path.join(dir.path, 'identity-dev-issuer-key.pem');
    fs.writeFileSync(keyFile, issuer.privateKeyPem(), { mode: 0o600 });
    server = await startFakeService({
      name: SERVICE_NAMES.identity,
      definition: IdentityServiceService,
      handlers: {
        BeginSignIn: record<identityV1.BeginSignInRequest, identityV1.BeginSignInResponse>('BeginSignIn', () => ({
          state: signInState(SignInStep.SIGN_IN_STEP_SMS_CODE, state.enrolled),
        })),
        SendSmsCode: record<identityV1.SendSmsCodeRequest, identityV1.SendSmsCodeResponse>('SendSmsCode', (req) => {
          assert.equal(req.signInId, SIGN_IN_ID);
          if (state.smsCooldown) throw new ResourceExhaustedError('a code was sent moments ago; wait before asking for another', 30_000);
          return { state: signInState(SignInStep.SIGN_IN_STEP_SMS_CODE, state.enrolled), codeExpiresAt: minutes(10), retryAfter: { seconds: 30, nanos: 0 }, resendsRemaining: 2 };
        }),
        VerifySmsCode: record<identityV1.VerifySmsCodeRequest, identityV1.VerifySmsCodeResponse>('VerifySmsCode', (req) => {
          if (req.signInId !== SIGN_IN_ID || req.code !== SMS_CODE) throw new UnauthenticatedError('wrong, expired or used code');
          return { state: signInState(state.enrolled ? SignInStep.SIGN_IN_STEP_OTP_CODE : SignInStep.SIGN_IN_STEP_OTP_ENROLLMENT, state.enrolled) };
        }),
        EnrollOtp: record<identityV1.EnrollOtpRequest, identityV1.EnrollOtpResponse>('EnrollOtp', (req, bearer) => {
          if (req.signInId === undefined) requireSession(bearer);
          return {
            credentialId: 'cred-1',
            otpauthUri: OTPAUTH,
            credential: identityV1.OtpCredential.fromPartial({ credentialId: 'cred-1', kind: req.kind, algorithm: req.algorithm || OtpAlgorithm.OTP_ALGORITHM_SHA1, digits: req.digits || 6, label: req.label }),
            confirmBy: minutes(10),
          };
        }),
        ConfirmOtpEnrollment: record<identityV1.ConfirmOtpEnrollmentRequest, identityV1.ConfirmOtpEnrollmentResponse>('ConfirmOtpEnrollment', (req, bearer) => {
          if (req.signInId === undefined) requireSession(bearer);
          if (req.credentialId !== 'cred-1' || req.code !== CONFIRM_CODE) throw new UnauthenticatedError('wrong code');
          return {
            credential: identityV1.OtpCredential.fromPartial({ credentialId: 'cred-1', kind: OtpKind.OTP_KIND_TOTP }),
            state: req.signInId ? signInState(SignInStep.SIGN_IN_STEP_OTP_CODE, true) : undefined,
          };
        }),
        VerifyOtp: record<identityV1.VerifyOtpRequest, identityV1.VerifyOtpResponse>('VerifyOtp', (req) => {
          if (req.signInId !== SIGN_IN_ID || req.code !== OTP_CODE) throw new UnauthenticatedError('wrong, replayed or out-of-window code');
          return { session: { token: SESSION_TOKEN, info: sessionInfo(state.scope) }, notices: [] };
        }),
        WhoAmI: record<identityV1.WhoAmIRequest, identityV1.WhoAmIResponse>('WhoAmI', (_req, bearer) => {
          requireSession(bearer);
          return { account: account(), session: sessionInfo(state.scope) };
        }),
        RevokeSession: record<identityV1.RevokeSessionRequest, identityV1.RevokeSessionResponse>('RevokeSession', (_req, bearer) => {
          requireSession(bearer);
          return { revokedSessionCount: 1 };
        }),
        ListAccounts: record<identityV1.ListAccountsRequest, identityV1.ListAccountsResponse>('ListAccounts', (_req, bearer) => {
          requireSession(bearer);
          return { accounts: [identityV1.Account.fromPartial({ ...account('acc-bob'), state: AccountState.ACCOUNT_STATE_PENDING_APPROVAL, principal: { accountId: 'acc-bob', email: 'bob@example.com', roles: [] } })], nextPageToken: '' };
        }),
        ApproveAccount: record<identityV1.ApproveAccountRequest, identityV1.ApproveAccountResponse>('ApproveAccount', (req, bearer) => {
          requireSession(bearer);
          if (req.accountId === 'acc-active') throw new FailedPreconditionError('account acc-active is already ACTIVE');
          const a = account(req.accountId);
          if (req.roles.includes(Role.ROLE_TEAM_LEAD)) return { account: { ...a, state: AccountState.ACCOUNT_STATE_PENDING_APPROVAL }, pendingChange: pendingChange(req.roles) };
          return { account: { ...a, principal: a.principal ? { ...a.principal, roles: req.roles } : undefined } };
        }),
        SetRoles: record<identityV1.SetRolesRequest, identityV1.SetRolesResponse>('SetRoles', (req, bearer) => {
          requireSession(bearer);
          const a = account(req.accountId);
          if (req.roles.includes(Role.ROLE_MANAGER)) return { account: a, revokedSessionCount: 0, pendingChange: pendingChange(req.roles) };
          return { account: { ...a, principal: a.principal ? { ...a.principal, roles: req.roles } : undefined }, revokedSessionCount: 2 };
        }),
        ListRoleChanges: record<identityV1.ListRoleChangesRequest, identityV1.ListRoleChangesResponse>('ListRoleChanges', (_req, bearer) => {
          requireSession(bearer);
          return { changes: [pendingChange([Role.ROLE_DEVELOPER, Role.ROLE_MANAGER])] };
        }),
        ApproveRoleChange: record<identityV1.ApproveRoleChangeRequest, identityV1.ApproveRoleChangeResponse>('ApproveRoleChange', (req, bearer) => {
          requireSession(bearer);
          if (req.changeId === 'rch-mine') throw new PermissionDeniedError('two-person rule: the officer who requested a role change cannot approve it; another security officer must');
          return { change: { ...pendingChange([Role.ROLE_MANAGER]), state: identityV1.RoleChangeState.ROLE_CHANGE_STATE_APPLIED }, account: account('acc-bob'), revokedSessionCount: 1 };
        }),
        BootstrapOfficer: record<identityV1.BootstrapOfficerRequest, identityV1.BootstrapOfficerResponse>('BootstrapOfficer', () => ({ account: account('acc-officer') })),
      },
    });
  });
  after(async () => {
    await server.shutdown();
    await dir.cleanup();
  });
  beforeEach(() => {
    calls.length = 0;
    Object.assign(state, { enrolled: false, scope: SessionScope.SESSION_SCOPE_FULL, smsCooldown: false });
    fs.rmSync(configDir(), { recursive: true, force: true });
  });

  test('login --dev walks BeginSignIn → SMS → OTP enrolment → VerifyOtp and stores exactly the token, 0600', async () => {
    // A stale session file with wide permissions, in a wide folder: both must end up private.
    fs.mkdirSync(configDir(), { recursive: true, mode: 0o755 });
    fs.chmodSync(configDir(), 0o755);
    fs.writeFileSync(sessionFile(), 'stale-token', { mode: 0o644 });
    fs.chmodSync(sessionFile(), 0o644);

    const c = capture();
    const p = answering([
      [/^SMS code$/, SMS_CODE],
      [/^Code shown by the authenticator app$/, CONFIRM_CODE],
      [/^OTP code \(wait for the next code\)$/, OTP_CODE],
    ]);
    const code = await run(['login', '--dev', 'alice@example.com', '--name', 'Alice Example'], env(), c.o, c.e, undefined, p.prompt);
    assert.equal(code, 0, c.all());

    assert.deepEqual(rpcs(), ['BeginSignIn', 'SendSmsCode', 'VerifySmsCode', 'EnrollOtp', 'ConfirmOtpEnrollment', 'VerifyOtp']);
    assert.deepEqual(p.asked, ['SMS code', 'Code shown by the authenticator app', 'OTP code (wait for the next code)']);
    // The Google ID token is a dev token for this e-mail, signed with the dev stack's key.
    const idToken = callOf<identityV1.BeginSignInRequest>('BeginSignIn').req.googleIdToken;
    assert.equal(verifiedPayload(idToken, issuer.publicKeyPem())['email'], 'alice@example.com');
    assert.deepEqual(callOf<identityV1.VerifySmsCodeRequest>('VerifySmsCode').req, { signInId: SIGN_IN_ID, code: SMS_CODE });
    const enroll = callOf<identityV1.EnrollOtpRequest>('EnrollOtp').req;
    assert.deepEqual(
      { signInId: enroll.signInId, kind: enroll.kind, algorithm: enroll.algorithm, digits: enroll.digits },
      { signInId: SIGN_IN_ID, kind: OtpKind.OTP_KIND_TOTP, algorithm: OtpAlgorithm.OTP_ALGORITHM_SHA1, digits: 6 },
    );
    assert.deepEqual(callOf<identityV1.ConfirmOtpEnrollmentRequest>('ConfirmOtpEnrollment').req, { credentialId: 'cred-1', code: CONFIRM_CODE, signInId: SIGN_IN_ID });
    assert.deepEqual(callOf<identityV1.VerifyOtpRequest>('VerifyOtp').req, { signInId: SIGN_IN_ID, code: OTP_CODE });
    // No sign-in step carries a session.
    assert.ok(calls.every((x) => x.bearer === undefined));

    assert.equal(fs.readFileSync(sessionFile(), 'utf8'), SESSION_TOKEN);
    assert.equal(fs.statSync(sessionFile()).mode & 0o777, 0o600);
    assert.equal(fs.statSync(configDir()).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(configDir()), ['session'], 'no temporary file is left behind');

    const text = c.all();
    assertNoSecrets(text);
    assert.match(text, /Signing in as Alice Example <alice@example\.com>/);
    assert.match(text, /dev SMS sink shows the code on the `npm start` console/);
    assert.ok(text.includes(OTPAUTH), 'the otpauth URI is shown for enrolment');
    assert.match(text, /[▀▄█]{10,}/, 'a terminal QR code is drawn');
    assert.match(text, /Signed in as Alice Example <alice@example\.com> \(account acc-alice, roles manager,developer\)/);
    assert.match(text, /Scope: FULL/);
    assert.match(text, /expires \d{4}-\d\d-\d\dT.*at the latest \d{4}-/);
    assert.match(text, /LIVE access until \d{4}-/);
    assert.match(text, /STAGING access until \d{4}-/);
    assert.ok(text.includes(sessionFile()));
  });

  test('login with a REGISTER_IP_ONLY session says the IP is not allowlisted and how to register it', async () => {
    state.enrolled = true;
    state.scope = SessionScope.SESSION_SCOPE_REGISTER_IP_ONLY;
    const idTokenFile = path.join(dir.path, 'google-id-token');
    fs.writeFileSync(idTokenFile, 'google.id.token\n');
    const c = capture();
    const p = answering([
      [/^SMS code$/, SMS_CODE],
      [/^OTP code$/, OTP_CODE],
    ]);
    assert.equal(await run(['login', '--id-token-file', idTokenFile], env(), c.o, c.e, undefined, p.prompt), 0, c.all());
    assert.deepEqual(rpcs(), ['BeginSignIn', 'SendSmsCode', 'VerifySmsCode', 'VerifyOtp']);
    assert.equal(callOf<identityV1.BeginSignInRequest>('BeginSignIn').req.googleIdToken, 'google.id.token');
    const text = c.all();
    assertNoSecrets(text);
    assert.match(text, /Scope: REGISTER_IP_ONLY/);
    assert.match(text, /198\.51\.100\.23 is not on the allowlist/);
    assert.match(text, /`gatehouse ip register` to register today's IP/);
    assert.doesNotMatch(text, /dev SMS sink/, 'no dev hint outside dev mode');
    assert.equal(fs.readFileSync(sessionFile(), 'utf8'), SESSION_TOKEN);
  });

  test('SendSmsCode RESOURCE_EXHAUSTED: exit 1 with the server message and the retry hint, no prompt', async () => {
    state.smsCooldown = true;
    const c = capture();
    const p = answering([]);
    assert.equal(await run(['login', '--dev', 'alice@example.com'], env(), c.o, c.e, undefined, p.prompt), 1);
    assert.deepEqual(p.asked, []);
    assert.match(c.err.join('\n'), /SendSmsCode: RESOURCE_EXHAUSTED: a code was sent moments ago.*\(retry in 30 s\)/);
    assert.match(c.err.join('\n'), /wait 30 s and run `gatehouse login` again/);
    assert.equal(fs.existsSync(sessionFile()), false);
  });

  test('a wrong SMS code prints the server status and message, exit 1, and stores nothing', async () => {
    const c = capture();
    const p = answering([[/^SMS code$/, '000000']]);
    assert.equal(await run(['login', '--dev', 'alice@example.com'], env(), c.o, c.e, undefined, p.prompt), 1);
    assert.match(c.err.join('\n'), /VerifySmsCode: UNAUTHENTICATED: wrong, expired or used code/);
    assert.ok(!c.all().includes('000000'));
    assert.equal(fs.existsSync(sessionFile()), false);
  });

  test('whoami uses the stored session and shows account, roles, scope, pinned IP, amr and expiries', async () => {
    storeSession();
    const c = capture();
    assert.equal(await run(['whoami'], env(), c.o, c.e), 0, c.all());
    assert.equal(callOf('WhoAmI').bearer, SESSION_TOKEN);
    const text = c.out.join('\n');
    assertNoSecrets(text);
    for (const re of [
      /e-mail: +alice@example\.com \(Alice Example\)/,
      /account: +acc-alice/,
      /roles: +manager,developer/,
      /account state: +active, unlocked/,
      /session: +ses-7d3e/,
      /scope: +FULL/,
      /pinned IP: +198\.51\.100\.23/,
      /amr: +google,sms,totp/,
      /expires: +\d{4}-/,
      /LIVE access until: +\d{4}-/,
      /STAGING access until: +\d{4}-/,
    ]) {
      assert.match(text, re);
    }

    const j = capture();
    assert.equal(await run(['whoami', '--json'], env(), j.o, j.e), 0);
    const parsed = JSON.parse(j.out[0] ?? '{}') as { account: { principal: { email: string } }; session: { scope: string; sessionId: string } };
    assert.equal(parsed.account.principal.email, 'alice@example.com');
    assert.deepEqual([parsed.session.scope, parsed.session.sessionId], ['SESSION_SCOPE_FULL', 'ses-7d3e']);
  });

  test('without any session, commands say to run gatehouse login (usage error, no RPC)', async () => {
    const c = capture();
    assert.equal(await run(['whoami'], env(), c.o, c.e), 2);
    assert.match(c.err.join('\n'), /run `gatehouse login`/);
    assert.deepEqual(calls, []);
  });

  test('a stored session file with wide permissions is narrowed to 0600 when read', async () => {
    storeSession();
    fs.chmodSync(sessionFile(), 0o644);
    const c = capture();
    assert.equal(await run(['whoami'], env(), c.o, c.e), 0);
    assert.equal(fs.statSync(sessionFile()).mode & 0o777, 0o600);
  });

  test('logout revokes the own session (id from WhoAmI) and deletes the stored session', async () => {
    storeSession();
    const c = capture();
    assert.equal(await run(['logout'], env(), c.o, c.e), 0, c.all());
    assert.deepEqual(rpcs(), ['WhoAmI', 'RevokeSession']);
    const revoke = callOf<identityV1.RevokeSessionRequest>('RevokeSession');
    assert.equal(revoke.req.sessionId, 'ses-7d3e');
    assert.equal(revoke.bearer, SESSION_TOKEN);
    assert.equal(fs.existsSync(sessionFile()), false);
    assertNoSecrets(c.all());
  });

  test('accounts approve sends the roles, phone, note and display name with the session as bearer', async () => {
    storeSession();
    const c = capture();
    const code = await run(['accounts', 'approve', 'acc-42', '--roles', 'manager,developer', '--phone', '+4915112345678', '--note', 'HR-1234', '--name', 'Lea Dubois'], env(), c.o, c.e);
    assert.equal(code, 0, c.all());
    const approve = callOf<identityV1.ApproveAccountRequest>('ApproveAccount');
    assert.equal(approve.bearer, SESSION_TOKEN);
    assert.deepEqual(approve.req, { accountId: 'acc-42', roles: [Role.ROLE_MANAGER, Role.ROLE_DEVELOPER], phoneNumber: '+4915112345678', note: 'HR-1234', displayName: 'Lea Dubois' });
    assert.match(c.out.join('\n'), /approved acc-42 <alice@example\.com>: active, roles manager,developer/);
  });

  test('accounts approve needs --name, and refuses an e-mail address as the name, before any RPC (issue 13 item 5)', async () => {
    storeSession();
    for (const extra of [[], ['--name', ' '], ['--name', 'lea@example.com']]) {
      calls.length = 0;
      const c = capture();
      assert.equal(await run(['accounts', 'approve', 'acc-42', '--roles', 'developer', ...extra], env(), c.o, c.e), 2, JSON.stringify(extra));
      assert.match(c.err.join('\n'), /--name/);
      assert.deepEqual(calls, []);
    }
  });

  test('a privileged grant is shown as pending with the command the second officer runs; changes lists them; approve-change applies (issue 13 item 2)', async () => {
    storeSession();
    const c = capture();
    assert.equal(await run(['accounts', 'roles', 'acc-bob', '--roles', 'developer,manager', '--reason', 'promotion'], env(), c.o, c.e), 0, c.all());
    assert.match(c.out.join('\n'), /role change rch-0001 for bob@example\.com is PENDING: granting manager needs a second security officer \(two-person rule\)/);
    assert.match(c.out.join('\n'), /gatehouse accounts approve-change rch-0001/);
    const a = capture();
    assert.equal(await run(['accounts', 'approve', 'acc-new', '--roles', 'team_lead', '--name', 'Tea Lead'], env(), a.o, a.e), 0, a.all());
    assert.match(a.out.join('\n'), /approval rch-0001 .* is PENDING/);
    const l = capture();
    assert.equal(await run(['accounts', 'changes'], env(), l.o, l.e), 0, l.all());
    assert.match(l.out[0] ?? '', /^CHANGE +ACCOUNT +ROLES +GRANTS +STATE +REQUESTED BY +EXPIRES$/);
    assert.match(l.out[1] ?? '', /^rch-0001 +bob@example\.com +developer,manager +manager +pending +olga@example\.com /);
    assert.deepEqual(callOf<identityV1.ListRoleChangesRequest>('ListRoleChanges').req.states, []);
    const ap = capture();
    assert.equal(await run(['accounts', 'approve-change', 'rch-0001', '--note', 'HR-77 checked'], env(), ap.o, ap.e), 0, ap.all());
    assert.deepEqual(callOf<identityV1.ApproveRoleChangeRequest>('ApproveRoleChange').req, { changeId: 'rch-0001', note: 'HR-77 checked' });
    assert.match(ap.out.join('\n'), /role change rch-0001 approved and applied: acc-bob .*1 session\(s\) revoked/);
    const own = capture();
    assert.equal(await run(['accounts', 'approve-change', 'rch-mine'], env(), own.o, own.e), 1);
    assert.match(own.err.join('\n'), /ApproveRoleChange: PERMISSION_DENIED: two-person rule/);
  });

  test('an unknown role is a usage error naming it, and no RPC is made', async () => {
    storeSession();
    const c = capture();
    assert.equal(await run(['accounts', 'approve', 'acc-42', '--roles', 'manager,admin', '--name', 'Lea Dubois'], env(), c.o, c.e), 2);
    assert.match(c.err.join('\n'), /unknown role "admin"/);
    assert.deepEqual(calls, []);
  });

  test('a refused officer action prints status and server message, exit 1', async () => {
    storeSession();
    const c = capture();
    assert.equal(await run(['accounts', 'approve', 'acc-active', '--roles', 'developer', '--name', 'Active Person'], env(), c.o, c.e), 1);
    assert.match(c.err.join('\n'), /ApproveAccount: FAILED_PRECONDITION: account acc-active is already ACTIVE/);
  });

  test('accounts list filters by state and shows id, e-mail, state, roles, lock state and phone mask', async () => {
    storeSession();
    const c = capture();
    assert.equal(await run(['accounts', 'list', '--state', 'pending'], env(), c.o, c.e), 0, c.all());
    assert.deepEqual(callOf<identityV1.ListAccountsRequest>('ListAccounts').req.states, [AccountState.ACCOUNT_STATE_PENDING_APPROVAL]);
    assert.match(c.out[0] ?? '', /^ID +E-MAIL +STATE +ROLES +LOCK +PHONE$/);
    assert.match(c.out[1] ?? '', /^acc-bob +bob@example\.com +pending_approval +- +unlocked +\+49 151•• ••••78$/);
  });

  test('accounts bootstrap sends the bootstrap token, a dev ID token and the phone, without a session', async () => {
    const tokenFile = path.join(dir.path, 'identity-bootstrap-token');
    fs.writeFileSync(tokenFile, 'bootstrap-secret\n');
    const c = capture();
    const code = await run(['accounts', 'bootstrap', '--token-file', tokenFile, '--dev', 'officer@example.com', '--phone', '+4915112345678'], env(), c.o, c.e);
    assert.equal(code, 0, c.all());
    const boot = callOf<identityV1.BootstrapOfficerRequest>('BootstrapOfficer');
    assert.equal(boot.bearer, undefined);
    assert.equal(boot.req.bootstrapToken, 'bootstrap-secret');
    assert.equal(boot.req.phoneNumber, '+4915112345678');
    assert.equal(verifiedPayload(boot.req.googleIdToken, issuer.publicKeyPem())['email'], 'officer@example.com');
    assert.ok(!c.all().includes('bootstrap-secret'));
  });

  test('dev token prints an ID token that verifies with the issuer key and names the e-mail', async () => {
    const c = capture();
    assert.equal(await run(['dev', 'token', 'dana@example.com', '--name', 'Dana Dev'], env(), c.o, c.e), 0, c.all());
    assert.equal(c.out.length, 1);
    const payload = verifiedPayload(c.out[0] ?? '', issuer.publicKeyPem());
    assert.equal(payload['email'], 'dana@example.com');
    assert.equal(payload['name'], 'Dana Dev');
    assert.equal(payload['aud'], DEV_CLIENT_ID);
    assert.equal(payload['iss'], DEV_ISSUER);
  });

  test('dev token and login --dev without the key file say to start the dev stack first', async () => {
    const missing = env({ GATEHOUSE_DEV_ISSUER_KEY_FILE: path.join(dir.path, 'nope.pem') });
    const c = capture();
    assert.equal(await run(['dev', 'token', 'dana@example.com'], missing, c.o, c.e), 2);
    assert.match(c.err.join('\n'), /no dev issuer key at .*nope\.pem\. Start the dev stack first \(`npm start`\)/);
    const l = capture();
    assert.equal(await run(['login', '--dev', 'dana@example.com'], missing, l.o, l.e, undefined, answering([]).prompt), 2);
    assert.match(l.err.join('\n'), /npm start/);
    assert.deepEqual(calls, []);
  });

  test('dev token is refused outside dev mode', async () => {
    const c = capture();
    assert.equal(await run(['dev', 'token', 'dana@example.com'], env({ GATEHOUSE_ENV: 'production' }), c.o, c.e), 2);
    assert.match(c.err.join('\n'), /dev stack only/);
  });
});
