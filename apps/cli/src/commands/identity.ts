import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import QRCode from 'qrcode';
import { IdentityServiceClient, commonV1, identityV1 } from '@gatehouse/contracts';
import { systemClock, type Clock } from '@gatehouse/core';
import { DEV_CLIENT_ID, DevIdTokenIssuer } from '@gatehouse/dev-issuer';
import { call, dial } from '@gatehouse/service-kit';
import { devStackLayout } from '@gatehouse/pki';
import { securityFor, type CliSettings } from '../settings.js';
import { refreshMarginMs, sessionExpiry, sessionHint, sessionToken } from '../session.js';
import { requireArg, requireText } from '../args.js';
import type { CommandContext } from '../context.js';
import { at, enumLabel, environmentLabel, fields, table } from '../output.js';
import { deleteStoredSession, readStoredSession, saveSession, sessionFilePath } from '../session-store.js';
import type { Prompt } from '../prompt.js';
import { CommandFailed, isRpcError, describeRpcError, retryAfterMs, rpc } from '../rpc-errors.js';
import { UsageError } from './pki.js';

type Env = Record<string, string | undefined>;
type Out = (line: string) => void;

/** Options of the identity commands (all optional; parsed by cli.ts). */
export interface IdentityArgs {
  json?: boolean;
  name?: string | undefined;
  dev?: string | undefined;
  idTokenFile?: string | undefined;
  tokenFile?: string | undefined;
  state?: string | undefined;
  roles?: string | undefined;
  phone?: string | undefined;
  note?: string | undefined;
  reason?: string | undefined;
  account?: string | undefined;
  hotp?: boolean;
  algorithm?: string | undefined;
  digits?: string | undefined;
  label?: string | undefined;
}

/** What every identity command needs: where identity is, the environment, output and the prompt. */
export type IdentityContext = CommandContext;


const { AccountState, OtpAlgorithm, OtpKind, SessionScope, SignInStep } = identityV1;
const Role = commonV1.Role;

/** Role names as typed on the command line. */
export const ROLE_BY_NAME: Readonly<Record<string, commonV1.Role>> = {
  security_officer: Role.ROLE_SECURITY_OFFICER,
  manager: Role.ROLE_MANAGER,
  team_lead: Role.ROLE_TEAM_LEAD,
  developer: Role.ROLE_DEVELOPER,
  support: Role.ROLE_SUPPORT,
};

const STATE_BY_NAME: Readonly<Record<string, identityV1.AccountState>> = {
  pending: AccountState.ACCOUNT_STATE_PENDING_APPROVAL,
  active: AccountState.ACCOUNT_STATE_ACTIVE,
  suspended: AccountState.ACCOUNT_STATE_SUSPENDED,
};

const E164 = /^\+[1-9]\d{6,14}$/;

// ---------------------------------------------------------------------------------------------
// Small helpers

async function identityClient(settings: CliSettings): Promise<IdentityServiceClient> {
  return dial(IdentityServiceClient, settings.address('identity'), await securityFor(settings, 'identity'));
}

