import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { commonV1, impersonationV1, ImpersonationServiceService } from '@gatehouse/contracts';
import { FailedPreconditionError, PermissionDeniedError } from '@gatehouse/core';
import { anomalyIdIn } from './commands/impersonation.js';
import { useFakeService, type FakeRpc } from './test-support/fake-service.js';

const { ImpersonationReason, GrantState, AnomalyState, AnomalyResolution, AccessOperation } = impersonationV1;
const { Role } = commonV1;

// Canaries: secrets the CLI handles and must never print (except the token inside --json).
const SESSION_TOKEN = 'eyJhbGciOiJFZERTQSJ9.c2Vzc2lvbi1pbXBlcnNvbmF0aW9u.Y2FuYXJ5LXNlc3Npb24';
const IMPERSONATION_TOKEN = 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.Y2FuYXJ5LWltcGVyc29uYXRpb24tdG9rZW4.c2lnLWNhbmFyeS03cTN4';
const CANARIES = [SESSION_TOKEN, IMPERSONATION_TOKEN, 'Y2FuYXJ5LWltcGVyc29uYXRpb24tdG9rZW4'];

const NOW = Date.now();
const minutes = (m: number) => new Date(NOW + m * 60_000);
const JUSTIFICATION = 'Customer reports contacts missing after import (case 4411)';

const principal = (email: string, roles: commonV1.Role[] = [Role.ROLE_SUPPORT]) =>
  commonV1.Principal.fromPartial({ accountId: `acc-${email.split('@')[0]}`, email, displayName: email.split('@')[0], roles });

const grantOf = (over: Partial<impersonationV1.Grant> = {}): impersonationV1.Grant =>
  impersonationV1.Grant.fromPartial({
    grantId: 'grt-5c2e',
    employee: principal('sam@example.com'),
    targetUserId: 'user-42',
    customerDomain: 'acme.example',
    reason: ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE,
    justification: JUSTIFICATION,
    ticketRef: 'SUP-4411',
    startedAt: new Date(NOW),
    expiresAt: minutes(30),
    state: GrantState.GRANT_STATE_ACTIVE,
    sessionId: 'ses-1',
    sourceIp: '198.51.100.23',
    ...over,
  });

const anomalyOf = (over: Partial<impersonationV1.Anomaly> = {}): impersonationV1.Anomaly =>
  impersonationV1.Anomaly.fromPartial({
    anomalyId: 'an_Q1w2E3r4T5y6U7i8',
    employee: principal('sam@example.com'),
    customerDomain: 'acme.example',
    rule: { ruleId: 'impersonation.burst', distinctTargets: 3, window: { seconds: 3600, nanos: 0 } },
    targetUserIds: ['user-1', 'user-2', 'user-3'],
    grantIds: ['grt-1', 'grt-2', 'grt-3'],
    refusedTargetUserId: 'user-4',
    openedAt: minutes(-20),
    state: AnomalyState.ANOMALY_STATE_OPEN,
    ...over,
  });

const statusOf = (over: Partial<impersonationV1.ImpersonationStatus> = {}): impersonationV1.ImpersonationStatus =>
  impersonationV1.ImpersonationStatus.fromPartial({ employee: principal('sam@example.com'), locked: false, blockedDomains: [], activeGrantCount: 0, ...over });

const accessOf = (over: Partial<impersonationV1.AccessLogEntry> = {}): impersonationV1.AccessLogEntry =>
  impersonationV1.AccessLogEntry.fromPartial({
    grantId: 'grt-5c2e',
    employeeDisplayName: 'Sam Support',
    employeeRole: Role.ROLE_SUPPORT,
    targetUserId: 'user-42',
    reason: ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE,
    justification: JUSTIFICATION,
    ticketRef: 'SUP-4411',
    startedAt: new Date('2026-11-27T10:00:00Z'),
    endedAt: new Date('2026-11-27T10:20:00Z'),
    state: GrantState.GRANT_STATE_ENDED,
    touched: [
      { resourceType: 'contact', operation: AccessOperation.ACCESS_OPERATION_READ, count: 12, recordIds: [], recordIdsTruncated: false },
      { resourceType: 'contact_group', operation: AccessOperation.ACCESS_OPERATION_WRITE, count: 1, recordIds: ['grp-1'], recordIdsTruncated: false },
    ],
    ...over,
  });

