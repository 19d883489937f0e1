import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  AuditServiceClient,
  IdentityServiceClient,
  ImpersonationServiceClient,
  SecretsServiceClient,
  auditEventV1,
  auditV1,
  commonV1,
  identityV1,
  impersonationV1,
  secretsV1,
} from '@gatehouse/contracts';
import { call, dial, stream } from '@gatehouse/service-kit';
import type { Role } from '@gatehouse/session';
import { testSessionIssuer, type TestSessionIssuer } from '@gatehouse/testing';
import { ROOT, startStack, type Stack } from './stack.js';

const { ImpersonationOperation: Op, TokenInvalidReason: Why, GrantState, AccessOperation } = impersonationV1;

/** An employee as the test session issuer mints them (display name distinct from the e-mail). */
interface Employee {
  accountId: string;
  email: string;
  displayName: string;
  roles: Role[];
}
const ANNA: Employee = { accountId: 'acc-anna', email: 'anna.support@corp.example', displayName: 'Anna Lindqvist', roles: ['support'] };
const BRUNO: Employee = { accountId: 'acc-bruno', email: 'bruno.dev@corp.example', displayName: 'Bruno Costa', roles: ['developer'] };
const CHLOE: Employee = { accountId: 'acc-chloe', email: 'chloe.support@corp.example', displayName: 'Chloé Martin', roles: ['support'] };
const OLGA: Employee = { accountId: 'acc-olga', email: 'olga.officer@corp.example', displayName: 'Olga Officer', roles: ['security_officer'] };

const JUSTIFICATION = 'customer reported missing contacts after the import (case 4711)';
const ANOMALY_RULE = 'impersonation.anomaly';
const ALERT_LATENCY_LIMIT_MS = 1000;

interface CliRun {
  args: string[];
  status: number | null;
  stdout: string;
  stderr: string;
  /** Date.now() when the process had exited and its output was closed. */
  endedAt: number;
}

/**
 * Impersonation (issue 7) through the built `gatehouse` CLI against the built five-service
 * stack: real mTLS, SQLite, allowlist (loopback allowlisted by the dev configuration) and the
 * real audit service with its built-in alert rules. Sessions come from a test session key the
 * services trust through GATEHOUSE_SESSION_KEYS_FILE (identity keeps its own keys).
 */
