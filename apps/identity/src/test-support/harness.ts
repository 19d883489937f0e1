import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { auditEventV1 } from '@gatehouse/contracts';
import { AllowlistServiceService, IdentityServiceClient, SERVICE_NAMES, allowlistV1, commonV1, identityV1 } from '@gatehouse/contracts';
import { ManualClock, base32Decode } from '@gatehouse/core';
import { DEV_CLIENT_ID, DevIdTokenIssuer } from '@gatehouse/dev-issuer';
import { ensurePki, loadTlsMaterial } from '@gatehouse/pki';
import { runService, type HostedService } from '@gatehouse/service-host';
import { CLIENT_IP_HEADER, call, dial, unary, type RunningServer } from '@gatehouse/service-kit';
import { drainOutbox, spawnChildReplica, startAuditDouble, startFakeService, type ChildReplica } from '@gatehouse/testing';
import { OtpSeed, otpAt, timeStep, type OtpAlgorithm, type OtpDigits } from '../domain/otp/index.js';
import { bootstrapTokenHash } from '../domain/accounts/account-admin.js';
import { identityService } from '../service.js';
import { identityStores } from '../store/schema.js';

/** An SMS the fake gateway received (the HTTP boundary double). */
export interface SentSms {
  to: string;
  text: string;
  code: string;
}

/** What an OTP device holds after enrolment: enough to compute codes. */
export interface Device {
  seed: OtpSeed;
  algorithm: OtpAlgorithm;
  digits: OtpDigits;
  kind: 'totp' | 'hotp';
  /** HOTP: the next counter the device will use. */
  counter: number;
  uri: string;
}

/** A signed-in employee. */
export interface SignedIn {
  token: string;
  session: identityV1.SessionInfo;
  accountId: string;
  device: Device;
}

/** A real identity service in-process on loopback (mTLS), with doubles at its boundaries. */
export interface IdentityHarness {
  dir: string;
  dataDir: string;
  hosted: HostedService;
  address: string;
  clock: ManualClock;
  /** Audit events identity shipped (the audit double records them). */
  events: auditEventV1.AuditEvent[];
  sms: SentSms[];
  /** Every log line the service wrote (level from GATEHOUSE_LOG_LEVEL, default silent). */
  logs: string[];
  /** IPs the allowlist double answers ALLOW for. */
  allowlisted: Set<string>;
  /** A client presenting the certificate `name` (cli = operator, web = trusted backend, other-backend, audit = service). */
  client(name?: string): Promise<IdentityServiceClient>;
  /** A Google-shaped dev ID token for `email`, signed by the stack's dev issuer key. */
  idToken(email: string, extra?: { name?: string }): string;
  /** The current TOTP code of a device (its step offset by `offsetSteps`). */
  totp(device: Device, offsetSteps?: number): string;
  /** The next HOTP code of a device (advancing it). */
  hotp(device: Device): string;
  /** BootstrapOfficer + the officer's first sign-in with TOTP enrolment. */
  bootstrapOfficer(email: string, phone?: string): Promise<SignedIn>;
  /** The first sign-in of an approved account: Google, SMS, enrolment, OTP. */
  firstSignIn(email: string, opts?: { client?: IdentityServiceClient; clientIp?: string; kind?: 'totp' | 'hotp' }): Promise<SignedIn>;
  /** A later sign-in with an enrolled device. */
  signIn(email: string, device: Device, opts?: { client?: IdentityServiceClient; clientIp?: string }): Promise<SignedIn>;
  /** Begins a sign-in and passes the SMS step; returns the sign-in id. */
  pastSms(email: string, opts?: { client?: IdentityServiceClient; clientIp?: string }): Promise<string>;
  /**
   * Records the account (BeginSignIn refusal), then the officer approves it. A privileged role
   * (security_officer, manager, team_lead) needs a second officer (two-person rule): the
   * harness appoints a helper officer (secondOfficer), who approves the pending change and is
   * demoted again, so suites keep one active officer as before.
   */
  approve(officer: SignedIn, email: string, roles: identityV1.ApproveAccountRequest['roles'], phone?: string): Promise<string>;
  /**
   * Appoints `email` as another security officer the way a deployment appoints its second:
   * a fresh one-time bootstrap token (what identity writes at start while fewer than two
   * officers exist; data-directory access), BootstrapOfficer, then a sign-in.
   */
  secondOfficer(email?: string): Promise<SignedIn>;
  /** Writes a new one-time bootstrap token into identity's store, as identity does at start; returns it. */
  mintBootstrapToken(): Promise<string>;
  /** Makes the audit double answer UNAVAILABLE (true) or work again (false); returns the previous setting. */
  failAudit(fail: boolean): boolean;
  /** Makes the audit double hold every Append unanswered (true), or answer the held ones and go on (false). */
  hangAudit(hang: boolean): void;
  /** Waits until the outbox shipped every event it holds. */
  drainAudit(): Promise<void>;
  /**
   * Starts a replica in a child process on the same store and environment (plus `env`), for
   * crash tests (issue 14 item 5): arm GATEHOUSE_TEST_FAULT_POINT and it dies by SIGKILL there.
   * The in-process replica then ships what its outbox holds (drainAudit).
   */
  spawnReplica(env?: Record<string, string>): Promise<ChildReplica<IdentityServiceClient>>;
  stop(): Promise<void>;
}