describe('gatehouse impersonate, anomalies and access-log against a fake ImpersonationService (mTLS)', () => {
  const defaults = (): Record<string, FakeRpc> => ({
    StartImpersonation: (req: impersonationV1.StartImpersonationRequest) => ({
      grant: grantOf({
        targetUserId: req.targetUserId,
        customerDomain: req.customerDomain,
        reason: req.reason,
        justification: req.justification,
        ticketRef: req.ticketRef,
        expiresAt: new Date(NOW + (req.duration?.seconds ?? 1800) * 1000),
      }),
      impersonationToken: IMPERSONATION_TOKEN,
    }),
    EndImpersonation: (req: impersonationV1.EndImpersonationRequest) => ({ grant: grantOf({ grantId: req.grantId, state: GrantState.GRANT_STATE_ENDED, endedAt: new Date(NOW) }) }),
    RevokeImpersonation: (req: impersonationV1.RevokeImpersonationRequest) => ({
      grant: grantOf({ grantId: req.grantId, state: GrantState.GRANT_STATE_REVOKED, endedAt: new Date(NOW), revokedBy: principal('olga@example.com', [Role.ROLE_SECURITY_OFFICER]), revokeReason: req.reason }),
    }),
    ListActive: () => ({ grants: [], nextPageToken: '' }),
    ListAnomalies: () => ({ anomalies: [], nextPageToken: '' }),
    JustifyAnomaly: (req: impersonationV1.JustifyAnomalyRequest) => ({
      anomaly: anomalyOf({ anomalyId: req.anomalyId, state: AnomalyState.ANOMALY_STATE_JUSTIFIED, justification: req.justification, ticketRefs: req.ticketRefs, justifiedAt: new Date(NOW) }),
    }),
    ResolveAnomaly: (req: impersonationV1.ResolveAnomalyRequest) => {
      const reject = req.resolution === AnomalyResolution.ANOMALY_RESOLUTION_REJECT;
      return {
        anomaly: anomalyOf({
          anomalyId: req.anomalyId,
          state: reject ? AnomalyState.ANOMALY_STATE_REJECTED : AnomalyState.ANOMALY_STATE_ACCEPTED,
          resolution: req.resolution,
          resolutionNote: req.note,
          resolvedBy: principal('olga@example.com', [Role.ROLE_SECURITY_OFFICER]),
          resolvedAt: new Date(NOW),
        }),
        status: statusOf(reject ? { locked: true, lockedAt: new Date(NOW), lockingAnomalyId: req.anomalyId } : {}),
      };
    },
    GetImpersonationStatus: () => ({ status: statusOf({ activeGrantCount: 2 }) }),
    UnlockImpersonation: (req: impersonationV1.UnlockImpersonationRequest) => ({ status: statusOf({ employee: { ...principal('sam@example.com'), accountId: req.accountId } }) }),
    ListAccessForDomain: () => ({ entries: [], nextPageToken: '' }),
  });
  const bench = useFakeService({ service: 'impersonation', definition: ImpersonationServiceService, defaults, sessionToken: SESSION_TOKEN, canaries: CANARIES });
  const { calls, impl, rpcs, callOf, env, gatehouse, file, mode, assertNoSecrets } = bench;

  const START = ['impersonate', 'start', '--target', 'user-42', '--domain', 'Acme.Example', '--reason', 'support-case', '--justification', JUSTIFICATION, '--ticket', 'SUP-4411'];
  const startReq = () => callOf<impersonationV1.StartImpersonationRequest>('StartImpersonation').req;

  // -------------------------------------------------------------------------------------------
  // impersonate start

  test('start --token-file: sends every field, the reason enum, 30 min by default and the Bearer session; writes the token to a new 0600 file and never prints it', async () => {
    const tokenFile = path.join(bench.dir, 'imp-token');
    const r = await gatehouse([...START, '--token-file', tokenFile]);
    assert.equal(r.code, 0, r.all());
    const c = callOf<impersonationV1.StartImpersonationRequest>('StartImpersonation');
    assert.deepEqual(c.req, {
      targetUserId: 'user-42',
      customerDomain: 'acme.example',
      reason: ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE,
      justification: JUSTIFICATION,
      ticketRef: 'SUP-4411',
      duration: { seconds: 1800, nanos: 0 },
    });
    assert.equal(c.bearer, SESSION_TOKEN);
    assert.deepEqual(c.authorization, [`Bearer ${SESSION_TOKEN}`]);
    assert.equal(c.caller, 'operator:cli');
    assert.equal(fs.readFileSync(tokenFile, 'utf8'), `${IMPERSONATION_TOKEN}\n`);
    assert.equal(mode(tokenFile), 0o600);
    const text = r.out.join('\n');
    for (const re of [
      /^Impersonating user-42 in acme\.example: grant grt-5c2e\.$/m,
      /^grant: +grt-5c2e$/m,
      /^target: +user-42$/m,
      /^domain: +acme\.example$/m,
      /^reason: +support-case$/m,
      /^ticket: +SUP-4411$/m,
      /^started: +\d{4}-\d\d-\d\dT.*Z \(/m,
      /^expires: +\d{4}-\d\d-\d\dT.*Z \(in 30 min\)$/m,
      /Impersonation token written to .*imp-token \(0600\); it is not shown\..*gatehouse impersonate end grt-5c2e/,
    ]) {
      assert.match(text, re);
    }
    assert.deepEqual(r.err, []);
    assertNoSecrets(r.all());
  });

  test('start --duration: 30m, 1h, 45m and 90s are sent as seconds (the server enforces the maximum); a malformed duration is a usage error and no RPC is made', async () => {
    for (const [duration, seconds] of [
      ['30m', 1800],
      ['1h', 3600],
      ['45m', 2700],
      ['90s', 90],
      ['2h', 7200],
    ] as Array<[string, number]>) {
      calls.length = 0;
      const r = await gatehouse([...START, '--duration', duration, '--json']);
      assert.equal(r.code, 0, `${duration}: ${r.all()}`);
      assert.deepEqual(startReq().duration, { seconds, nanos: 0 }, duration);
    }
    calls.length = 0;
    for (const bad of ['abc', '30', '0m', '1d', '1.5h', '']) {
      const r = await gatehouse([...START, '--duration', bad, '--json']);
      assert.equal(r.code, 2, bad);
      assert.match(r.err.join('\n'), /impersonate start: --duration must be a duration such as 15m, 1h or 90s/);
    }
    assert.deepEqual(calls, []);
  });

  test('start --reason: support-case, bug and incident map to the enum; an unknown or missing reason is a usage error listing the names', async () => {
    for (const [name, reason] of [
      ['bug', ImpersonationReason.IMPERSONATION_REASON_BUG_INVESTIGATION],
      ['incident', ImpersonationReason.IMPERSONATION_REASON_INCIDENT_RESPONSE],
      ['Support-Case', ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE],
    ] as Array<[string, impersonationV1.ImpersonationReason]>) {
      calls.length = 0;
      const argv = [...START, '--json'];
      argv[argv.indexOf('support-case')] = name;
      const r = await gatehouse(argv);
      assert.equal(r.code, 0, r.all());
      assert.equal(startReq().reason, reason, name);
    }
    calls.length = 0;
    const unknown = [...START, '--json'];
    unknown[unknown.indexOf('support-case')] = 'curiosity';
    const u = await gatehouse(unknown);
    assert.equal(u.code, 2);
    assert.match(u.err.join('\n'), /--reason must be one of support-case, bug, incident, got "curiosity"/);
    const missing = START.filter((x, i) => x !== '--reason' && START[i - 1] !== '--reason');
    const m = await gatehouse([...missing, '--json']);
    assert.equal(m.code, 2);
    assert.match(m.err.join('\n'), /--reason is required: one of support-case, bug, incident/);
    assert.deepEqual(calls, []);
  });

  test('start without --token-file and without --json is a usage error naming --token-file, and no grant is made', async () => {
    const r = await gatehouse(START);
    assert.equal(r.code, 2);
    assert.match(r.err.join('\n'), /impersonate start: the impersonation token is a secret and is not printed: give --token-file <new file>/);
    assert.deepEqual(r.out, []);
    assert.deepEqual(calls, []);
  });

  test('start refuses to write over an existing token file: the file is unchanged and no grant is made', async () => {
    const tokenFile = file('imp-token', 'keep me');
    const r = await gatehouse([...START, '--token-file', tokenFile]);
    assert.equal(r.code, 2);
    assert.match(r.err.join('\n'), /imp-token exists; an impersonation token is never written over an existing file/);
    assert.equal(fs.readFileSync(tokenFile, 'utf8'), 'keep me');
    assert.deepEqual(calls, []);
  });

  test('start --json prints the full response with the token; with --token-file as well, the file path instead of the token', async () => {
    const j = await gatehouse([...START, '--json']);
    assert.equal(j.code, 0, j.all());
    assert.equal(j.out.length, 1);
    const parsed = JSON.parse(j.out[0] ?? '') as { grant: { grantId: string; reason: string; customerDomain: string; state: string }; impersonationToken?: string };
    assert.deepEqual(
      [parsed.grant.grantId, parsed.grant.reason, parsed.grant.customerDomain, parsed.grant.state, parsed.impersonationToken],
      ['grt-5c2e', 'IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE', 'acme.example', 'GRANT_STATE_ACTIVE', IMPERSONATION_TOKEN],
    );
    assertNoSecrets(j.err.join('\n'));

    const tokenFile = path.join(bench.dir, 'imp-token');
    const jf = await gatehouse([...START, '--json', '--token-file', tokenFile]);
    assert.equal(jf.code, 0, jf.all());
    const withFile = JSON.parse(jf.out[0] ?? '') as { tokenFile: string; impersonationToken?: string };
    assert.equal(withFile.tokenFile, tokenFile);
    assert.equal(withFile.impersonationToken, undefined);
    assert.equal(fs.readFileSync(tokenFile, 'utf8'), `${IMPERSONATION_TOKEN}\n`);
    assertNoSecrets(jf.all());
  });

  test('start refused by the burst rule (FAILED_PRECONDITION): the server message, and a hint to justify the anomaly it names; no token file is left', async () => {
    impl['StartImpersonation'] = () => {
      throw new FailedPreconditionError('burst rule impersonation.burst: 3 distinct targets in acme.example within 60 min; anomaly an_Q1w2E3r4T5y6U7i8 is open and blocks impersonation in acme.example');
    };
    const tokenFile = path.join(bench.dir, 'imp-token');
    const r = await gatehouse([...START, '--token-file', tokenFile]);
    assert.equal(r.code, 1);
    const text = r.err.join('\n');
    assert.match(text, /StartImpersonation: FAILED_PRECONDITION: burst rule impersonation\.burst: 3 distinct targets in acme\.example within 60 min; anomaly an_Q1w2E3r4T5y6U7i8 is open/);
    assert.match(text, /gatehouse anomalies justify an_Q1w2E3r4T5y6U7i8 --justification "\.\.\." --ticket <ref>/);
    assert.equal(fs.existsSync(tokenFile), false);
    assertNoSecrets(r.all());

    impl['StartImpersonation'] = () => {
      throw new FailedPreconditionError('impersonation in acme.example is blocked by an unresolved anomaly');
    };
    const b = await gatehouse([...START, '--json']);
    assert.equal(b.code, 1);
    assert.match(b.err.join('\n'), /blocked by an unresolved anomaly\n.*\n +gatehouse anomalies justify <anomaly-id> --justification/);
    assert.deepEqual(b.out, []);

    impl['StartImpersonation'] = () => {
      throw new PermissionDeniedError('you are locked out of impersonation');
    };
    const p = await gatehouse([...START, '--json']);
    assert.equal(p.code, 1);
    assert.match(p.err.join('\n'), /PERMISSION_DENIED: you are locked out of impersonation\n.*gatehouse impersonate status/);
  });

  test('the anomaly id is found in the forms a refusal may name it', () => {
    assert.equal(anomalyIdIn('rule impersonation.burst fired: …; anomaly an_Q1w2E3r4T5y6U7i8 is open and blocks impersonation in acme.example'), 'an_Q1w2E3r4T5y6U7i8');
    assert.equal(anomalyIdIn('rule impersonation.burst: impersonation in acme.example is blocked by anomaly an_abcdefghijklmnop (justified)'), 'an_abcdefghijklmnop');
    assert.equal(anomalyIdIn('an unresolved anomaly blocks you'), undefined);
    assert.equal(anomalyIdIn('anomaly an_short'), undefined);
  });

  test('start --justification-file, and the usage errors for justification, ticket, target, stray words and a missing session, all before any RPC', async () => {
    const jf = file('why.txt', `  ${JUSTIFICATION}\n`);
    const withoutJustification = START.filter((x, i) => x !== '--justification' && START[i - 1] !== '--justification');
    const r = await gatehouse([...withoutJustification, '--justification-file', jf, '--json']);
    assert.equal(r.code, 0, r.all());
    assert.equal(startReq().justification, JUSTIFICATION);

    calls.length = 0;
    for (const [argv, re] of [
      [[...withoutJustification, '--json'], /--justification is required .*--justification-file <file>/],
      [[...START, '--justification-file', jf, '--json'], /give --justification or --justification-file, not both/],
      [[...withoutJustification, '--justification-file', path.join(bench.dir, 'missing'), '--json'], /cannot read --justification-file/],
      [[...START, '--ticket', 'SUP-1', '--json'], /give one --ticket for a grant/],
      [[...START.slice(0, 2), ...START.slice(4), '--json'], /--target is required/],
      [[...START.slice(0, 4), ...START.slice(6), '--json'], /--domain is required/],
      [[...START, 'asked', '--json'], /unexpected argument "asked" \(quote text with spaces/],
    ] as Array<[string[], RegExp]>) {
      const x = await gatehouse(argv);
      assert.equal(x.code, 2, argv.join(' '));
      assert.match(x.err.join('\n'), re);
    }
    const noSession = await gatehouse([...START, '--json'], env());
    assert.equal(noSession.code, 2);
    assert.match(noSession.err.join('\n'), /needs your session: run `gatehouse login`/);
    assert.deepEqual(calls, []);
  });

  // -------------------------------------------------------------------------------------------
  // impersonate end, revoke, list, status, unlock

  test('end and revoke send the grant id (and the reason) with the session; revoke needs --reason; --json is the grant', async () => {
    const e = await gatehouse(['impersonate', 'end', 'grt-5c2e']);
    assert.equal(e.code, 0, e.all());
    const end = callOf<impersonationV1.EndImpersonationRequest>('EndImpersonation');
    assert.deepEqual(end.req, { grantId: 'grt-5c2e' });
    assert.equal(end.bearer, SESSION_TOKEN);
    assert.match(e.out.join('\n'), /^Ended grant grt-5c2e \(user-42 in acme\.example\): ENDED; its token is refused from now on\.$/m);
    assert.match(e.out.join('\n'), /^state: +ENDED$/m);

    const v = await gatehouse(['impersonate', 'revoke', 'grt-5c2e', '--reason', 'ticket closed days ago']);
    assert.equal(v.code, 0, v.all());
    assert.deepEqual(callOf<impersonationV1.RevokeImpersonationRequest>('RevokeImpersonation').req, { grantId: 'grt-5c2e', reason: 'ticket closed days ago' });
    assert.match(v.out.join('\n'), /^revoked: +by olga@example\.com: ticket closed days ago$/m);

    const j = await gatehouse(['impersonate', 'end', 'grt-5c2e', '--json']);
    assert.equal((JSON.parse(j.out[0] ?? '') as { state: string }).state, 'GRANT_STATE_ENDED');

    calls.length = 0;
    for (const argv of [['impersonate', 'revoke', 'grt-5c2e'], ['impersonate', 'end'], ['impersonate', 'revoke', '--reason', 'x']]) {
      assert.equal((await gatehouse(argv)).code, 2, argv.join(' '));
    }
    assert.deepEqual(calls, []);

    impl['EndImpersonation'] = () => {
      throw new FailedPreconditionError('grant grt-5c2e is EXPIRED');
    };
    const gone = await gatehouse(['impersonate', 'end', 'grt-5c2e']);
    assert.equal(gone.code, 1);
    assert.match(gone.err.join('\n'), /EndImpersonation: FAILED_PRECONDITION: grant grt-5c2e is EXPIRED\nThe grant is no longer ACTIVE/);
  });

  test('list sends the filters and follows next_page_token to the end; --limit stops early; --json is an array', async () => {
    impl['ListActive'] = (req: impersonationV1.ListActiveRequest) =>
      req.pageToken === ''
        ? { grants: [grantOf({ grantId: 'grt-1', expiresAt: minutes(5) })], nextPageToken: 'p2' }
        : { grants: [grantOf({ grantId: 'grt-2', targetUserId: 'user-7', ticketRef: 'BUG-9', reason: ImpersonationReason.IMPERSONATION_REASON_BUG_INVESTIGATION })], nextPageToken: '' };
    const r = await gatehouse(['impersonate', 'list', '--account', 'acc-sam', '--domain', 'acme.example']);
    assert.equal(r.code, 0, r.all());
    const reqs = calls.map((c) => c.req as impersonationV1.ListActiveRequest);
    assert.deepEqual(
      reqs.map((q) => [q.accountId, q.customerDomain, q.pageSize, q.pageToken]),
      [
        ['acc-sam', 'acme.example', 500, ''],
        ['acc-sam', 'acme.example', 500, 'p2'],
      ],
    );
    assert.ok(calls.every((c) => c.bearer === SESSION_TOKEN));
    assert.match(r.out[0] ?? '', /^ID +EMPLOYEE +TARGET +DOMAIN +REASON +TICKET +STARTED +EXPIRES$/);
    assert.match(r.out[1] ?? '', /^grt-1 +sam@example\.com +user-42 +acme\.example +support-case +SUP-4411 +\S+ +\S+ \(in 5 min\)$/);
    assert.match(r.out[2] ?? '', /^grt-2 +sam@example\.com +user-7 +acme\.example +bug +BUG-9 /);
    assert.equal(r.out.length, 3);

    calls.length = 0;
    const j = await gatehouse(['impersonate', 'list', '--json']);
    const parsed = JSON.parse(j.out[0] ?? '') as Array<{ grantId: string }>;
    assert.deepEqual(parsed.map((g) => g.grantId), ['grt-1', 'grt-2']);
    assert.deepEqual(rpcs(), ['ListActive', 'ListActive']);
    assert.equal((calls[0]?.req as impersonationV1.ListActiveRequest).accountId, undefined, 'no --account: not sent');

    calls.length = 0;
    const l = await gatehouse(['impersonate', 'list', '--limit', '1']);
    assert.equal(l.code, 0, l.all());
    assert.deepEqual(rpcs(), ['ListActive']);
    assert.equal((calls[0]?.req as impersonationV1.ListActiveRequest).pageSize, 1);
    assert.equal(l.out.length, 2);
    assert.equal((await gatehouse(['impersonate', 'list', '--limit', 'many'])).code, 2);

    impl['ListActive'] = () => ({ grants: [], nextPageToken: '' });
    assert.deepEqual((await gatehouse(['impersonate', 'list'])).out, ['no active grants']);
  });

  test('status shows the lock, the locking anomaly, blocked domains with their anomalies and the active grant count; --json', async () => {
    impl['GetImpersonationStatus'] = () => ({
      status: statusOf({
        locked: true,
        lockedAt: minutes(-90),
        lockingAnomalyId: 'anm-1',
        blockedDomains: [
          { customerDomain: 'acme.example', anomalyId: 'anm-2' },
          { customerDomain: 'globex.example', anomalyId: 'anm-3' },
        ],
        activeGrantCount: 0,
      }),
    });
    const r = await gatehouse(['impersonate', 'status', '--account', 'acc-sam']);
    assert.equal(r.code, 0, r.all());
    assert.deepEqual(callOf<impersonationV1.GetImpersonationStatusRequest>('GetImpersonationStatus').req, { accountId: 'acc-sam' });
    const text = r.out.join('\n');
    for (const re of [
      /^employee: +sam@example\.com \(acc-sam\)$/m,
      /^locked: +yes, since \d{4}-.*Z \(1 h 30 min ago\)$/m,
      /^locking anomaly: +anm-1$/m,
      /^blocked domains: +acme\.example \(anomaly anm-2\), globex\.example \(anomaly anm-3\)$/m,
      /^active grants: +0$/m,
      /gatehouse impersonate unlock acc-sam --note/,
    ]) {
      assert.match(text, re);
    }

    calls.length = 0;
    const own = await gatehouse(['impersonate', 'status']);
    assert.equal(callOf<impersonationV1.GetImpersonationStatusRequest>('GetImpersonationStatus').req.accountId, undefined, 'no --account: the caller');
    assert.match(own.out.join('\n'), /gatehouse anomalies justify anm-2 --justification/);

    const j = await gatehouse(['impersonate', 'status', '--json']);
    const parsed = JSON.parse(j.out[0] ?? '') as { locked: boolean; blockedDomains: Array<{ anomalyId: string }> };
    assert.deepEqual([parsed.locked, parsed.blockedDomains.map((b) => b.anomalyId)], [true, ['anm-2', 'anm-3']]);
  });

  test('unlock sends the account and the note; --note is required', async () => {
    const r = await gatehouse(['impersonate', 'unlock', 'acc-sam', '--note', 'talked it through; one-off']);
    assert.equal(r.code, 0, r.all());
    assert.deepEqual(callOf<impersonationV1.UnlockImpersonationRequest>('UnlockImpersonation').req, { accountId: 'acc-sam', note: 'talked it through; one-off' });
    assert.match(r.out.join('\n'), /^Unlocked sam@example\.com \(acc-sam\): not locked\.$/m);
    const j = await gatehouse(['impersonate', 'unlock', 'acc-sam', '--note', 'ok', '--json']);
    const unlocked = JSON.parse(j.out[0] ?? '') as { employee: { accountId: string }; locked?: boolean };
    assert.deepEqual([unlocked.employee.accountId, unlocked.locked ?? false], ['acc-sam', false], 'proto3 JSON leaves out false');

    calls.length = 0;
    const bad = await gatehouse(['impersonate', 'unlock', 'acc-sam']);
    assert.equal(bad.code, 2);
    assert.match(bad.err.join('\n'), /--note is required/);
    assert.equal((await gatehouse(['impersonate', 'wat'])).code, 2);
    assert.deepEqual(calls, []);
  });

  // -------------------------------------------------------------------------------------------
  // anomalies

  test('anomalies list sends the states (repeated or comma-separated) and filters, follows pages, and shows id, employee, domain, state, opened and the targets count', async () => {
    impl['ListAnomalies'] = (req: impersonationV1.ListAnomaliesRequest) =>
      req.pageToken === ''
        ? { anomalies: [anomalyOf({ anomalyId: 'anm-2', state: AnomalyState.ANOMALY_STATE_JUSTIFIED, openedAt: new Date('2026-11-27T11:00:00Z') })], nextPageToken: 'next' }
        : { anomalies: [anomalyOf({ anomalyId: 'anm-1', targetUserIds: ['a', 'b', 'c', 'd'], openedAt: new Date('2026-11-27T09:00:00Z') })], nextPageToken: '' };
    const r = await gatehouse(['anomalies', 'list', '--state', 'open,justified', '--state', 'Rejected', '--account', 'acc-sam', '--domain', 'acme.example']);
    assert.equal(r.code, 0, r.all());
    const reqs = calls.map((c) => c.req as impersonationV1.ListAnomaliesRequest);
    assert.deepEqual(reqs.map((q) => q.pageToken), ['', 'next']);
    assert.deepEqual(
      { states: reqs[0]?.states, accountId: reqs[0]?.accountId, customerDomain: reqs[0]?.customerDomain },
      { states: [AnomalyState.ANOMALY_STATE_OPEN, AnomalyState.ANOMALY_STATE_JUSTIFIED, AnomalyState.ANOMALY_STATE_REJECTED], accountId: 'acc-sam', customerDomain: 'acme.example' },
    );
    assert.match(r.out[0] ?? '', /^ID +EMPLOYEE +DOMAIN +STATE +OPENED +TARGETS$/);
    assert.match(r.out[1] ?? '', /^anm-2 +sam@example\.com +acme\.example +JUSTIFIED +2026-11-27T11:00:00\.000Z +3$/);
    assert.match(r.out[2] ?? '', /^anm-1 +sam@example\.com +acme\.example +OPEN +2026-11-27T09:00:00\.000Z +4$/);

    const j = await gatehouse(['anomalies', 'list', '--json']);
    assert.deepEqual((JSON.parse(j.out[0] ?? '') as Array<{ anomalyId: string; state: string }>).map((x) => [x.anomalyId, x.state]), [
      ['anm-2', 'ANOMALY_STATE_JUSTIFIED'],
      ['anm-1', 'ANOMALY_STATE_OPEN'],
    ]);

    calls.length = 0;
    const bad = await gatehouse(['anomalies', 'list', '--state', 'closed']);
    assert.equal(bad.code, 2);
    assert.match(bad.err.join('\n'), /--state must be open, justified, accepted or rejected, got "closed"/);
    assert.deepEqual(calls, []);
  });

  test('anomalies justify sends the justification (text or file) and every --ticket; a ticket is required', async () => {
    const r = await gatehouse(['anomalies', 'justify', 'an_Q1w2E3r4T5y6U7i8', '--justification', 'Migration support for three users of one account', '--ticket', 'SUP-1', '--ticket', 'SUP-2']);
    assert.equal(r.code, 0, r.all());
    const c = callOf<impersonationV1.JustifyAnomalyRequest>('JustifyAnomaly');
    assert.deepEqual(c.req, { anomalyId: 'an_Q1w2E3r4T5y6U7i8', justification: 'Migration support for three users of one account', ticketRefs: ['SUP-1', 'SUP-2'] });
    assert.equal(c.bearer, SESSION_TOKEN);
    assert.match(r.out.join('\n'), /^Anomaly an_Q1w2E3r4T5y6U7i8 is JUSTIFIED: it waits for the security officer; impersonation in acme\.example stays blocked until it is accepted\.$/);

    calls.length = 0;
    const f = await gatehouse(['anomalies', 'justify', 'an_Q1w2E3r4T5y6U7i8', '--justification-file', file('why', 'From a file\n'), '--ticket', 'SUP-3', '--json']);
    assert.equal(f.code, 0, f.all());
    assert.equal(callOf<impersonationV1.JustifyAnomalyRequest>('JustifyAnomaly').req.justification, 'From a file');
    assert.equal((JSON.parse(f.out[0] ?? '') as { state: string }).state, 'ANOMALY_STATE_JUSTIFIED');

    calls.length = 0;
    for (const [argv, re] of [
      [['anomalies', 'justify', 'an_Q1w2E3r4T5y6U7i8', '--justification', 'x'], /--ticket is required/],
      [['anomalies', 'justify', 'an_Q1w2E3r4T5y6U7i8', '--ticket', 'SUP-1'], /--justification is required/],
      [['anomalies', 'justify', '--justification', 'x', '--ticket', 'SUP-1'], /give the anomaly id/],
    ] as Array<[string[], RegExp]>) {
      const x = await gatehouse(argv);
      assert.equal(x.code, 2, argv.join(' '));
      assert.match(x.err.join('\n'), re);
    }
    assert.deepEqual(calls, []);
  });

  test('anomalies resolve: exactly one of --accept and --reject, and --note, before any RPC', async () => {
    for (const argv of [
      ['anomalies', 'resolve', 'an_Q1w2E3r4T5y6U7i8', '--accept', '--reject', '--note', 'x'],
      ['anomalies', 'resolve', 'an_Q1w2E3r4T5y6U7i8', '--note', 'x'],
    ]) {
      const r = await gatehouse(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err.join('\n'), /anomalies resolve: give exactly one of --accept .* or --reject/);
    }
    const noNote = await gatehouse(['anomalies', 'resolve', 'an_Q1w2E3r4T5y6U7i8', '--accept']);
    assert.equal(noNote.code, 2);
    assert.match(noNote.err.join('\n'), /--note is required/);
    assert.deepEqual(calls, []);
  });

  test('anomalies resolve --accept / --reject send the resolution and show the anomaly state and the employee standing', async () => {
    const a = await gatehouse(['anomalies', 'resolve', 'an_Q1w2E3r4T5y6U7i8', '--accept', '--note', 'tickets check out']);
    assert.equal(a.code, 0, a.all());
    assert.deepEqual(callOf<impersonationV1.ResolveAnomalyRequest>('ResolveAnomaly').req, { anomalyId: 'an_Q1w2E3r4T5y6U7i8', resolution: AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT, note: 'tickets check out' });
    assert.match(a.out.join('\n'), /^Anomaly an_Q1w2E3r4T5y6U7i8 ACCEPTED\.$/m);
    assert.match(a.out.join('\n'), /^state: +ACCEPTED$/m);
    assert.match(a.out.join('\n'), /^rule: +impersonation\.burst: 3 distinct targets within 60 min$/m);
    assert.match(a.out.join('\n'), /^sam@example\.com \(acc-sam\): not locked\.$/m);

    calls.length = 0;
    const r = await gatehouse(['anomalies', 'resolve', 'an_Q1w2E3r4T5y6U7i8', '--reject', '--note', 'no ticket covers user-3']);
    assert.equal(r.code, 0, r.all());
    assert.equal(callOf<impersonationV1.ResolveAnomalyRequest>('ResolveAnomaly').req.resolution, AnomalyResolution.ANOMALY_RESOLUTION_REJECT);
    assert.match(r.out.join('\n'), /^Anomaly an_Q1w2E3r4T5y6U7i8 REJECTED\.$/m);
    assert.match(r.out.join('\n'), /^sam@example\.com \(acc-sam\): LOCKED out of impersonation in every domain since .* \(anomaly an_Q1w2E3r4T5y6U7i8\)\.$/m);

    const j = await gatehouse(['anomalies', 'resolve', 'an_Q1w2E3r4T5y6U7i8', '--reject', '--note', 'x', '--json']);
    const parsed = JSON.parse(j.out[0] ?? '') as { anomaly: { state: string }; status: { locked: boolean; lockingAnomalyId: string } };
    assert.deepEqual([parsed.anomaly.state, parsed.status.locked, parsed.status.lockingAnomalyId], ['ANOMALY_STATE_REJECTED', true, 'an_Q1w2E3r4T5y6U7i8']);
  });

  // -------------------------------------------------------------------------------------------
  // access-log

  test('access-log sends the domain and time range, follows pages, and shows who, when, why and what was touched', async () => {
    impl['ListAccessForDomain'] = (req: impersonationV1.ListAccessForDomainRequest) =>
      req.pageToken === ''
        ? { entries: [accessOf()], nextPageToken: 'p2' }
        : {
            entries: [
              accessOf({
                grantId: 'grt-1',
                employeeDisplayName: 'Dana Dev',
                employeeRole: Role.ROLE_DEVELOPER,
                reason: ImpersonationReason.IMPERSONATION_REASON_BUG_INVESTIGATION,
                ticketRef: 'BUG-77',
                state: GrantState.GRANT_STATE_ACTIVE,
                endedAt: undefined,
                touched: [],
              }),
            ],
            nextPageToken: '',
          };
    const r = await gatehouse(['access-log', 'ACME.example', '--since', '2026-11-01T00:00:00Z', '--until', '2026-11-28']);
    assert.equal(r.code, 0, r.all());
    const reqs = calls.map((c) => c.req as impersonationV1.ListAccessForDomainRequest);
    assert.deepEqual(reqs.map((q) => q.pageToken), ['', 'p2']);
    assert.equal(reqs[0]?.customerDomain, 'acme.example');
    assert.deepEqual(reqs[0]?.started, { startTime: new Date('2026-11-01T00:00:00Z'), endTime: new Date('2026-11-28T00:00:00Z') });
    assert.equal(calls[0]?.bearer, SESSION_TOKEN);
    const text = r.out.join('\n');
    for (const re of [
      /^started: +2026-11-27T10:00:00\.000Z$/m,
      /^ended: +2026-11-27T10:20:00\.000Z$/m,
      /^state: +ENDED$/m,
      /^employee: +Sam Support \(support\)$/m,
      /^target: +user-42$/m,
      /^reason: +support-case$/m,
      /^ticket: +SUP-4411$/m,
      /^justification: +Customer reports contacts missing after import \(case 4411\)$/m,
      /^touched: +contact read ×12, contact_group write ×1$/m,
      /^employee: +Dana Dev \(developer\)$/m,
      /^reason: +bug$/m,
      /^state: +ACTIVE$/m,
      /^ended: +-$/m,
      /^touched: +nothing reported$/m,
    ]) {
      assert.match(text, re);
    }
    assert.ok(r.out.includes(''), 'entries are separated by a blank line');

    calls.length = 0;
    const j = await gatehouse(['access-log', 'acme.example', '--json']);
    assert.equal(j.code, 0, j.all());
    const parsed = JSON.parse(j.out[0] ?? '') as Array<{ grantId: string; touched: Array<{ resourceType: string; operation: string; count: number }> }>;
    assert.deepEqual(parsed.map((e) => e.grantId), ['grt-5c2e', 'grt-1']);
    assert.deepEqual(parsed[0]?.touched[0], { resourceType: 'contact', operation: 'ACCESS_OPERATION_READ', count: 12 });
    assert.equal((calls[0]?.req as impersonationV1.ListAccessForDomainRequest).started, undefined);

    calls.length = 0;
    for (const [argv, re] of [
      [['access-log'], /give the customer domain/],
      [['access-log', 'acme.example', '--since', 'yesterday'], /--since must be a date\/time \(ISO 8601\)/],
      [['access-log', 'acme.example', '--since', '2026-11-28', '--until', '2026-11-01'], /--since must be before --until/],
      [['access-log', 'acme.example', '--limit', '0'], /--limit must be a whole number from 1/],
    ] as Array<[string[], RegExp]>) {
      const x = await gatehouse(argv);
      assert.equal(x.code, 2, argv.join(' '));
      assert.match(x.err.join('\n'), re);
    }
    assert.deepEqual(calls, []);

    impl['ListAccessForDomain'] = () => ({ entries: [], nextPageToken: '' });
    assert.deepEqual((await gatehouse(['access-log', 'acme.example'])).out, ['no staff access to acme.example']);
  });
});