async function withIdentity<T>(settings: CliSettings, fn: (c: IdentityServiceClient) => Promise<T>): Promise<T> {
  const c = await identityClient(settings);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

export function roleName(r: commonV1.Role): string {
  return enumLabel(commonV1.roleToJSON(r), 'ROLE_');
}

function rolesText(roles: readonly commonV1.Role[]): string {
  return roles.length ? roles.map(roleName).join(',') : '-';
}

function scopeName(s: identityV1.SessionScope): string {
  return identityV1.sessionScopeToJSON(s).replace('SESSION_SCOPE_', '');
}

/** Parses `--roles a,b` (lower-case names); an unknown name is a usage error naming it. */
export function parseRoles(cmd: string, value: string | undefined): commonV1.Role[] {
  if (value === undefined) throw new UsageError(`${cmd}: --roles is required (comma-separated: ${Object.keys(ROLE_BY_NAME).join(', ')}; --roles= for none)`);
  const roles: commonV1.Role[] = [];
  for (const raw of value.split(',')) {
    const name = raw.trim().toLowerCase().replace(/-/g, '_');
    if (!name) continue;
    const role = ROLE_BY_NAME[name];
    if (role === undefined) throw new UsageError(`${cmd}: unknown role ${JSON.stringify(raw.trim())} (known roles: ${Object.keys(ROLE_BY_NAME).join(', ')})`);
    if (!roles.includes(role)) roles.push(role);
  }
  return roles;
}

function requirePhone(cmd: string, flag: string, value: string | undefined): string {
  const v = value?.replace(/[\s()-]/g, '');
  if (!v) throw new UsageError(`${cmd}: ${flag} is required: the phone number for SMS codes in E.164 form, e.g. +4915112345678`);
  if (!E164.test(v)) throw new UsageError(`${cmd}: ${flag} must be a phone number in E.164 form, e.g. +4915112345678`);
  return v;
}

async function ask(prompt: Prompt, question: string, what: string): Promise<string> {
  const answer = (await prompt(question)).replace(/\s+/g, '');
  if (!answer) throw new UsageError(`no ${what} entered`);
  return answer;
}

function isDevMode(env: Env, a: IdentityArgs): boolean {
  return a.dev !== undefined || env['GATEHOUSE_ENV'] === 'dev';
}

// ---------------------------------------------------------------------------------------------
// Google ID tokens (real or dev)

/**
 * The dev issuer's key file: GATEHOUSE_DEV_ISSUER_KEY_FILE, else where the dev stack's identity
 * writes it (<GATEHOUSE_DEV_DIR>/data, read through the dev stack's own layout).
 */
export function devIssuerKeyFile(env: Env): string {
  const explicit = env['GATEHOUSE_DEV_ISSUER_KEY_FILE'];
  return explicit ? path.resolve(explicit) : devStackLayout(env).devIssuerKeyFile;
}

/**
 * What to do when identity refuses a dev ID token as signed by a key it does not know: the CLI
 * signed with the key file of another dev stack (another GATEHOUSE_DEV_DIR). Names the file.
 */
function devKeyHint(env: Env, a: IdentityArgs, err: grpc.ServiceError): string | undefined {
  if (a.dev === undefined || !/unknown key|signature/i.test(err.details || err.message)) return undefined;
  return (
    `The dev ID token was signed with the key in ${devIssuerKeyFile(env)}, which this identity does not trust: it belongs to another dev stack. ` +
    'Set GATEHOUSE_DEV_DIR to the folder of the running stack (as given to `npm start`), or GATEHOUSE_DEV_ISSUER_KEY_FILE to its data/identity-dev-issuer-key.pem.'
  );
}

/** Mints a Google-shaped dev ID token with the key the dev stack's identity trusts. */
export function mintDevToken(env: Env, email: string, name: string | undefined, clock: Clock, cmd = 'dev token'): string {
  const mode = env['GATEHOUSE_ENV'];
  if (mode && mode !== 'dev') {
    throw new UsageError(`${cmd}: dev tokens are for the dev stack only (GATEHOUSE_ENV is ${JSON.stringify(mode)}); sign in with a Google ID token (--id-token-file)`);
  }
  const file = devIssuerKeyFile(env);
  let privateKeyPem: string;
  try {
    privateKeyPem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UsageError(
        `${cmd}: no dev issuer key at ${file}. Start the dev stack first (\`npm start\`): identity writes the key at its first dev start. ` +
          'Or point GATEHOUSE_DEV_ISSUER_KEY_FILE at it.',
      );
    }
    throw new UsageError(`${cmd}: cannot read the dev issuer key ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let issuer: DevIdTokenIssuer;
  try {
    issuer = new DevIdTokenIssuer({ clock, privateKeyPem });
  } catch (err) {
    throw new UsageError(`${cmd}: ${file} is not a usable dev issuer key: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return issuer.issue({ email, audience: DEV_CLIENT_ID, ...(name !== undefined ? { name } : {}) });
  } catch (err) {
    throw new UsageError(`${cmd}: ${err instanceof Error ? err.message.replace(/^DevIdTokenIssuer: /, '') : String(err)}`);
  }
}

/** The Google ID token for a sign-in or bootstrap: minted with --dev, or read from --id-token-file. */
function googleIdToken(cmd: string, env: Env, a: IdentityArgs, clock: Clock): string {
  if (a.dev !== undefined && a.idTokenFile !== undefined) throw new UsageError(`${cmd}: give either --dev <email> or --id-token-file <file>, not both`);
  if (a.dev !== undefined) return mintDevToken(env, requireArg(cmd, a.dev, '--dev needs an e-mail address'), a.name, clock, cmd);
  if (a.idTokenFile !== undefined) {
    let token: string;
    try {
      token = fs.readFileSync(a.idTokenFile, 'utf8').trim();
    } catch {
      throw new UsageError(`${cmd}: cannot read the Google ID token file ${a.idTokenFile}`);
    }
    if (!token) throw new UsageError(`${cmd}: ${a.idTokenFile} is empty; it must hold a Google ID token`);
    return token;
  }
  throw new UsageError(
    `${cmd}: say who signs in: --id-token-file <file> (a Google ID token issued for Gatehouse's client id), or on the dev stack --dev <email>`,
  );
}

// ---------------------------------------------------------------------------------------------
// gatehouse dev token

/** `gatehouse dev token <email> [--name N]`: prints a dev ID token (dev stack only). */
export async function devToken(ctx: IdentityContext, email: string | undefined, a: IdentityArgs): Promise<number> {
  const e = requireArg('dev token', email, 'give the e-mail address: gatehouse dev token <email> [--name "Display Name"]');
  ctx.out(mintDevToken(ctx.env, e, a.name, ctx.clock ?? systemClock));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// OTP enrolment (sign-in mode and session mode)

async function showEnrollment(out: Out, res: identityV1.EnrollOtpResponse, clock: Clock): Promise<void> {
  const cred = res.credential;
  out('Add this credential to your authenticator app: scan the QR code, or enter the otpauth URI.');
  out('It is shown only this once; do not keep a copy of it anywhere else.');
  out('');
  out(res.otpauthUri);
  out((await QRCode.toString(res.otpauthUri, { type: 'terminal', small: true })).trimEnd());
  if (cred) {
    out(`${identityV1.otpKindToJSON(cred.kind).replace('OTP_KIND_', '')}, ${identityV1.otpAlgorithmToJSON(cred.algorithm).replace('OTP_ALGORITHM_', '')}, ${cred.digits} digits${cred.label ? `, label ${JSON.stringify(cred.label)}` : ''}`);
  }
  if (res.confirmBy) out(`Confirm it with a code before ${at(res.confirmBy, clock)}.`);
}

interface EnrollChoice {
  kind: identityV1.OtpKind;
  algorithm: identityV1.OtpAlgorithm;
  digits: number;
  label: string;
}

function enrollChoice(cmd: string, a: IdentityArgs): EnrollChoice {
  const kind = a.hotp ? OtpKind.OTP_KIND_HOTP : OtpKind.OTP_KIND_TOTP;
  const algoName = (a.algorithm ?? 'SHA1').trim().toUpperCase().replace('-', '');
  const algorithm = { SHA1: OtpAlgorithm.OTP_ALGORITHM_SHA1, SHA256: OtpAlgorithm.OTP_ALGORITHM_SHA256, SHA512: OtpAlgorithm.OTP_ALGORITHM_SHA512 }[algoName];
  if (algorithm === undefined) throw new UsageError(`${cmd}: --algorithm must be SHA1, SHA256 or SHA512`);
  if (kind === OtpKind.OTP_KIND_HOTP && algorithm !== OtpAlgorithm.OTP_ALGORITHM_SHA1) throw new UsageError(`${cmd}: HOTP accepts SHA1 only`);
  const digits = a.digits === undefined ? 6 : Number(a.digits);
  if (digits !== 6 && digits !== 8) throw new UsageError(`${cmd}: --digits must be 6 or 8`);
  const label = (a.label ?? '').trim();
  if (label.length > 64) throw new UsageError(`${cmd}: --label must be at most 64 characters`);
  return { kind, algorithm, digits, label };
}

// ---------------------------------------------------------------------------------------------
// gatehouse login

function signInHint(err: grpc.ServiceError): string | undefined {
  if (err.code === grpc.status.UNAUTHENTICATED) return 'Start over with `gatehouse login` if the sign-in expired.';
  if (err.code === grpc.status.PERMISSION_DENIED) return 'Ask the security officer if your account is pending approval, suspended or locked.';
  return undefined;
}

/**
 * `gatehouse login`: Google ID token → SMS code → (first time: OTP enrolment) → OTP code; stores
 * the session in the config folder (0600). Never prints the token, the sign-in id or any code.
 */
export async function login(ctx: IdentityContext, a: IdentityArgs): Promise<number> {
  const { env, out, prompt } = ctx;
  const clock = ctx.clock ?? systemClock;
  const idToken = googleIdToken('login', env, a, clock);
  const choice = enrollChoice('login', { ...a, hotp: false, algorithm: undefined, digits: undefined });
  const dev = isDevMode(env, a);
  return withIdentity(ctx.settings, async (c) => {
    const begun = await rpc('BeginSignIn', call(c, c.beginSignIn, identityV1.BeginSignInRequest.fromPartial({ googleIdToken: idToken })), (err) => devKeyHint(env, a, err) ?? signInHint(err));
    let state = begun.state;
    if (!state) throw new CommandFailed('BeginSignIn: identity returned no sign-in');
    const signInId = state.signInId;
    out(`Signing in as ${state.displayName ? `${state.displayName} <${state.email}>` : state.email} from ${state.clientIp || 'this IP'}.`);

    const sent = await rpc('SendSmsCode', call(c, c.sendSmsCode, { signInId }), (err) => {
      if (err.code === grpc.status.RESOURCE_EXHAUSTED) {
        const ms = retryAfterMs(err);
        return `An SMS code was sent moments ago; ${ms !== undefined ? `wait ${Math.max(1, Math.ceil(ms / 1000))} s` : 'wait a little'} and run \`gatehouse login\` again.`;
      }
      return signInHint(err);
    });
    state = sent.state ?? state;
    out(`An SMS code was sent to ${state.phoneNumberMask || 'your phone'}${sent.codeExpiresAt ? `; it is valid until ${at(sent.codeExpiresAt, clock)}` : ''}.`);
    if (dev) out('Dev mode: the dev SMS sink shows the code on the `npm start` console.');
    const smsCode = await ask(prompt, 'SMS code', 'SMS code');
    const verified = await rpc('VerifySmsCode', call(c, c.verifySmsCode, { signInId, code: smsCode }), signInHint);
    state = verified.state ?? state;

    let otpQuestion = state.otpKind === OtpKind.OTP_KIND_HOTP ? 'HOTP code' : 'OTP code';
    let confirmCode: string | undefined;
    if (state.nextStep === SignInStep.SIGN_IN_STEP_OTP_ENROLLMENT) {
      out('');
      out('First sign-in: set up your one-time-password app (TOTP).');
      const enrolled = await rpc(
        'EnrollOtp',
        call(c, c.enrollOtp, identityV1.EnrollOtpRequest.fromPartial({ signInId, kind: choice.kind, algorithm: choice.algorithm, digits: choice.digits, label: choice.label })),
        signInHint,
      );
      await showEnrollment(out, enrolled, clock);
      out('');
      out('Type the code the app shows now to confirm it. That code is then used up: it cannot also sign you in,');
      out('so the sign-in asks for the NEXT code (wait until the app shows a new one, up to 30 s).');
      confirmCode = await ask(prompt, 'Code shown by the authenticator app', 'code');
      const confirmed = await rpc(
        'ConfirmOtpEnrollment',
        call(c, c.confirmOtpEnrollment, identityV1.ConfirmOtpEnrollmentRequest.fromPartial({ credentialId: enrolled.credential?.credentialId ?? '', code: confirmCode, signInId })),
        signInHint,
      );
      state = confirmed.state ?? state;
      out('The authenticator app is set up. One more code finishes the sign-in: wait for the next code; the one just used cannot be used again.');
      otpQuestion = 'OTP code (wait for the next code)';
    } else if (state.nextStep !== SignInStep.SIGN_IN_STEP_OTP_CODE) {
      throw new CommandFailed(`login: unexpected next sign-in step ${identityV1.signInStepToJSON(state.nextStep)}`);
    }

    let otpCode = await ask(prompt, otpQuestion, 'OTP code');
    // The confirming code would be refused as a replay and count as a failed attempt: never send it.
    for (let i = 0; otpCode === confirmCode; i++) {
      if (i >= 3) throw new UsageError('login: no new OTP code entered; the code that confirmed the app cannot sign you in. Run `gatehouse login` again');
      out('That is the code that confirmed the app; it cannot sign you in. Wait until the app shows a new code.');
      otpCode = await ask(prompt, otpQuestion, 'OTP code');
    }
    const done = await rpc('VerifyOtp', call(c, c.verifyOtp, { signInId, code: otpCode }), signInHint);
    const token = done.session?.token;
    const info = done.session?.info;
    if (!token || !info) throw new CommandFailed('VerifyOtp: identity returned no session');
    const file = saveSession(env, token);

    const p = info.principal;
    out('');
    out(`Signed in as ${p?.displayName ? `${p.displayName} <${p.email}>` : (p?.email ?? state.email)} (account ${p?.accountId ?? '?'}, roles ${rolesText(p?.roles ?? [])}).`);
    printScope(out, info);
    out(`Session ${info.sessionId} expires ${at(info.expiresAt, clock)} unless used; at the latest ${at(info.absoluteExpiresAt, clock)}.`);
    for (const access of info.environmentAccess) out(`${environmentLabel(access.environment)} access until ${at(access.expiresAt, clock)}`);
    for (const n of done.notices) out(`Security notice: ${n.message}${n.count > 1 ? ` (${n.count} times)` : ''}${n.sourceIp ? ` from ${n.sourceIp}` : ''}${n.occurredAt ? `, last ${n.occurredAt.toISOString()}` : ''}`);
    out(`Session stored in ${file} (readable by you only).`);
    if (env['GATEHOUSE_SESSION_TOKEN'] || env['GATEHOUSE_SESSION_FILE']) {
      out('Note: GATEHOUSE_SESSION_TOKEN or GATEHOUSE_SESSION_FILE is set and takes precedence over the stored session; unset it to use this one.');
    }
    return 0;
  });
}

function printScope(out: Out, info: identityV1.SessionInfo): void {
  if (info.scope === SessionScope.SESSION_SCOPE_REGISTER_IP_ONLY) {
    out(`Scope: REGISTER_IP_ONLY. Your IP${info.pinnedIp ? ` ${info.pinnedIp}` : ''} is not on the allowlist, so this session can only register it.`);
    out('Run `gatehouse ip register` to register today\'s IP.');
  } else {
    out(`Scope: ${scopeName(info.scope)} (pinned to ${info.pinnedIp || '-'}).`);
  }
}

// ---------------------------------------------------------------------------------------------
// gatehouse logout / whoami

/** `gatehouse logout`: revokes the own session (id from WhoAmI) and deletes the stored session. */
export async function logout(ctx: IdentityContext): Promise<number> {
  const { env, out } = ctx;
  const bearer = sessionToken(env);
  const fromStore = readStoredSession(env) === bearer;
  return withIdentity(ctx.settings, async (c) => {
    let who: identityV1.WhoAmIResponse;
    try {
      who = await call(c, c.whoAmI, {}, { bearer });
    } catch (err) {
      if (isRpcError(err) && err.code === grpc.status.UNAUTHENTICATED) {
        const removed = fromStore && deleteStoredSession(env);
        out(`Identity no longer accepts this session (${describeRpcError(err)}); nothing to revoke.${removed ? ` Removed ${sessionFilePath(env)}.` : ''}`);
        return 0;
      }
      throw err;
    }
    const sessionId = who.session?.sessionId;
    if (!sessionId) throw new CommandFailed('WhoAmI: identity returned no session id');
    await rpc('RevokeSession', call(c, c.revokeSession, identityV1.RevokeSessionRequest.fromPartial({ sessionId, reason: 'logout' }), { bearer }));
    const removed = fromStore && deleteStoredSession(env);
    out(`Signed out: session ${sessionId} revoked.${removed ? ` Removed ${sessionFilePath(env)}.` : ''}`);
    if (!fromStore) out('The session came from GATEHOUSE_SESSION_TOKEN or GATEHOUSE_SESSION_FILE; unset it.');
    return 0;
  });
}

/** `gatehouse whoami [--json]`: the own account and the session presented. */
export async function whoami(ctx: IdentityContext, a: IdentityArgs): Promise<number> {
  const { env, out } = ctx;
  const clock = ctx.clock ?? systemClock;
  const bearer = sessionToken(env);
  return withIdentity(ctx.settings, async (c) => {
    const res = await rpc('WhoAmI', call(c, c.whoAmI, {}, { bearer }), sessionHint);
    if (a.json) {
      out(JSON.stringify(identityV1.WhoAmIResponse.toJSON(res)));
      return 0;
    }
    const acc = res.account;
    const s = res.session;
    const p = acc?.principal ?? s?.principal;
    const rows: Array<[string, string]> = [
      ['e-mail', `${p?.email ?? '-'}${p?.displayName ? ` (${p.displayName})` : ''}`],
      ['account', p?.accountId ?? '-'],
      ['roles', rolesText(p?.roles ?? [])],
      ['account state', acc ? `${enumLabel(identityV1.accountStateToJSON(acc.state), 'ACCOUNT_STATE_')}, ${enumLabel(identityV1.lockStateToJSON(acc.lockState), 'LOCK_STATE_')}` : '-'],
      ['session', s?.sessionId ?? '-'],
      ['scope', s ? scopeName(s.scope) : '-'],
      ['pinned IP', s?.pinnedIp || '-'],
      ['amr', s?.amr.map((m) => enumLabel(identityV1.authMethodToJSON(m), 'AUTH_METHOD_')).join(',') || '-'],
      ['signed in', at(s?.authTime, clock)],
      ['expires', at(s?.expiresAt, clock)],
      ['absolute expiry', at(s?.absoluteExpiresAt, clock)],
    ];
    for (const e of s?.environmentAccess ?? []) rows.push([`${environmentLabel(e.environment)} access until`, at(e.expiresAt, clock)]);
    if (s && s.environmentAccess.length === 0) rows.push(['environments', 'none']);
    for (const line of fields(rows)) out(line);
    if (s?.scope === SessionScope.SESSION_SCOPE_REGISTER_IP_ONLY) out('This IP is not on the allowlist: `gatehouse ip register` registers today\'s IP.');
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// gatehouse otp enroll | resync

/** `gatehouse otp enroll [...]` and `gatehouse otp resync <code1> <code2>`, with the session. */
export async function otp(ctx: IdentityContext, sub: string | undefined, rest: string[], a: IdentityArgs): Promise<number> {
  const { env, out, prompt } = ctx;
  const clock = ctx.clock ?? systemClock;
  if (sub === 'enroll') {
    const choice = enrollChoice('otp enroll', a);
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const enrolled = await rpc(
        'EnrollOtp',
        call(c, c.enrollOtp, identityV1.EnrollOtpRequest.fromPartial({ kind: choice.kind, algorithm: choice.algorithm, digits: choice.digits, label: choice.label }), { bearer }),
        (err) =>
          err.code === grpc.status.FAILED_PRECONDITION ? 'Changing a second factor needs a fresh sign-in: run `gatehouse login`, then try again.' : sessionHint(err),
      );
      await showEnrollment(out, enrolled, clock);
      const code = await ask(prompt, 'Code shown by the authenticator app', 'code');
      const confirmed = await rpc(
        'ConfirmOtpEnrollment',
        call(c, c.confirmOtpEnrollment, identityV1.ConfirmOtpEnrollmentRequest.fromPartial({ credentialId: enrolled.credential?.credentialId ?? '', code }), { bearer }),
        sessionHint,
      );
      out(`OTP credential ${confirmed.credential?.credentialId ?? enrolled.credential?.credentialId ?? ''} is active; it replaces the previous one, if any.`);
      return 0;
    });
  }
  if (sub === 'resync') {
    const [first, second] = rest;
    if (!first || !second) throw new UsageError('otp resync: give two consecutive codes from the HOTP device: gatehouse otp resync <code1> <code2>');
    if (!/^\d{6,8}$/.test(first) || !/^\d{6,8}$/.test(second)) throw new UsageError('otp resync: codes are 6 or 8 digits');
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const res = await rpc('ResyncHotp', call(c, c.resyncHotp, identityV1.ResyncHotpRequest.fromPartial({ firstCode: first, secondCode: second }), { bearer }), sessionHint);
      out(`HOTP credential ${res.credential?.credentialId ?? ''} is synchronised; use the device's next code from now on.`);
      return 0;
    });
  }
  throw new UsageError(`otp: unknown subcommand ${JSON.stringify(sub ?? '')} (enroll, resync)`);
}

// ---------------------------------------------------------------------------------------------
// gatehouse accounts ...

function formatAccountRow(acc: identityV1.Account): string[] {
  return [
    acc.principal?.accountId ?? '-',
    acc.principal?.email ?? '-',
    enumLabel(identityV1.accountStateToJSON(acc.state), 'ACCOUNT_STATE_'),
    rolesText(acc.principal?.roles ?? []),
    enumLabel(identityV1.lockStateToJSON(acc.lockState), 'LOCK_STATE_'),
    acc.phoneNumberMask || '-',
  ];
}

const CHANGE_STATE_BY_NAME: Readonly<Record<string, identityV1.RoleChangeState>> = {
  pending: identityV1.RoleChangeState.ROLE_CHANGE_STATE_PENDING,
  applied: identityV1.RoleChangeState.ROLE_CHANGE_STATE_APPLIED,
  expired: identityV1.RoleChangeState.ROLE_CHANGE_STATE_EXPIRED,
};

/** `--name`: the display name customers see (never the e-mail); identity checks it again. */
function requireDisplayName(cmd: string, value: string | undefined): string {
  const name = requireText(cmd, '--name', value, 'the name customers see when this employee supports them, e.g. --name "Lea Dubois"');
  if (name.includes('@')) throw new UsageError(`${cmd}: --name must be a person's name, not an e-mail address: customers see it`);
  return name;
}

/** What the officer is told when a grant waits for a second officer (two-person rule). */
function pendingText(ch: identityV1.RoleChange, what: string): string {
  return (
    `${what} ${ch.changeId} for ${ch.account?.email || ch.account?.accountId || '?'} is PENDING: granting ${rolesText(ch.grantedRoles)} needs a second security officer ` +
    `(two-person rule). Another officer approves it with: gatehouse accounts approve-change ${ch.changeId} --note "..." (before ${ch.expiresAt?.toISOString() ?? '?'})`
  );
}

function changeRow(ch: identityV1.RoleChange, clock: Clock): string[] {
  return [
    ch.changeId,
    ch.account?.email || ch.account?.accountId || '?',
    rolesText(ch.roles),
    rolesText(ch.grantedRoles),
    enumLabel(identityV1.roleChangeStateToJSON(ch.state), 'ROLE_CHANGE_STATE_'),
    ch.requestedBy?.email || ch.requestedBy?.accountId || '?',
    at(ch.expiresAt, clock),
  ];
}

function describeAccount(acc: identityV1.Account | undefined): string {
  if (!acc) return '?';
  return `${acc.principal?.accountId ?? '?'} <${acc.principal?.email ?? '?'}>: ${enumLabel(identityV1.accountStateToJSON(acc.state), 'ACCOUNT_STATE_')}, roles ${rolesText(acc.principal?.roles ?? [])}, ${enumLabel(identityV1.lockStateToJSON(acc.lockState), 'LOCK_STATE_')}, phone ${acc.phoneNumberMask || '-'}`;
}

/** An account id, or an e-mail address resolved to one (ListAccounts' e-mail filter). */
async function resolveAccount(c: IdentityServiceClient, bearer: string, idOrEmail: string): Promise<string> {
  if (!idOrEmail.includes('@')) return idOrEmail;
  const res = await rpc('ListAccounts', call(c, c.listAccounts, identityV1.ListAccountsRequest.fromPartial({ email: idOrEmail, pageSize: 1 }), { bearer }), sessionHint);
  const id = res.accounts[0]?.principal?.accountId;
  if (!id) throw new CommandFailed(`no account with the e-mail address ${idOrEmail}`);
  return id;
}

const MAX_PAGES = 200;

/** `gatehouse accounts list|approve|changes|approve-change|suspend|roles|phone|unlock|reset-otp|bootstrap`. */
export async function accounts(ctx: IdentityContext, sub: string | undefined, rest: string[], a: IdentityArgs): Promise<number> {
  const { env, out } = ctx;
  const cmd = `accounts ${sub ?? ''}`.trim();
  const target = (usage: string) => requireArg(cmd, rest[0], usage);

  if (sub === 'bootstrap') return bootstrap(ctx, a);

  if (sub === undefined || sub === 'list') {
    const states = (a.state ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean)
      .map((s) => {
        const st = STATE_BY_NAME[s];
        if (st === undefined) throw new UsageError(`accounts list: --state must be pending, active or suspended, got ${JSON.stringify(s)}`);
        return st;
      });
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const all: identityV1.Account[] = [];
      let pageToken = '';
      for (let page = 0; page < MAX_PAGES; page++) {
        const res = await rpc('ListAccounts', call(c, c.listAccounts, identityV1.ListAccountsRequest.fromPartial({ states, pageSize: 500, pageToken }), { bearer }), sessionHint);
        all.push(...res.accounts);
        pageToken = res.nextPageToken;
        if (!pageToken) break;
      }
      if (a.json) out(JSON.stringify(all.map((x) => identityV1.Account.toJSON(x))));
      else if (all.length === 0) out('no accounts');
      else for (const line of table([['ID', 'E-MAIL', 'STATE', 'ROLES', 'LOCK', 'PHONE'], ...all.map(formatAccountRow)])) out(line);
      return 0;
    });
  }

  if (sub === 'approve') {
    const id = target('give the account: gatehouse accounts approve <account-id> --roles manager,developer --name "Lea Dubois" [--phone +4915112345678] [--note "..."]');
    const roles = parseRoles(cmd, a.roles);
    const displayName = requireDisplayName(cmd, a.name);
    const phone = a.phone === undefined ? undefined : requirePhone(cmd, '--phone', a.phone);
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const accountId = await resolveAccount(c, bearer, id);
      const res = await rpc(
        'ApproveAccount',
        call(c, c.approveAccount, identityV1.ApproveAccountRequest.fromPartial({ accountId, roles, phoneNumber: phone, note: a.note?.trim() ?? '', displayName }), { bearer }),
        sessionHint,
      );
      if (res.pendingChange) out(pendingText(res.pendingChange, 'approval'));
      else out(`approved ${describeAccount(res.account)}`);
      return 0;
    });
  }

  if (sub === 'changes') {
    const states = (a.state ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean)
      .map((s) => {
        const st = CHANGE_STATE_BY_NAME[s];
        if (st === undefined) throw new UsageError(`accounts changes: --state must be pending, applied or expired, got ${JSON.stringify(s)}`);
        return st;
      });
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const res = await rpc('ListRoleChanges', call(c, c.listRoleChanges, identityV1.ListRoleChangesRequest.fromPartial({ states, pageSize: 500 }), { bearer }), sessionHint);
      if (a.json) out(JSON.stringify(res.changes.map((x) => identityV1.RoleChange.toJSON(x))));
      else if (res.changes.length === 0) out('no role changes');
      else for (const line of table([['CHANGE', 'ACCOUNT', 'ROLES', 'GRANTS', 'STATE', 'REQUESTED BY', 'EXPIRES'], ...res.changes.map((x) => changeRow(x, ctx.clock ?? systemClock))])) out(line);
      return 0;
    });
  }

  if (sub === 'approve-change') {
    const changeId = target('give the change: gatehouse accounts approve-change <change-id> [--note "what you checked"] (see gatehouse accounts changes)');
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const res = await rpc('ApproveRoleChange', call(c, c.approveRoleChange, { changeId, note: a.note?.trim() ?? '' }, { bearer }), sessionHint);
      out(`role change ${changeId} approved and applied: ${describeAccount(res.account)}; ${res.revokedSessionCount} session(s) revoked so the new roles take effect`);
      return 0;
    });
  }

  if (sub === 'suspend') {
    const id = target('give the account: gatehouse accounts suspend <account-id> --reason "..."');
    const reason = requireText(cmd, '--reason', a.reason, 'why the account is suspended; it is recorded and audited');
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const accountId = await resolveAccount(c, bearer, id);
      const res = await rpc('SuspendAccount', call(c, c.suspendAccount, { accountId, reason }, { bearer }), sessionHint);
      out(`suspended ${describeAccount(res.account)}; ${res.revokedSessionCount} session(s) revoked`);
      return 0;
    });
  }

  if (sub === 'roles') {
    const id = target('give the account: gatehouse accounts roles <account-id> --roles a,b --reason "..."');
    const roles = parseRoles(cmd, a.roles);
    const reason = requireText(cmd, '--reason', a.reason, 'why the roles change; it is audited');
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const accountId = await resolveAccount(c, bearer, id);
      const res = await rpc('SetRoles', call(c, c.setRoles, { accountId, roles, reason }, { bearer }), sessionHint);
      if (res.pendingChange) out(pendingText(res.pendingChange, 'role change'));
      else out(`roles set: ${describeAccount(res.account)}; ${res.revokedSessionCount} session(s) revoked so the new roles take effect`);
      return 0;
    });
  }

  if (sub === 'phone') {
    const id = target('give the account and number: gatehouse accounts phone <account-id> <+E.164 number> --reason "..."');
    const phoneNumber = requirePhone(cmd, 'the number', rest[1]);
    const reason = requireText(cmd, '--reason', a.reason, 'why the number changes; it is audited');
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const accountId = await resolveAccount(c, bearer, id);
      const res = await rpc('SetPhoneNumber', call(c, c.setPhoneNumber, { accountId, phoneNumber, reason }, { bearer }), sessionHint);
      out(`phone number set: ${describeAccount(res.account)}`);
      return 0;
    });
  }

  if (sub === 'unlock') {
    const id = target('give the account: gatehouse accounts unlock <account-id> --note "how the holder was verified"');
    const note = requireText(cmd, '--note', a.note, 'why the account is unlocked, e.g. identity confirmed by phone; it is audited');
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const accountId = await resolveAccount(c, bearer, id);
      const res = await rpc('UnlockAccount', call(c, c.unlockAccount, { accountId, note }, { bearer }), sessionHint);
      out(`unlocked ${describeAccount(res.account)}`);
      return 0;
    });
  }

  if (sub === 'reset-otp') {
    const id = target('give the account: gatehouse accounts reset-otp <account-id> --reason "..."');
    const reason = requireText(cmd, '--reason', a.reason, 'why, e.g. lost phone, identity confirmed in person; it is audited');
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const accountId = await resolveAccount(c, bearer, id);
      const res = await rpc('ResetOtp', call(c, c.resetOtp, { accountId, reason }, { bearer }), sessionHint);
      out(`OTP credential reset for ${describeAccount(res.account)}; ${res.revokedSessionCount} session(s) revoked. The next sign-in enrols a new device.`);
      return 0;
    });
  }

  throw new UsageError(`accounts: unknown subcommand ${JSON.stringify(sub)} (list, approve, changes, approve-change, suspend, roles, phone, unlock, reset-otp, bootstrap)`);
}