describe('gatehouse impersonate / anomalies / access-log (CLI) against the stack', () => {
  let stack: Stack;
  let sessions: TestSessionIssuer;
  let dir: string;
  /** Every CLI run, to check no impersonation token was ever printed. */
  const runs: CliRun[] = [];
  /** Every impersonation token obtained (from the 0600 token files). */
  const tokens: string[] = [];
  /** Grants started, by domain, as the CLI reported them. */
  const started = new Map<string, string[]>();
  /** The anomalies opened. */
  const anomalyIds: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-imp-'));
    sessions = testSessionIssuer(dir);
    stack = await startStack({ GATEHOUSE_SESSION_KEYS_FILE: sessions.keysFile, GATEHOUSE_AUDIT_READERS: 'dev-backend' });
  });
  after(async () => {
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const session = (e: Employee) => sessions.token({ roles: e.roles, accountId: e.accountId, email: e.email, displayName: e.displayName });

  /** Runs the built CLI (asynchronously, so streams opened by the test keep being read meanwhile). */
  function gh(args: string[], as?: Employee | { token: string }): Promise<CliRun> {
    const token = as === undefined ? undefined : 'token' in as ? as.token : session(as);
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      HOME: dir,
      GATEHOUSE_CONFIG_DIR: path.join(dir, 'config'),
      GATEHOUSE_TLS_DIR: stack.pkiDir,
      GATEHOUSE_IMPERSONATION_ADDR: stack.services.impersonation.address,
      GATEHOUSE_AUDIT_ADDR: stack.services.audit.address,
      ...(token ? { GATEHOUSE_SESSION_TOKEN: token } : {}),
    };
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/cli/main.mjs'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('error', reject);
      child.once('close', (status) => {
        clearTimeout(timer);
        const run = { args, status, stdout, stderr, endedAt: Date.now() };
        runs.push(run);
        resolve(run);
      });
    });
  }

  /** `impersonate start … --token-file`; on success returns the grant id and the token read from the 0600 file. */
  async function startGrant(e: Employee, target: string, domain: string, o: { reason?: string; ticket?: string; justification?: string } = {}) {
    const tokenFile = path.join(dir, `token-${randomUUID()}`);
    const run = await gh(
      ['impersonate', 'start', '--target', target, '--domain', domain, '--reason', o.reason ?? 'support-case', '--justification', o.justification ?? JUSTIFICATION, '--ticket', o.ticket ?? 'SUP-4711', '--token-file', tokenFile],
      e,
    );
    if (run.status !== 0) {
      assert.ok(!fs.existsSync(tokenFile), 'a refused start leaves no token file');
      return { run, grantId: '', token: '', tokenFile };
    }
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600, 'the token file is 0600');
    const token = fs.readFileSync(tokenFile, 'utf8').trim();
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'a compact JWS');
    tokens.push(token);
    const grantId = /grant (gr_[A-Za-z0-9_-]{16})\./.exec(run.stdout)?.[1] ?? '';
    assert.ok(grantId, run.stdout);
    started.set(domain, [...(started.get(domain) ?? []), grantId]);
    return { run, grantId, token, tokenFile };
  }

  async function mustStart(e: Employee, target: string, domain: string, o: { reason?: string; ticket?: string; justification?: string } = {}) {
    const r = await startGrant(e, target, domain, o);
    assert.equal(r.run.status, 0, `start ${target}@${domain} as ${e.accountId}: ${r.run.stderr}`);
    return r;
  }

  const verifier = async () => dial(ImpersonationServiceClient, stack.services.impersonation.address, { mode: 'mtls', material: await stack.material('dev-backend', 'impersonation') });
  const auditReader = async () => dial(AuditServiceClient, stack.services.audit.address, { mode: 'mtls', material: await stack.material('dev-backend', 'audit') });

  async function anomalyAlerts(audit: AuditServiceClient, anomalyId: string): Promise<auditV1.Alert[]> {
    const res = await call(audit, audit.listAlerts, auditV1.ListAlertsRequest.fromPartial({ ruleId: ANOMALY_RULE, pageSize: 500 }));
    return res.alerts.filter((a) => a.ruleId === ANOMALY_RULE && a.groupKey.includes(anomalyId));
  }

  /** Opens a burst: three distinct users of `domain`, then a fourth start that must be refused; returns the anomaly id. */
  async function burst(e: Employee, domain: string, prefix: string) {
    const grants = [];
    for (const n of [1, 2, 3]) grants.push(await mustStart(e, `${prefix}-${n}`, domain));
    const refused = await startGrant(e, `${prefix}-4`, domain);
    assert.equal(refused.run.status, 1, refused.run.stdout + refused.run.stderr);
    assert.match(refused.run.stderr, /StartImpersonation: FAILED_PRECONDITION: rule impersonation\.burst fired/);
    const anomalyId = /anomaly (an_[A-Za-z0-9_-]{16}) is open/.exec(refused.run.stderr)?.[1] ?? '';
    assert.ok(anomalyId, refused.run.stderr);
    assert.ok(refused.run.stderr.includes(`gatehouse anomalies justify ${anomalyId} --justification "..." --ticket <ref>`), `the CLI's hint names the anomaly: ${refused.run.stderr}`);
    anomalyIds.push(anomalyId);
    return { grants, refused, anomalyId };
  }

  test('burst rule: the 4th distinct user of a domain is refused naming impersonation.burst and the anomaly; audit raises one impersonation.anomaly alert within 1 s', async (t) => {
    const audit = await auditReader();
    // Follow alert changes from before the burst (list → watch from its cursor: nothing missed).
    const listed = await call(audit, audit.listAlerts, auditV1.ListAlertsRequest.fromPartial({ ruleId: ANOMALY_RULE }));
    assert.equal(listed.alerts.length, 0, 'no anomaly alert before the burst');
    const seen: Array<{ alert: auditV1.Alert; at: number }> = [];
    const watch = stream(audit, audit.watchAlerts, auditV1.WatchAlertsRequest.fromPartial({ afterCursor: listed.watchCursor }));
    watch.on('data', (m: auditV1.WatchAlertsResponse) => {
      if (m.change === auditV1.AlertChange.ALERT_CHANGE_RAISED && m.alert?.ruleId === ANOMALY_RULE) seen.push({ alert: m.alert, at: Date.now() });
    });
    watch.on('error', () => {});
    try {
      const { anomalyId, refused } = await burst(ANNA, 'bank.example', 'usr-bank');
      const returnedAt = refused.run.endedAt;
      // The alert must exist within 1 s of the refused start's return.
      while (!seen.some((s) => s.alert.groupKey.includes(anomalyId)) && Date.now() <= returnedAt + ALERT_LATENCY_LIMIT_MS) await new Promise((r) => setTimeout(r, 5));
      const hit = seen.find((s) => s.alert.groupKey.includes(anomalyId));
      assert.ok(hit, `no ${ANOMALY_RULE} alert for ${anomalyId} within ${ALERT_LATENCY_LIMIT_MS} ms of the refused start (alerts seen: ${JSON.stringify(seen.map((s) => s.alert.groupKey))})`);
      assert.ok(hit.at - returnedAt <= ALERT_LATENCY_LIMIT_MS, `alert seen ${hit.at - returnedAt} ms after the refused start returned`);
      assert.equal(hit.alert.severity, auditV1.AlertSeverity.ALERT_SEVERITY_CRITICAL);
      assert.equal(hit.alert.state, auditV1.AlertState.ALERT_STATE_OPEN);
      assert.match(hit.alert.summary, new RegExp(`${anomalyId}.*${ANNA.accountId}.*bank\\.example`));

      // The anomaly event itself: raised_at − occurred_at is the audit side's share.
      const events = await call(
        audit,
        audit.query,
        auditV1.QueryRequest.fromPartial({ filter: { services: [auditEventV1.Service.SERVICE_IMPERSONATION], actions: [auditEventV1.Action.ACTION_IMPERSONATION_ANOMALY], subjectId: anomalyId }, pageSize: 10 }),
      );
      assert.equal(events.entries.length, 1, 'one anomaly event');
      const ev = events.entries[0]?.event;
      assert.equal(ev?.actor?.id, ANNA.accountId);
      assert.equal(ev?.customerDomain, 'bank.example');
      assert.equal(ev?.details['rule'], 'impersonation.burst');
      const raisedAfterEvent = (hit.alert.raisedAt?.getTime() ?? Infinity) - (ev?.occurredAt?.getTime() ?? 0);
      t.diagnostic(
        `anomaly → alert (WatchAlerts): seen ${hit.at - returnedAt} ms after the refused CLI start exited; raised_at − CLI exit ${(hit.alert.raisedAt?.getTime() ?? NaN) - returnedAt} ms; raised_at − anomaly event occurred_at ${raisedAfterEvent} ms`,
      );
      assert.ok(raisedAfterEvent <= ALERT_LATENCY_LIMIT_MS, `alert raised ${raisedAfterEvent} ms after the anomaly event`);

      // While the anomaly is open, a start in the domain (even of a user already impersonated) is refused naming it; no second alert.
      const blocked = await startGrant(ANNA, 'usr-bank-1', 'bank.example');
      assert.equal(blocked.run.status, 1);
      assert.match(blocked.run.stderr, new RegExp(`FAILED_PRECONDITION: rule impersonation\\.burst: impersonation in bank\\.example is blocked by anomaly ${anomalyId} \\(open\\)`));
      // Another domain is not blocked.
      await mustStart(ANNA, 'usr-shop-1', 'elsewhere.example');

      const mine = await gh(['anomalies', 'list', '--json'], ANNA);
      assert.equal(mine.status, 0, mine.stderr);
      const list = (JSON.parse(mine.stdout) as unknown[]).map((x) => impersonationV1.Anomaly.fromJSON(x));
      assert.deepEqual(
        list.map((a) => [a.anomalyId, a.state, a.customerDomain, a.targetUserIds, a.refusedTargetUserId, a.rule?.ruleId, a.rule?.distinctTargets]),
        [[anomalyId, impersonationV1.AnomalyState.ANOMALY_STATE_OPEN, 'bank.example', ['usr-bank-1', 'usr-bank-2', 'usr-bank-3'], 'usr-bank-4', 'impersonation.burst', 3]],
      );

      await new Promise((r) => setTimeout(r, 1200));
      assert.equal((await anomalyAlerts(audit, anomalyId)).length, 1, 'exactly one alert for the anomaly');
      assert.equal(seen.filter((s) => s.alert.groupKey.includes(anomalyId)).length, 1, 'raised once on the watch stream');
    } finally {
      watch.cancel();
      audit.close();
    }
  });

  test('justify → accept lifts the block; a second burst rejected locks the employee out everywhere and revokes their grants until unlock', async (t) => {
    const annaAnomaly = anomalyIds[0] ?? '';
    assert.ok(annaAnomaly, 'the first test opened an anomaly');
    // Nobody else can justify it; the officer cannot accept it while OPEN.
    const notYours = await gh(['anomalies', 'justify', annaAnomaly, '--justification', JUSTIFICATION, '--ticket', 'SUP-1'], CHLOE);
    assert.equal(notYours.status, 1);
    assert.match(notYours.stderr, /NOT_FOUND/);
    const early = await gh(['anomalies', 'resolve', annaAnomaly, '--accept', '--note', 'looks fine'], OLGA);
    assert.equal(early.status, 1);
    assert.match(early.stderr, /FAILED_PRECONDITION: .*open: the employee must justify it/);

    const justified = await gh(['anomalies', 'justify', annaAnomaly, '--justification', 'three users of one tenant affected by the same import bug', '--ticket', 'SUP-4711', '--ticket', 'BUG-99'], ANNA);
    assert.equal(justified.status, 0, justified.stderr);
    assert.match(justified.stdout, new RegExp(`Anomaly ${annaAnomaly} is JUSTIFIED`));
    // JUSTIFIED still blocks until the officer decides.
    const stillBlocked = await startGrant(ANNA, 'usr-bank-5', 'bank.example');
    assert.equal(stillBlocked.run.status, 1);
    assert.match(stillBlocked.run.stderr, new RegExp(`FAILED_PRECONDITION: .*blocked by anomaly ${annaAnomaly} \\(justified\\)`));

    const accepted = await gh(['anomalies', 'resolve', annaAnomaly, '--accept', '--note', 'matches incident INC-7'], OLGA);
    assert.equal(accepted.status, 0, accepted.stderr);
    assert.match(accepted.stdout, new RegExp(`Anomaly ${annaAnomaly} ACCEPTED`));
    assert.match(accepted.stdout, /not locked/);
    const again = await mustStart(ANNA, 'usr-bank-5', 'bank.example');
    assert.ok(again.grantId);
    const annaStatus = await gh(['impersonate', 'status', '--json'], ANNA);
    assert.equal(annaStatus.status, 0, annaStatus.stderr);
    const as = impersonationV1.ImpersonationStatus.fromJSON(JSON.parse(annaStatus.stdout));
    assert.equal(as.locked, false);
    assert.deepEqual(as.blockedDomains, []);

    // A developer's burst in another domain, rejected.
    const b = await burst(BRUNO, 'shop.example', 'usr-shop');
    // The second anomaly's alert, found by polling ListAlerts every 20 ms from the refused start's exit.
    const audit = await auditReader();
    try {
      let alerts = await anomalyAlerts(audit, b.anomalyId);
      while (alerts.length === 0 && Date.now() <= b.refused.run.endedAt + ALERT_LATENCY_LIMIT_MS) {
        await new Promise((r) => setTimeout(r, 20));
        alerts = await anomalyAlerts(audit, b.anomalyId);
      }
      const foundAfter = Date.now() - b.refused.run.endedAt;
      assert.equal(alerts.length, 1, `one ${ANOMALY_RULE} alert for ${b.anomalyId} within ${ALERT_LATENCY_LIMIT_MS} ms of the refused start`);
      t.diagnostic(`anomaly → alert (ListAlerts every 20 ms): found ${foundAfter} ms after the refused CLI start exited; raised_at − CLI exit ${(alerts[0]?.raisedAt?.getTime() ?? NaN) - b.refused.run.endedAt} ms`);
      assert.ok(foundAfter <= ALERT_LATENCY_LIMIT_MS + 20, `found ${foundAfter} ms after`);
    } finally {
      audit.close();
    }
    const brunoToken = b.grants[0]?.token ?? '';
    const v = await verifier();
    try {
      const before = await call(v, v.verifyImpersonationToken, { impersonationToken: brunoToken, operation: Op.IMPERSONATION_OPERATION_READ_DATA });
      assert.equal(before.valid, true);
      const rejected = await gh(['anomalies', 'resolve', b.anomalyId, '--reject', '--note', 'no ticket covers these users'], OLGA);
      assert.equal(rejected.status, 0, rejected.stderr);
      assert.match(rejected.stdout, new RegExp(`Anomaly ${b.anomalyId} REJECTED`));
      assert.match(rejected.stdout, /LOCKED out of impersonation in every domain/);
      // Rejection revoked Bruno's grants at once.
      for (const g of b.grants) {
        const after = await call(v, v.verifyImpersonationToken, { impersonationToken: g.token, operation: Op.IMPERSONATION_OPERATION_READ_DATA });
        assert.deepEqual([after.valid, after.reason], [false, Why.TOKEN_INVALID_REASON_REVOKED]);
      }
    } finally {
      v.close();
    }

    const status = await gh(['impersonate', 'status', '--json'], BRUNO);
    assert.equal(status.status, 0, status.stderr);
    const st = impersonationV1.ImpersonationStatus.fromJSON(JSON.parse(status.stdout));
    assert.deepEqual([st.locked, st.lockingAnomalyId, st.activeGrantCount], [true, b.anomalyId, 0]);
    const statusText = await gh(['impersonate', 'status'], BRUNO);
    assert.match(statusText.stdout, /locked:\s+yes, since/);
    const officerView = await gh(['impersonate', 'status', '--account', BRUNO.accountId, '--json'], OLGA);
    assert.equal(impersonationV1.ImpersonationStatus.fromJSON(JSON.parse(officerView.stdout)).locked, true);

    for (const domain of ['shop.example', 'fresh.example']) {
      const locked = await startGrant(BRUNO, 'usr-any-1', domain);
      assert.equal(locked.run.status, 1, `${domain}: ${locked.run.stdout}`);
      assert.match(locked.run.stderr, new RegExp(`PERMISSION_DENIED: you are locked out of impersonation: anomaly ${b.anomalyId} was rejected`));
    }
    const notOfficer = await gh(['impersonate', 'unlock', BRUNO.accountId, '--note', 'let me in'], BRUNO);
    assert.equal(notOfficer.status, 1);
    assert.match(notOfficer.stderr, /PERMISSION_DENIED/);
    const unlocked = await gh(['impersonate', 'unlock', BRUNO.accountId, '--note', 'retrained on P9, INC-8'], OLGA);
    assert.equal(unlocked.status, 0, unlocked.stderr);
    assert.match(unlocked.stdout, new RegExp(`Unlocked .*${BRUNO.accountId}.*: not locked`));
    await mustStart(BRUNO, 'usr-fresh-1', 'fresh.example', { reason: 'bug', ticket: 'BUG-100' });
    const afterUnlock = impersonationV1.ImpersonationStatus.fromJSON(JSON.parse((await gh(['impersonate', 'status', '--json'], BRUNO)).stdout));
    assert.deepEqual([afterUnlock.locked, afterUnlock.activeGrantCount], [false, 1]);
  });

  test('an impersonation token is never a session: refused as Bearer by identity, secrets and impersonation; VerifyImpersonationToken refuses forbidden operations and sees revocation at once', async () => {
    const g = await mustStart(ANNA, 'usr-tok-1', 'tokens.example', { reason: 'incident', ticket: 'INC-9' });
    assert.equal(fs.statSync(g.tokenFile).mode & 0o777, 0o600);
    const bearer = fs.readFileSync(g.tokenFile, 'utf8').trim();

    const unauthenticated = (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAUTHENTICATED, `${grpc.status[err.code]}: ${err.details}`);
      return true;
    };
    const identity = dial(IdentityServiceClient, stack.services.identity.address, { mode: 'mtls', material: await stack.material('cli', 'identity') });
    await assert.rejects(
      call(identity, identity.setRoles, identityV1.SetRolesRequest.fromPartial({ accountId: ANNA.accountId, roles: [commonV1.Role.ROLE_SECURITY_OFFICER], reason: 'escalate' }), { bearer }),
      unauthenticated,
    );
    await assert.rejects(call(identity, identity.setPhoneNumber, identityV1.SetPhoneNumberRequest.fromPartial({ accountId: ANNA.accountId, phoneNumber: '+4915100000009', reason: 'x' }), { bearer }), unauthenticated);
    identity.close();
    const secrets = dial(SecretsServiceClient, stack.services.secrets.address, { mode: 'mtls', material: await stack.material('cli', 'secrets') });
    await assert.rejects(
      call(secrets, secrets.createRelease, secretsV1.CreateReleaseRequest.fromPartial({ environment: commonV1.Environment.ENVIRONMENT_STAGING, app: 'payments', deploymentRef: 'commit-imp-1' }), { bearer }),
      unauthenticated,
    );
    await assert.rejects(
      call(secrets, secrets.putSecret, secretsV1.PutSecretRequest.fromPartial({ environment: commonV1.Environment.ENVIRONMENT_STAGING, app: 'payments', name: 'DB_PASSWORD', value: Buffer.from('x') }), { bearer }),
      unauthenticated,
    );
    secrets.close();
    const imp = dial(ImpersonationServiceClient, stack.services.impersonation.address, { mode: 'mtls', material: await stack.material('cli', 'impersonation') });
    await assert.rejects(
      call(
        imp,
        imp.startImpersonation,
        impersonationV1.StartImpersonationRequest.fromPartial({
          targetUserId: 'usr-tok-2',
          customerDomain: 'tokens.example',
          reason: impersonationV1.ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE,
          justification: JUSTIFICATION,
          ticketRef: 'SUP-1',
        }),
        { bearer },
      ),
      unauthenticated,
    );
    imp.close();
    // The same through the CLI: the token as the session is refused, and no grant is made.
    const asToken = await gh(
      ['impersonate', 'start', '--target', 'usr-tok-3', '--domain', 'tokens.example', '--reason', 'bug', '--justification', JUSTIFICATION, '--ticket', 'SUP-2', '--token-file', path.join(dir, 'never')],
      { token: bearer },
    );
    assert.equal(asToken.status, 1);
    assert.match(asToken.stderr, /StartImpersonation: UNAUTHENTICATED/);
    assert.ok(!fs.existsSync(path.join(dir, 'never')));

    const v = await verifier();
    try {
      const verify = (operation: impersonationV1.ImpersonationOperation) => call(v, v.verifyImpersonationToken, { impersonationToken: bearer, operation });
      const read = await verify(Op.IMPERSONATION_OPERATION_READ_DATA);
      assert.equal(read.valid, true);
      assert.equal(read.reason, Why.TOKEN_INVALID_REASON_UNSPECIFIED);
      assert.deepEqual([read.claims?.grantId, read.claims?.targetUserId, read.claims?.customerDomain, read.claims?.actor?.accountId], [g.grantId, 'usr-tok-1', 'tokens.example', ANNA.accountId]);
      assert.equal((await verify(Op.IMPERSONATION_OPERATION_WRITE_DATA)).valid, true);
      for (const op of [Op.IMPERSONATION_OPERATION_CHANGE_CREDENTIALS, Op.IMPERSONATION_OPERATION_CHANGE_ROLES, Op.IMPERSONATION_OPERATION_RELEASE_SECRETS, Op.IMPERSONATION_OPERATION_START_IMPERSONATION]) {
        const r = await verify(op);
        assert.deepEqual([r.valid, r.reason, r.claims], [false, Why.TOKEN_INVALID_REASON_FORBIDDEN_OPERATION, undefined], impersonationV1.impersonationOperationToJSON(op));
      }
      // A tampered signature is not a valid token.
      const [h, p, s] = bearer.split('.') as [string, string, string];
      const flipped = `${h}.${p}.${(s[0] === 'A' ? 'B' : 'A') + s.slice(1)}`;
      const bad = await call(v, v.verifyImpersonationToken, { impersonationToken: flipped, operation: Op.IMPERSONATION_OPERATION_READ_DATA });
      assert.deepEqual([bad.valid, bad.reason], [false, Why.TOKEN_INVALID_REASON_BAD_SIGNATURE]);

      const notOfficer = await gh(['impersonate', 'revoke', g.grantId, '--reason', 'mine'], CHLOE);
      assert.equal(notOfficer.status, 1);
      assert.match(notOfficer.stderr, /PERMISSION_DENIED/);
      const revoked = await gh(['impersonate', 'revoke', g.grantId, '--reason', 'customer withdrew consent'], OLGA);
      assert.equal(revoked.status, 0, revoked.stderr);
      assert.match(revoked.stdout, new RegExp(`Revoked grant ${g.grantId} .*REVOKED`));
      const t0 = Date.now();
      const now = await verify(Op.IMPERSONATION_OPERATION_READ_DATA);
      assert.deepEqual([now.valid, now.reason, now.claims], [false, Why.TOKEN_INVALID_REASON_REVOKED, undefined]);
      assert.ok(Date.now() - t0 < 1000);
      // Revocation also comes before the operation check, and RecordAccess refuses the grant from then on.
      assert.equal((await verify(Op.IMPERSONATION_OPERATION_CHANGE_ROLES)).reason, Why.TOKEN_INVALID_REASON_REVOKED);
      const report = { reportId: randomUUID(), records: [{ resourceType: 'contact', operation: AccessOperation.ACCESS_OPERATION_READ, count: 1, recordIds: [] }] };
      await assert.rejects(call(v, v.recordAccess, impersonationV1.RecordAccessRequest.fromPartial({ ...report, impersonationToken: bearer })), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.PERMISSION_DENIED, err.details);
        return true;
      });
      await assert.rejects(call(v, v.recordAccess, impersonationV1.RecordAccessRequest.fromPartial({ ...report, grantId: g.grantId })), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.FAILED_PRECONDITION, err.details);
        return true;
      });
    } finally {
      v.close();
    }
  });

  test('access-log shows exactly the grants of the domain with who (display name), why, state and what the backend reported', async () => {
    const domain = 'contacts.example';
    const g1 = await mustStart(CHLOE, 'usr-c-1', domain, { reason: 'support-case', ticket: 'SUP-5001', justification: 'customer cannot see shared contact groups since Monday' });
    const g2 = await mustStart(CHLOE, 'usr-c-2', domain, { reason: 'bug', ticket: 'BUG-5002', justification: 'reproducing the duplicate contact merge bug for this user' });
    // Another domain's grant must not show up.
    await mustStart(CHLOE, 'usr-c-9', 'unrelated.example');

    const v = await verifier();
    try {
      const read12 = impersonationV1.RecordAccessRequest.fromPartial({
        grantId: g1.grantId,
        reportId: `rep-${randomUUID()}`,
        records: [{ resourceType: 'contact', operation: AccessOperation.ACCESS_OPERATION_READ, count: 12, recordIds: Array.from({ length: 12 }, (_, i) => `ct-${i + 1}`) }],
      });
      const first = await call(v, v.recordAccess, read12);
      assert.deepEqual([first.grantId, first.duplicate], [g1.grantId, false]);
      assert.equal((await call(v, v.recordAccess, read12)).duplicate, true, 'a retried report is recorded once');
      const wrote = await call(
        v,
        v.recordAccess,
        impersonationV1.RecordAccessRequest.fromPartial({
          impersonationToken: g1.token,
          reportId: `rep-${randomUUID()}`,
          records: [{ resourceType: 'contact', operation: AccessOperation.ACCESS_OPERATION_WRITE, count: 1, recordIds: ['ct-3'] }],
        }),
      );
      assert.deepEqual([wrote.grantId, wrote.duplicate], [g1.grantId, false]);
    } finally {
      v.close();
    }
    const ended = await gh(['impersonate', 'end', g2.grantId], CHLOE);
    assert.equal(ended.status, 0, ended.stderr);
    assert.match(ended.stdout, /ENDED/);

    const denied = await gh(['access-log', domain, '--json'], CHLOE);
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /PERMISSION_DENIED/);

    const log = await gh(['access-log', domain, '--json'], OLGA);
    assert.equal(log.status, 0, log.stderr);
    assert.ok(!log.stdout.includes(CHLOE.email) && !log.stdout.includes(CHLOE.accountId), 'the customer sees no e-mail or internal id');
    const entries = (JSON.parse(log.stdout) as unknown[]).map((e) => impersonationV1.AccessLogEntry.fromJSON(e));
    assert.deepEqual(entries.map((e) => e.grantId).sort(), [...(started.get(domain) ?? [])].sort(), 'exactly the grants started in the domain');
    assert.equal(entries.length, 2);
    assert.deepEqual(
      entries.map((e) => e.grantId),
      [g2.grantId, g1.grantId],
      'newest first',
    );
    const [e2, e1] = entries as [impersonationV1.AccessLogEntry, impersonationV1.AccessLogEntry];
    assert.deepEqual(
      [e1.employeeDisplayName, e1.employeeRole, e1.targetUserId, e1.reason, e1.justification, e1.ticketRef, e1.state, e1.endedAt],
      [
        CHLOE.displayName,
        commonV1.Role.ROLE_SUPPORT,
        'usr-c-1',
        impersonationV1.ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE,
        'customer cannot see shared contact groups since Monday',
        'SUP-5001',
        GrantState.GRANT_STATE_ACTIVE,
        undefined,
      ],
    );
    assert.deepEqual(
      e1.touched.map((t) => [t.resourceType, t.operation, Number(t.count), [...t.recordIds].sort(), t.recordIdsTruncated]).sort((a, b) => Number(a[1]) - Number(b[1])),
      [
        ['contact', AccessOperation.ACCESS_OPERATION_READ, 12, Array.from({ length: 12 }, (_, i) => `ct-${i + 1}`).sort(), false],
        ['contact', AccessOperation.ACCESS_OPERATION_WRITE, 1, ['ct-3'], false],
      ],
    );
    assert.deepEqual(
      [e2.employeeDisplayName, e2.employeeRole, e2.targetUserId, e2.reason, e2.ticketRef, e2.state, e2.touched],
      [CHLOE.displayName, commonV1.Role.ROLE_SUPPORT, 'usr-c-2', impersonationV1.ImpersonationReason.IMPERSONATION_REASON_BUG_INVESTIGATION, 'BUG-5002', GrantState.GRANT_STATE_ENDED, []],
    );
    assert.ok(e2.endedAt && e2.startedAt && e2.endedAt >= e2.startedAt);

    const text = await gh(['access-log', domain], OLGA);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /employee:\s+Chloé Martin \(support\)/);
    assert.match(text.stdout, /touched:\s+contact read ×12, contact write ×1/);
    assert.match(text.stdout, /touched:\s+nothing reported/);
  });

  test('no impersonation token in any CLI output nor in any audit event; the audit log holds one start per grant and one anomaly per burst', async () => {
    assert.ok(tokens.length >= 10, `tokens collected: ${tokens.length}`);
    const secretParts = tokens.flatMap((t) => [t, t.split('.')[2] ?? t]);
    for (const r of runs) {
      for (const s of secretParts) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `gatehouse ${r.args.slice(0, 2).join(' ')} printed a token`);
    }
    // Nor in the services' logs (the token was presented to identity, secrets and impersonation).
    for (const svc of Object.values(stack.services)) {
      const logged = svc.stderr.join('');
      for (const s of secretParts) assert.ok(!logged.includes(s), `${svc.name} logged a token`);
    }

    const audit = await auditReader();
    try {
      const grantCount = [...started.values()].flat().length;
      const query = async (services: auditEventV1.Service[] = [auditEventV1.Service.SERVICE_IMPERSONATION]) => {
        const all: auditV1.LogEntry[] = [];
        let pageToken = '';
        do {
          const res = await call(audit, audit.query, auditV1.QueryRequest.fromPartial({ filter: { services }, pageSize: 1000, pageToken }));
          all.push(...res.entries);
          pageToken = res.nextPageToken;
        } while (pageToken);
        return all;
      };
      const count = (es: auditV1.LogEntry[], a: auditEventV1.Action) => es.filter((e) => e.event?.action === a).length;
      // Everything the service recorded reaches audit through its outbox: wait for the last action of the suite.
      let entries = await query();
      for (let i = 0; i < 100 && count(entries, auditEventV1.Action.ACTION_IMPERSONATION_ACCESS_LOG_READ) < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        entries = await query();
      }
      assert.ok(entries.length > grantCount);
      // Every service's events, not only impersonation's: the token was also presented to identity and secrets.
      const everything = await query([]);
      assert.ok(everything.length > entries.length);
      for (const e of everything) {
        const text = JSON.stringify(auditV1.LogEntry.toJSON(e)) + Buffer.from(e.leafInput).toString('latin1');
        for (const s of secretParts) assert.ok(!text.includes(s), `audit entry ${e.sequence} (${auditEventV1.actionToJSON(e.event?.action ?? 0)}) holds a token`);
      }
      // A critical action logs a confirmed intent (ATTEMPTED) and then its outcome naming it (issue 13 item 6).
      const outcomeOf = (a: auditEventV1.Action, o: auditEventV1.Outcome) => entries.filter((e) => e.event?.action === a && e.event.outcome === o);
      const starts = outcomeOf(auditEventV1.Action.ACTION_IMPERSONATION_START, auditEventV1.Outcome.OUTCOME_SUCCESS).map((e) => e.event?.subject?.id);
      assert.deepEqual(starts.sort(), [...started.values()].flat().sort(), 'one start event per grant');
      const startIntents = outcomeOf(auditEventV1.Action.ACTION_IMPERSONATION_START, auditEventV1.Outcome.OUTCOME_ATTEMPTED).map((e) => e.event?.subject?.id);
      assert.deepEqual(startIntents.sort(), [...started.values()].flat().sort(), 'and one confirmed intent per grant');
      const anomalies = entries.filter((e) => e.event?.action === auditEventV1.Action.ACTION_IMPERSONATION_ANOMALY).map((e) => e.event?.subject?.id);
      assert.deepEqual(anomalies.sort(), [...anomalyIds].sort(), 'one anomaly event per burst');
      const histogram = JSON.stringify(Object.fromEntries([...new Set(entries.map((e) => e.event?.action ?? 0))].map((a) => [auditEventV1.actionToJSON(a), count(entries, a)])));
      assert.equal(outcomeOf(auditEventV1.Action.ACTION_IMPERSONATION_ANOMALY_RESOLVE, auditEventV1.Outcome.OUTCOME_SUCCESS).length, 2, histogram);
      assert.equal(outcomeOf(auditEventV1.Action.ACTION_IMPERSONATION_ANOMALY_RESOLVE, auditEventV1.Outcome.OUTCOME_ATTEMPTED).length, 2, histogram);
      assert.equal(count(entries, auditEventV1.Action.ACTION_IMPERSONATION_LOCK), 1, histogram);
      assert.equal(count(entries, auditEventV1.Action.ACTION_IMPERSONATION_UNLOCK), 1, histogram);

      // And exactly one alert per anomaly.
      for (const id of anomalyIds) assert.equal((await anomalyAlerts(audit, id)).length, 1, `one alert for ${id}`);
    } finally {
      audit.close();
    }
  });
});