/** Metadata naming the end user's IP (honoured from the trusted backend `web`). */
export function forClient(ip: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(CLIENT_IP_HEADER, ip);
  return md;
}


/** The roles whose grant needs a second officer (two-person rule). */
const PRIVILEGED: readonly commonV1.Role[] = [commonV1.Role.ROLE_SECURITY_OFFICER, commonV1.Role.ROLE_MANAGER, commonV1.Role.ROLE_TEAM_LEAD];

/** The display name tests approve an account with: "lea.dubois@x" → "Lea Dubois" (never the e-mail). */
export function displayNameFor(email: string): string {
  return (email.split('@')[0] ?? 'employee')
    .split(/[._-]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/** The device an otpauth:// URI describes. */
export function deviceOf(uri: string): Device {
  const u = new URL(uri);
  return {
    seed: OtpSeed.fromBytes(base32Decode(u.searchParams.get('secret') ?? '') ?? new Uint8Array()),
    algorithm: (u.searchParams.get('algorithm') ?? 'SHA1') as OtpAlgorithm,
    digits: Number(u.searchParams.get('digits') ?? '6') as OtpDigits,
    kind: u.host === 'hotp' ? 'hotp' : 'totp',
    counter: Number(u.searchParams.get('counter') ?? '0'),
    uri,
  };
}

/** Starts identity with doubles for audit, allowlist (not built yet) and the SMS gateway; `env` adds or overrides variables. */
export async function startIdentity(env: Record<string, string> = {}): Promise<IdentityHarness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-svc-'));
  const pkiDir = path.join(dir, 'pki');
  const dataDir = path.join(dir, 'data');
  await ensurePki(pkiDir, {
    services: ['identity', 'audit', 'allowlist'],
    clients: [
      { name: 'cli', kind: 'operator' },
      { name: 'web', kind: 'backend' },
      { name: 'other-backend', kind: 'backend' },
    ],
  });
  const clock = new ManualClock(Date.now());
  const sms: SentSms[] = [];
  const allowlisted = new Set<string>(['127.0.0.1']);

  const mtls = async (name: string) => ({ mode: 'mtls' as const, material: await loadTlsMaterial(pkiDir, name) });
  const auditDouble = await startAuditDouble({ security: await mtls('audit'), service: 'identity', clock });
  const audit = auditDouble.server;
  const events = auditDouble.events;
  const allowlist: RunningServer = await startFakeService({
    name: SERVICE_NAMES.allowlist,
    definition: AllowlistServiceService,
    security: await mtls('allowlist'),
    handlers: {
      Check: unary<allowlistV1.CheckRequest, allowlistV1.CheckResponse>(async (req) =>
        allowlistV1.CheckResponse.fromPartial({
          decision: allowlisted.has(req.ip) ? allowlistV1.CheckDecision.CHECK_DECISION_ALLOW : allowlistV1.CheckDecision.CHECK_DECISION_DENY,
          canonicalIp: req.ip,
        }),
      ),
    },
  });
  const gateway = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const m = JSON.parse(body) as { to: string; text: string };
      sms.push({ ...m, code: /code: (\d+)/.exec(m.text)?.[1] ?? '' });
      res.writeHead(req.headers.authorization === 'Bearer sms-test-key' ? 202 : 401).end();
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  const keyFile = path.join(dir, 'sms-key');
  fs.writeFileSync(keyFile, 'sms-test-key\n', { mode: 0o600 });

  const fullEnv = {
    GATEHOUSE_ENV: 'dev',
    GATEHOUSE_PORT: '0',
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_TLS_DIR: pkiDir,
    GATEHOUSE_LOG_LEVEL: 'silent',
    GATEHOUSE_SHUTDOWN_GRACE_MS: '2000',
    GATEHOUSE_AUDIT_ADDR: `127.0.0.1:${audit.port}`,
    GATEHOUSE_ALLOWLIST_ADDR: `127.0.0.1:${allowlist.port}`,
    GATEHOUSE_SMS_GATEWAY_URL: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/sms`,
    GATEHOUSE_SMS_GATEWAY_KEY_FILE: keyFile,
    GATEHOUSE_TRUSTED_PROXIES: 'web',
    GATEHOUSE_RATE_LIMITS: JSON.stringify({ perCaller: { ratePerSec: 100000, burst: 100000 }, perIp: { ratePerSec: 100000, burst: 100000 } }),
    ...env,
  };
  const logs: string[] = [];
  const hosted = await runService(identityService, { env: fullEnv, clock, logDestination: { write: (line: string) => void logs.push(line) } });
  const address = `127.0.0.1:${hosted.server.port}`;
  const issuer = new DevIdTokenIssuer({ clock, privateKeyPem: fs.readFileSync(path.join(dataDir, 'identity-dev-issuer-key.pem'), 'utf8') });
  const clients: grpc.Client[] = [];
  const children: ChildProcess[] = [];
  const client = async (name = 'cli') => {
    const c = dial(IdentityServiceClient, address, { mode: 'mtls', material: { ...(await loadTlsMaterial(pkiDir, name)), expectedServerName: 'identity' } });
    clients.push(c);
    return c;
  };
  const cli = await client('cli');
  const web = await client('web');
  /** The helper officers' OTP devices, so they sign in again without re-enrolling. */
  const devices = new Map<string, Device>();
  const pick = (opts?: { client?: IdentityServiceClient; clientIp?: string }) => {
    const c = opts?.client ?? (opts?.clientIp ? web : cli);
    return { c, metadata: opts?.clientIp ? forClient(opts.clientIp) : undefined };
  };

  const h: IdentityHarness = {
    dir,
    dataDir,
    hosted,
    address,
    clock,
    events,
    sms,
    logs,
    allowlisted,
    client,
    idToken: (email, extra) => issuer.issue({ email, audience: DEV_CLIENT_ID, ...(extra?.name ? { name: extra.name } : {}) }),
    totp: (d, offset = 0) => otpAt(d.seed, d.algorithm, d.digits, timeStep(clock.now(), 30) + offset),
    hotp: (d) => otpAt(d.seed, d.algorithm, d.digits, d.counter++),
    async pastSms(email, opts) {
      const { c, metadata } = pick(opts);
      const begun = await call(c, c.beginSignIn, { googleIdToken: h.idToken(email) }, { metadata });
      const signInId = begun.state?.signInId ?? '';
      await call(c, c.sendSmsCode, { signInId }, { metadata });
      const code = sms[sms.length - 1]?.code ?? '';
      await call(c, c.verifySmsCode, { signInId, code }, { metadata });
      return signInId;
    },
    async firstSignIn(email, opts) {
      const { c, metadata } = pick(opts);
      const signInId = await h.pastSms(email, opts);
      const kind = opts?.kind === 'hotp' ? identityV1.OtpKind.OTP_KIND_HOTP : identityV1.OtpKind.OTP_KIND_TOTP;
      const enrolled = await call(c, c.enrollOtp, identityV1.EnrollOtpRequest.fromPartial({ signInId, kind }), { metadata });
      const device = deviceOf(enrolled.otpauthUri);
      const confirmCode = device.kind === 'totp' ? h.totp(device) : h.hotp(device);
      await call(c, c.confirmOtpEnrollment, { credentialId: enrolled.credentialId, code: confirmCode, signInId }, { metadata });
      // The confirming code is spent: a TOTP sign-in needs the next step's code.
      if (device.kind === 'totp') clock.advance(30_000);
      const code = device.kind === 'totp' ? h.totp(device) : h.hotp(device);
      const done = await call(c, c.verifyOtp, { signInId, code }, { metadata });
      return { token: done.session?.token ?? '', session: done.session?.info as identityV1.SessionInfo, accountId: done.session?.info?.principal?.accountId ?? '', device };
    },
    async signIn(email, device, opts) {
      const { c, metadata } = pick(opts);
      const signInId = await h.pastSms(email, opts);
      clock.advance(30_000);
      const code = device.kind === 'totp' ? h.totp(device) : h.hotp(device);
      const done = await call(c, c.verifyOtp, { signInId, code }, { metadata });
      return { token: done.session?.token ?? '', session: done.session?.info as identityV1.SessionInfo, accountId: done.session?.info?.principal?.accountId ?? '', device };
    },
    async bootstrapOfficer(email, phone = '+4915100000001') {
      const bootstrapToken = fs.readFileSync(path.join(dataDir, 'identity-bootstrap-token'), 'utf8').trim();
      await call(cli, cli.bootstrapOfficer, { bootstrapToken, googleIdToken: h.idToken(email), phoneNumber: phone });
      return h.firstSignIn(email);
    },
    async approve(officer, email, roles, phone = '+4915100000099') {
      // The first BeginSignIn records the applicant and is refused (PERMISSION_DENIED) until approval.
      await call(cli, cli.beginSignIn, { googleIdToken: h.idToken(email) }).then(
        () => {
          throw new Error(`${email} could sign in before approval`);
        },
        (err: grpc.ServiceError) => {
          if (err.code !== grpc.status.PERMISSION_DENIED) throw err;
        },
      );
      const listed = await call(cli, cli.listAccounts, identityV1.ListAccountsRequest.fromPartial({ email }), { bearer: officer.token });
      const accountId = listed.accounts[0]?.principal?.accountId;
      if (!accountId) throw new Error(`${email} is not listed for approval`);
      const privileged = roles.some((r) => PRIVILEGED.includes(r));
      const helper = privileged ? await h.secondOfficer() : undefined;
      const r = await call(cli, cli.approveAccount, { accountId, roles, phoneNumber: phone, note: 'test', displayName: displayNameFor(email) }, { bearer: officer.token });
      if (helper) {
        if (!r.pendingChange) throw new Error(`approving ${email} as ${roles.join(',')} did not wait for a second officer`);
        await call(cli, cli.approveRoleChange, { changeId: r.pendingChange.changeId, note: 'test: second officer' }, { bearer: helper.token });
        await call(cli, cli.setRoles, { accountId: helper.accountId, roles: [], reason: 'test: helper officer done' }, { bearer: officer.token });
      }
      return accountId;
    },
    async mintBootstrapToken() {
      const token = `ghb_${randomBytes(32).toString('base64url')}`;
      const now = clock.now();
      await hosted.store.store.run((tx) => identityStores(hosted.store).bootstrap.put(tx, bootstrapTokenHash(token), now, new Date(now.getTime() + 3600_000)));
      return token;
    },
    async secondOfficer(email = 'helper.officer@bank.example') {
      const bootstrapToken = await h.mintBootstrapToken();
      await call(cli, cli.bootstrapOfficer, { bootstrapToken, googleIdToken: h.idToken(email), phoneNumber: '+4915100000098' });
      const known = devices.get(email);
      const signed = known ? await h.signIn(email, known) : await h.firstSignIn(email);
      devices.set(email, signed.device);
      return signed;
    },
    failAudit: (fail) => auditDouble.fail(fail),
    hangAudit: (hang) => auditDouble.hang(hang),
    drainAudit: () => drainOutbox([h.hosted]),
    spawnReplica: (extra = {}) =>
      spawnChildReplica({
        spec: { file: fileURLToPath(new URL('../service.ts', import.meta.url)), exportName: 'identityService' },
        env: { ...fullEnv, ...extra },
        Client: IdentityServiceClient,
        pkiDir,
        serviceName: 'identity',
        track: { child: (c) => void children.push(c), client: (c) => void clients.push(c) },
      }),
    async stop() {
      for (const c of clients) c.close();
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await hosted.shutdown('test over');
      await audit.shutdown('test over');
      await allowlist.shutdown('test over');
      await new Promise((r) => gateway.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}