/** `gatehouse accounts bootstrap`: the first security officer, from the one-time bootstrap token. No session. */
async function bootstrap(ctx: IdentityContext, a: IdentityArgs): Promise<number> {
  const { env, out } = ctx;
  const cmd = 'accounts bootstrap';
  const clock = ctx.clock ?? systemClock;
  const phoneNumber = requirePhone(cmd, '--phone', a.phone);
  const tokenFile = a.tokenFile !== undefined ? path.resolve(a.tokenFile) : ctx.settings.devStack.bootstrapTokenFile;
  let bootstrapToken: string;
  try {
    bootstrapToken = fs.readFileSync(tokenFile, 'utf8').trim();
  } catch {
    throw new UsageError(
      `${cmd}: cannot read the bootstrap token at ${tokenFile}; identity writes it at its first start (\`npm start\` for the dev stack: ` +
        'set GATEHOUSE_DEV_DIR if it runs with another folder), or pass --token-file <file>',
    );
  }
  if (!bootstrapToken) throw new UsageError(`${cmd}: ${tokenFile} is empty`);
  const googleIdTokenValue = googleIdToken(cmd, env, a, clock);
  return withIdentity(ctx.settings, async (c) => {
    const res = await rpc(
      'BootstrapOfficer',
      call(c, c.bootstrapOfficer, { bootstrapToken, googleIdToken: googleIdTokenValue, phoneNumber }),
      (err) => {
        if (err.code === grpc.status.FAILED_PRECONDITION) return 'A security officer exists already, or the token was used: sign in with `gatehouse login`.';
        const devKey = devKeyHint(env, a, err);
        if (devKey) return devKey;
        if (/bootstrap token/i.test(err.details || err.message)) return `The bootstrap token was read from ${tokenFile}; is it the running identity's (GATEHOUSE_DEV_DIR)?`;
        return undefined;
      },
    );
    out(`security officer created: ${describeAccount(res.account)}`);
    out(`Next: sign in with \`gatehouse login ${a.dev !== undefined ? `--dev ${a.dev}` : '--id-token-file <file>'}\`; the first sign-in enrols your OTP app.`);
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// gatehouse session refresh, and refresh on use

function refreshHint(err: grpc.ServiceError): string | undefined {
  if (err.code === grpc.status.FAILED_PRECONDITION) return 'The session cannot be extended past its absolute lifetime: run `gatehouse login`.';
  return sessionHint(err);
}

/** RefreshSession with `bearer`; the new token is stored 0600 as login stores it. */
async function refreshWith(ctx: IdentityContext, bearer: string, deadlineMs?: number): Promise<{ info: identityV1.SessionInfo; file: string }> {
  return withIdentity(ctx.settings, async (c) => {
    const res = await rpc('RefreshSession', call(c, c.refreshSession, {}, { bearer, ...(deadlineMs ? { deadlineMs } : {}) }), refreshHint);
    const token = res.session?.token;
    const info = res.session?.info;
    if (!token || !info) throw new CommandFailed('RefreshSession: identity returned no session');
    return { info, file: saveSession(ctx.env, token) };
  });
}

/**
 * `gatehouse session refresh`: a new token for the session (its inactivity expiry moved on, never
 * past the absolute one; a REGISTER_IP_ONLY session becomes FULL once its IP is allowlisted),
 * stored like login's. No SMS or OTP code: until the absolute lifetime, this is what keeps you
 * signed in.
 */
async function refreshSession(ctx: IdentityContext): Promise<number> {
  const { env, out } = ctx;
  const clock = ctx.clock ?? systemClock;
  const { info, file } = await refreshWith(ctx, sessionToken(env));
  out(`Session ${info.sessionId} refreshed.`);
  printScope(out, info);
  out(`It expires ${at(info.expiresAt, clock)} unless used; at the latest ${at(info.absoluteExpiresAt, clock)}, then sign in again.`);
  for (const access of info.environmentAccess) out(`${environmentLabel(access.environment)} access until ${at(access.expiresAt, clock)}`);
  out(`Session stored in ${file} (readable by you only).`);
  if (env['GATEHOUSE_SESSION_TOKEN'] || env['GATEHOUSE_SESSION_FILE']) {
    out('Note: GATEHOUSE_SESSION_TOKEN or GATEHOUSE_SESSION_FILE is set and takes precedence over the stored session; unset it to use this one.');
  }
  return 0;
}

/**
 * Refresh on use: before a command runs with the stored session (not one from
 * GATEHOUSE_SESSION_TOKEN or GATEHOUSE_SESSION_FILE), a session that expires within
 * GATEHOUSE_SESSION_REFRESH_MARGIN is refreshed and the new token stored. Best effort: if the
 * refresh fails, `warn` says why and the command goes on with the old token, which stays valid
 * until its own expiry. An expired session is left to the command (it says to sign in).
 */
export async function refreshStoredSessionIfDue(ctx: IdentityContext, warn: (line: string) => void): Promise<void> {
  const { env } = ctx;
  if (env['GATEHOUSE_SESSION_TOKEN'] || env['GATEHOUSE_SESSION_FILE']) return;
  const margin = refreshMarginMs(env);
  if (margin === 0) return;
  let token: string | undefined;
  try {
    token = readStoredSession(env);
  } catch {
    return; // the command itself reports an unreadable session file
  }
  const expires = token ? sessionExpiry(token) : undefined;
  if (!token || !expires) return;
  const clock = ctx.clock ?? systemClock;
  const left = expires.getTime() - clock.now().getTime();
  if (left <= 0 || left > margin) return;
  try {
    await refreshWith(ctx, token, 5_000);
  } catch (err) {
    if (!(err instanceof CommandFailed)) throw err;
    warn(`gatehouse: your session expires ${at(expires, clock)} and could not be refreshed (${err.message.split('\n')[0]}); going on with it.`);
  }
}

// ---------------------------------------------------------------------------------------------
// gatehouse sessions ...

/** `gatehouse sessions list [--account ID] [--json]`, `sessions revoke <session-id> | --account <id>` and `session refresh`. */
export async function sessions(ctx: IdentityContext, sub: string | undefined, rest: string[], a: IdentityArgs): Promise<number> {
  const { env, out } = ctx;
  const clock = ctx.clock ?? systemClock;
  if (sub === 'refresh') {
    if (rest.length) throw new UsageError('session refresh: takes no arguments (it refreshes the session you use)');
    return refreshSession(ctx);
  }
  if (sub === undefined || sub === 'list') {
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const accountId = a.account ? await resolveAccount(c, bearer, a.account) : undefined;
      const all: identityV1.SessionRecord[] = [];
      let pageToken = '';
      for (let page = 0; page < MAX_PAGES; page++) {
        const res = await rpc('ListSessions', call(c, c.listSessions, identityV1.ListSessionsRequest.fromPartial({ accountId, pageSize: 500, pageToken }), { bearer }), sessionHint);
        all.push(...res.sessions);
        pageToken = res.nextPageToken;
        if (!pageToken) break;
      }
      if (a.json) {
        out(JSON.stringify(all.map((s) => identityV1.SessionRecord.toJSON(s))));
        return 0;
      }
      if (all.length === 0) {
        out('no active sessions');
        return 0;
      }
      const rows = all.map((s) => [
        s.info?.sessionId ?? '-',
        s.info?.principal?.email ?? s.info?.principal?.accountId ?? '-',
        s.info ? scopeName(s.info.scope) : '-',
        enumLabel(identityV1.sessionStatusToJSON(s.status), 'SESSION_STATUS_'),
        s.info?.pinnedIp || '-',
        s.info?.authTime?.toISOString() ?? '-',
        at(s.info?.expiresAt, clock),
      ]);
      for (const line of table([['SESSION', 'E-MAIL', 'SCOPE', 'STATUS', 'PINNED IP', 'SIGNED IN', 'EXPIRES'], ...rows])) out(line);
      return 0;
    });
  }
  if (sub === 'revoke') {
    const sessionId = rest[0]?.trim();
    if (sessionId && a.account) throw new UsageError('sessions revoke: give a session id or --account <id>, not both');
    if (!sessionId && !a.account) throw new UsageError('sessions revoke: give a session id, or --account <id> to revoke every session of an account');
    const bearer = sessionToken(env);
    return withIdentity(ctx.settings, async (c) => {
      const accountId = a.account ? await resolveAccount(c, bearer, a.account) : undefined;
      const req = identityV1.RevokeSessionRequest.fromPartial({ reason: a.reason?.trim() ?? '', ...(accountId ? { accountId } : { sessionId }) });
      const res = await rpc('RevokeSession', call(c, c.revokeSession, req, { bearer }), sessionHint);
      out(`${res.revokedSessionCount} session(s) revoked${accountId ? ` for account ${accountId}` : ''}`);
      return 0;
    });
  }
  throw new UsageError(`sessions: unknown subcommand ${JSON.stringify(sub)} (list, revoke, refresh)`);
}
