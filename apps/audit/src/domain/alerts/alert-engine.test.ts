import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError } from '@gatehouse/core';
import type { LogRecord } from '../event.js';
import { AlertEngine, alertIdFor } from './alert-engine.js';
import type { AlertEngineOptions, RaisedAlert } from './alert-engine.js';
import type { AlertRule } from './alert-rule.js';
import { builtInRules } from './built-in-rules.js';
import type { BuiltInRuleId, BuiltInRulesConfig } from './built-in-rules.js';
import { SyntheticLog } from './test-records.js';
import type { EventInput } from './test-records.js';

const SEC = 1_000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

/** An engine running only the named built-in rules. */
function engineWith(ids: BuiltInRuleId[], config: BuiltInRulesConfig = {}, options?: AlertEngineOptions): AlertEngine {
  return new AlertEngine(
    builtInRules(config).filter((r) => (ids as string[]).includes(r.ruleId)),
    options,
  );
}

/** Feeds records one by one, as the live path does, and collects the alerts. */
function observeAll(engine: AlertEngine, records: Iterable<LogRecord>): RaisedAlert[] {
  const out: RaisedAlert[] = [];
  for (const r of records) out.push(...engine.observe(r));
  return out;
}

const otpFailure = (account: string, action = 'ACTION_IDENTITY_OTP_VERIFY'): EventInput => ({
  action,
  outcome: 'OUTCOME_FAILURE',
  actorId: account,
  subjectId: account,
});

interface BuiltInCase {
  id: BuiltInRuleId;
  threshold: number;
  /** The i-th event of a burst for one group. */
  event: (i: number) => EventInput;
  groupKey: string;
  summary: string;
  severity: string;
  /** Events that look close but must never count. */
  nonMatching: EventInput[];
}

const CASES: BuiltInCase[] = [
  {
    id: 'otp.failures_per_account',
    threshold: 5,
    event: (i) => otpFailure('acc-123', ['ACTION_IDENTITY_OTP_VERIFY', 'ACTION_IDENTITY_SMS_VERIFY', 'ACTION_IDENTITY_HOTP_RESYNC'][i % 3]),
    groupKey: 'subject_id=acc-123',
    summary: '5 failed OTP attempts for account acc-123 within 15m',
    severity: 'ALERT_SEVERITY_HIGH',
    nonMatching: [
      { action: 'ACTION_IDENTITY_OTP_VERIFY', outcome: 'OUTCOME_SUCCESS', subjectId: 'acc-123' },
      { action: 'ACTION_IDENTITY_OTP_VERIFY', outcome: 'OUTCOME_DENIED', subjectId: 'acc-123' },
      { action: 'ACTION_IDENTITY_OTP_CONFIRM', outcome: 'OUTCOME_FAILURE', subjectId: 'acc-123' },
      { action: 'ACTION_IDENTITY_OTP_VERIFY', outcome: 'OUTCOME_FAILURE' }, // no subject: no account
    ],
  },
  {
    id: 'otp.replay',
    threshold: 1,
    event: () => ({ action: 'ACTION_IDENTITY_OTP_REPLAY', outcome: 'OUTCOME_DENIED', subjectId: 'acc-123' }),
    groupKey: 'subject_id=acc-123',
    summary: 'OTP code replay refused for account acc-123',
    severity: 'ALERT_SEVERITY_MEDIUM',
    nonMatching: [{ action: 'ACTION_IDENTITY_OTP_VERIFY', outcome: 'OUTCOME_DENIED', subjectId: 'acc-123' }],
  },
  {
    id: 'allowlist.denials_per_account',
    threshold: 10,
    event: () => ({ action: 'ACTION_ALLOWLIST_CHECK_DENY', outcome: 'OUTCOME_DENIED', actorKind: 'ACTOR_KIND_SERVICE', actorId: 'backend:web', details: { claimed_account_id: 'acc-9' }, sourceIp: '203.0.113.9' }),
    groupKey: 'details.claimed_account_id=acc-9',
    summary: '10 allowlist denials for account acc-9 within 10m (last from 203.0.113.9, claimed by backend:web)',
    severity: 'ALERT_SEVERITY_MEDIUM',
    nonMatching: [
      { action: 'ACTION_ALLOWLIST_CHECK_DENY', outcome: 'OUTCOME_DENIED', actorId: '' },
      // The backend alone is no account: without a claimed account id the denial is not counted.
      { action: 'ACTION_ALLOWLIST_CHECK_DENY', outcome: 'OUTCOME_DENIED', actorKind: 'ACTOR_KIND_SERVICE', actorId: 'backend:web' },
      { action: 'ACTION_ALLOWLIST_DAILY_IP_REGISTER', outcome: 'OUTCOME_DENIED', actorId: 'acc-9', details: { claimed_account_id: 'acc-9' } },
    ],
  },
  {
    id: 'secrets.release_redeemed_twice',
    threshold: 1,
    event: () => ({
      action: 'ACTION_SECRETS_RELEASE_REDEEM_REFUSED',
      outcome: 'OUTCOME_DENIED',
      actorId: 'service:deployer',
      subjectId: 'rel-1',
      subjectKind: 'SUBJECT_KIND_RELEASE',
      details: { reason: 'already_redeemed' },
    }),
    groupKey: 'subject_id=rel-1',
    summary: 'Release rel-1 was presented again after it was redeemed',
    severity: 'ALERT_SEVERITY_CRITICAL',
    nonMatching: [
      { action: 'ACTION_SECRETS_RELEASE_REDEEM_REFUSED', subjectId: 'rel-1', details: { reason: 'expired' } },
      { action: 'ACTION_SECRETS_RELEASE_REDEEM_REFUSED', subjectId: 'rel-1' },
      { action: 'ACTION_SECRETS_RELEASE_REDEEM', subjectId: 'rel-1', details: { reason: 'already_redeemed' } },
    ],
  },
  {
    id: 'secrets.release_expired_unredeemed',
    threshold: 1,
    event: () => ({
      action: 'ACTION_SECRETS_RELEASE_EXPIRED_UNREDEEMED',
      actorId: 'secrets',
      actorKind: 'ACTOR_KIND_SYSTEM',
      subjectId: 'rel-2',
      subjectKind: 'SUBJECT_KIND_RELEASE',
    }),
    groupKey: 'subject_id=rel-2',
    summary: 'Release rel-2 expired without being redeemed',
    severity: 'ALERT_SEVERITY_HIGH',
    nonMatching: [{ action: 'ACTION_SECRETS_RELEASE_REVOKE', subjectId: 'rel-2' }],
  },
  {
    id: 'impersonation.anomaly',
    threshold: 1,
    event: () => ({
      action: 'ACTION_IMPERSONATION_ANOMALY',
      actorId: 'acc-5',
      subjectId: 'an-1',
      subjectKind: 'SUBJECT_KIND_ANOMALY',
      customerDomain: 'example.com',
    }),
    groupKey: 'subject_id=an-1',
    summary: 'Impersonation anomaly an-1 for employee acc-5 on customer domain example.com',
    severity: 'ALERT_SEVERITY_CRITICAL',
    nonMatching: [{ action: 'ACTION_IMPERSONATION_ANOMALY_JUSTIFY', actorId: 'acc-5', subjectId: 'an-1' }],
  },
  {
    id: 'identity.new_ip_live_session',
    threshold: 1,
    event: () => ({ action: 'ACTION_IDENTITY_SIGN_IN_NEW_IP', actorId: 'acc-7', environment: 'ENVIRONMENT_LIVE', sourceIp: '203.0.113.50' }),
    groupKey: 'actor_id=acc-7',
    summary: 'Account acc-7 reached LIVE from a new IP 203.0.113.50',
    severity: 'ALERT_SEVERITY_HIGH',
    nonMatching: [
      { action: 'ACTION_IDENTITY_SIGN_IN_NEW_IP', actorId: 'acc-7', environment: 'ENVIRONMENT_STAGING' },
      { action: 'ACTION_IDENTITY_SIGN_IN_NEW_IP', actorId: 'acc-7' }, // no environment
      { action: 'ACTION_IDENTITY_SESSION_ISSUE', actorId: 'acc-7', environment: 'ENVIRONMENT_LIVE' },
    ],
  },
];

describe('built-in rules', () => {
  for (const c of CASES) {
    test(`${c.id} fires at its threshold (${c.threshold}) and not before, once per window`, () => {
      const log = new SyntheticLog();
      const engine = engineWith([c.id]);
      for (const input of c.nonMatching) {
        for (let n = 0; n < c.threshold + 2; n++) assert.deepEqual(engine.observe(log.advance(SEC).append(input)), []);
      }
      for (let i = 0; i < c.threshold - 1; i++) {
        assert.deepEqual(engine.observe(log.advance(SEC).append(c.event(i))), [], `no alert after ${i + 1} events`);
      }
      const first = log.records.length + 1;
      const completing = log.advance(SEC).append(c.event(c.threshold - 1));
      const alerts = engine.observe(completing);
      assert.equal(alerts.length, 1);
      const [alert] = alerts;
      assert.ok(alert);
      assert.equal(alert.ruleId, c.id);
      assert.equal(alert.severity, c.severity);
      assert.equal(alert.groupKey, c.groupKey);
      assert.equal(alert.summary, c.summary);
      assert.equal(alert.count, c.threshold);
      assert.equal(alert.threshold, c.threshold);
      assert.equal(alert.firstSequence, first - c.threshold + 1);
      assert.equal(alert.lastSequence, completing.sequence);
      assert.deepEqual(alert.raisedAt, completing.appendedAt);
      assert.match(alert.alertId, /^[0-9a-f]{32}$/);
      // More of the same within the window: nothing.
      for (let i = 0; i < c.threshold * 2; i++) assert.deepEqual(engine.observe(log.advance(SEC).append(c.event(i))), []);
    });

    test(`${c.id} never counts an intent (OUTCOME_ATTEMPTED): only an outcome says something happened (issue 13 item 6)`, () => {
      const log = new SyntheticLog();
      const engine = engineWith([c.id]);
      for (let i = 0; i < c.threshold + 2; i++) {
        assert.deepEqual(engine.observe(log.advance(SEC).append({ ...c.event(i), outcome: 'OUTCOME_ATTEMPTED' })), [], `intent ${i + 1} raised nothing`);
      }
    });
  }

  test('identity.role_change: the request, its approval and the change applied each raise an alert (issue 13 item 2)', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['identity.role_change']);
    const step = (action: string, outcome = 'OUTCOME_SUCCESS') => engine.observe(log.advance(SEC).append({ action, outcome, actorId: 'acc-olga', subjectId: 'acc-kim' }));
    // An intent, or a refusal, says nothing changed.
    assert.deepEqual(step('ACTION_IDENTITY_ROLE_CHANGE_REQUEST', 'OUTCOME_ATTEMPTED'), []);
    assert.deepEqual(step('ACTION_IDENTITY_ROLES_SET', 'OUTCOME_DENIED'), []);
    const raised = ['ACTION_IDENTITY_ROLE_CHANGE_REQUEST', 'ACTION_IDENTITY_ROLE_CHANGE_APPROVE', 'ACTION_IDENTITY_ROLES_SET', 'ACTION_IDENTITY_ACCOUNT_APPROVE', 'ACTION_IDENTITY_BOOTSTRAP_OFFICER'].map((a) => step(a));
    assert.deepEqual(raised.map((r) => r.length), [1, 1, 1, 1, 1]);
    assert.match(raised[0]?.[0]?.summary ?? '', /acc-kim.*ACTION_IDENTITY_ROLE_CHANGE_REQUEST/);
    assert.equal(raised[0]?.[0]?.severity, 'ALERT_SEVERITY_HIGH');
    assert.deepEqual(step('ACTION_IDENTITY_SESSION_ISSUE'), []);
  });

  test('identity.new_ip_live_session also fires on a daily IP new for LIVE', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['identity.new_ip_live_session']);
    const [alert] = engine.observe(
      log.append({ action: 'ACTION_ALLOWLIST_DAILY_IP_NEW_FOR_LIVE', actorId: 'acc-8', environment: 'ENVIRONMENT_LIVE', sourceIp: '192.0.2.4' }),
    );
    assert.equal(alert?.summary, 'Account acc-8 registered a new daily IP 192.0.2.4 for LIVE');
    assert.equal(alert?.groupKey, 'actor_id=acc-8');
  });

  test('each impersonation anomaly raises its own alert', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['impersonation.anomaly']);
    const ids = ['an-1', 'an-2', 'an-3'].flatMap((id) =>
      engine.observe(log.advance(SEC).append({ action: 'ACTION_IMPERSONATION_ANOMALY', actorId: 'acc-5', subjectId: id })),
    );
    assert.equal(ids.length, 3);
  });

  test('config overrides change when a built-in rule fires', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['otp.failures_per_account'], { 'otp.failures_per_account': { threshold: 2 } });
    assert.equal(engine.observe(log.append(otpFailure('acc-1'))).length, 0);
    assert.equal(engine.observe(log.append(otpFailure('acc-1'))).length, 1);
    const disabled = engineWith(['otp.replay'], { 'otp.replay': { enabled: false } });
    assert.deepEqual(disabled.observe(log.append({ action: 'ACTION_IDENTITY_OTP_REPLAY', subjectId: 'acc-1' })), []);
    assert.equal(disabled.rules.length, 1, 'a disabled rule is still listed');
  });
});

describe('window semantics', () => {
  test('the window slides: an event exactly one window old no longer counts', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['otp.failures_per_account']);
    for (const at of [0, 4, 8, 12]) {
      log.clock.set(Date.UTC(2026, 0, 1) + at * MIN);
      assert.deepEqual(engine.observe(log.append(otpFailure('acc-1'))), []);
    }
    log.clock.set(Date.UTC(2026, 0, 1) + 15 * MIN); // the event at 0 leaves (t − 15m, t]
    assert.deepEqual(engine.observe(log.append(otpFailure('acc-1'))), []);
    log.clock.set(Date.UTC(2026, 0, 1) + 16 * MIN);
    const [alert] = engine.observe(log.append(otpFailure('acc-1')));
    assert.equal(alert?.firstSequence, 2);
    assert.equal(alert?.lastSequence, 6);
  });

  test('fires once per window per group, then again for a burst after the window', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['otp.failures_per_account']);
    // One failure a minute for an hour: a burst every 15 minutes at most.
    const alerts: RaisedAlert[] = [];
    for (let m = 0; m < 60; m++) alerts.push(...engine.observe(log.advance(m === 0 ? 0 : MIN).append(otpFailure('acc-1'))));
    const start = Date.UTC(2026, 0, 1);
    assert.deepEqual(
      alerts.map((a) => (a.raisedAt.getTime() - start) / MIN),
      [4, 19, 34, 49],
    );
    for (let i = 1; i < alerts.length; i++) {
      const prev = alerts[i - 1];
      const cur = alerts[i];
      assert.ok(prev && cur);
      assert.ok(cur.firstSequence > prev.lastSequence, 'a new alert counts only events after the previous one');
      assert.notEqual(cur.alertId, prev.alertId);
    }
  });

  test('a burst right after the quiet period fires; one inside it does not', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['otp.failures_per_account']);
    for (let i = 0; i < 5; i++) engine.observe(log.advance(SEC).append(otpFailure('acc-1')));
    // A second full burst 5 minutes later: held back.
    log.advance(5 * MIN);
    for (let i = 0; i < 5; i++) assert.deepEqual(engine.observe(log.advance(SEC).append(otpFailure('acc-1'))), []);
    // 15 minutes after the first alert, a fresh burst fires.
    log.advance(15 * MIN);
    const alerts = observeAll(engine, Array.from({ length: 5 }, () => log.advance(SEC).append(otpFailure('acc-1'))));
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]?.firstSequence, 11);
  });

  test('groups are independent', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['otp.failures_per_account']);
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(engine.observe(log.advance(SEC).append(otpFailure('acc-a'))), []);
      assert.deepEqual(engine.observe(log.advance(SEC).append(otpFailure('acc-b'))), []);
    }
    const a = engine.observe(log.advance(SEC).append(otpFailure('acc-a')));
    assert.deepEqual(
      a.map((x) => x.groupKey),
      ['subject_id=acc-a'],
    );
    const b = engine.observe(log.advance(SEC).append(otpFailure('acc-b')));
    assert.deepEqual(
      b.map((x) => x.groupKey),
      ['subject_id=acc-b'],
    );
  });

  test('empty group-key values are skipped: anonymous denials never form one group', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['allowlist.denials_per_account']);
    for (let i = 0; i < 100; i++) {
      const anonymous = log.advance(100).append({ action: 'ACTION_ALLOWLIST_CHECK_DENY', outcome: 'OUTCOME_DENIED', actorId: '', sourceIp: `203.0.113.${i % 250}` });
      assert.deepEqual(engine.observe(anonymous), []);
    }
    assert.deepEqual(engine.stats(), [{ ruleId: 'allowlist.denials_per_account', groups: 0, evictedGroups: 0 }]);
  });

  test("event time is appendedAt, never the emitter's occurredAt", () => {
    const start = Date.UTC(2026, 0, 1);
    // Claimed times spread over two hours, appended within a minute: a burst.
    const spread = new SyntheticLog(start);
    const e1 = engineWith(['otp.failures_per_account']);
    const alerts = observeAll(
      e1,
      [0, 1, 2, 3, 4].map((i) => spread.advance(10 * SEC).append({ ...otpFailure('acc-1'), occurredAt: new Date(start - i * 30 * MIN) })),
    );
    assert.equal(alerts.length, 1);
    assert.deepEqual(alerts[0]?.raisedAt, spread.records[4]?.appendedAt);
    // Claimed all at one instant, appended five minutes apart: no burst in 15 minutes.
    const slow = new SyntheticLog(start);
    const e2 = engineWith(['otp.failures_per_account']);
    const none = observeAll(
      e2,
      [0, 1, 2, 3, 4].map(() => slow.advance(5 * MIN).append({ ...otpFailure('acc-1'), occurredAt: new Date(start) })),
    );
    assert.deepEqual(none, []);
  });

  test('a server clock stepping back does not move windows back', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['otp.replay']);
    const [first] = engine.observe(log.advance(MIN).append({ action: 'ACTION_IDENTITY_OTP_REPLAY', subjectId: 'acc-1' }));
    assert.ok(first);
    log.advance(-HOUR); // clock stepped back an hour
    const [second] = engine.observe(log.append({ action: 'ACTION_IDENTITY_OTP_REPLAY', subjectId: 'acc-2' }));
    assert.ok(second);
    assert.ok(second.raisedAt.getTime() >= first.raisedAt.getTime());
    // acc-1 is still within its quiet period despite the earlier clock.
    assert.deepEqual(engine.observe(log.append({ action: 'ACTION_IDENTITY_OTP_REPLAY', subjectId: 'acc-1' })), []);
  });

  test('a record at or below the last sequence seen is ignored (at-least-once feeds)', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['otp.failures_per_account'], { 'otp.failures_per_account': { threshold: 2 } });
    const r = log.append(otpFailure('acc-1'));
    assert.deepEqual(engine.observe(r), []);
    assert.deepEqual(engine.observe(r), [], 'the same record twice counts once');
    assert.equal(engine.observe(log.append(otpFailure('acc-1'))).length, 1);
  });

  test("the engine's own alert events never feed a catch-all rule", () => {
    const log = new SyntheticLog();
    const catchAll: AlertRule = {
      ruleId: 'custom.anything',
      name: 'Anything',
      description: '',
      severity: 'ALERT_SEVERITY_LOW',
      services: [],
      actions: [],
      outcomes: [],
      environments: [],
      detailMatches: {},
      groupBy: [{ field: 'EVENT_FIELD_SUBJECT_ID' }],
      aggregation: 'count',
      windowMs: MIN,
      threshold: 1,
      enabled: true,
      builtIn: false,
    };
    const engine = new AlertEngine([catchAll]);
    for (let i = 0; i < 5; i++) {
      const raiseEvent = log.append({ action: 'ACTION_AUDIT_ALERT_RAISE', actorId: 'audit', subjectId: `alert-${i}`, subjectKind: 'SUBJECT_KIND_ALERT' });
      assert.deepEqual(engine.observe(raiseEvent), []);
    }
    assert.equal(engine.observe(log.append({ action: 'ACTION_PRODUCT_BACKEND_OTHER', subjectId: 'obj-1' })).length, 1);
    // Listed explicitly, they count.
    const meta = new AlertEngine([{ ...catchAll, ruleId: 'custom.alert_storm', actions: ['ACTION_AUDIT_ALERT_RAISE'], groupBy: [] }]);
    assert.equal(meta.observe(log.append({ action: 'ACTION_AUDIT_ALERT_RAISE', subjectId: 'alert-9' })).length, 1);
  });
});

describe('distinct count', () => {
  const distinctRule: AlertRule = {
    ruleId: 'custom.customer_users_per_employee',
    name: 'Customer users impersonated per employee',
    description: 'One employee impersonating many different customer users.',
    severity: 'ALERT_SEVERITY_HIGH',
    services: [],
    actions: ['ACTION_IMPERSONATION_START'],
    outcomes: ['OUTCOME_SUCCESS'],
    environments: [],
    detailMatches: {},
    groupBy: [{ field: 'EVENT_FIELD_ACTOR_ID' }, { field: 'EVENT_FIELD_CUSTOMER_DOMAIN' }],
    aggregation: 'distinct_count',
    distinctField: { field: 'EVENT_FIELD_HASHED_DETAIL', detailKey: 'customer_user' },
    windowMs: 10 * MIN,
    threshold: 3,
    enabled: true,
    builtIn: false,
  };
  const start = (actor: string, user: string): EventInput => ({
    action: 'ACTION_IMPERSONATION_START',
    actorId: actor,
    customerDomain: 'example.com',
    subjectId: `grant-${user}`,
    subjectKind: 'SUBJECT_KIND_IMPERSONATION_GRANT',
    hashedDetails: { customer_user: `hmac-sha256:${user.padEnd(64, '0')}` },
  });

  test('counts distinct values only, and fires at the third distinct one', () => {
    const log = new SyntheticLog();
    const engine = new AlertEngine([distinctRule]);
    for (let i = 0; i < 6; i++) assert.deepEqual(engine.observe(log.advance(SEC).append(start('acc-1', 'aaaa'))), []);
    assert.deepEqual(engine.observe(log.advance(SEC).append(start('acc-1', 'bbbb'))), []);
    assert.deepEqual(engine.observe(log.advance(SEC).append(start('acc-1', 'aaaa'))), []);
    const [alert] = engine.observe(log.advance(SEC).append(start('acc-1', 'cccc')));
    assert.ok(alert);
    assert.equal(alert.count, 3);
    assert.equal(alert.groupKey, 'actor_id=acc-1,customer_domain=example.com');
    // Each value counts by its latest occurrence: aaaa (seq 8), bbbb (seq 7), cccc (seq 9).
    assert.equal(alert.firstSequence, 7);
    assert.equal(alert.lastSequence, 9);
    assert.equal(
      alert.summary,
      '3 distinct hashed_details.customer_user values in events matching "Customer users impersonated per employee" for actor_id=acc-1, customer_domain=example.com within 10m',
    );
    assert.ok(!alert.summary.includes('hmac-sha256'), 'a summary never quotes a hashed value');
  });

  test('distinct values that left the window do not count; missing values are skipped', () => {
    const log = new SyntheticLog();
    const engine = new AlertEngine([distinctRule]);
    engine.observe(log.append(start('acc-1', 'aaaa')));
    engine.observe(log.advance(SEC).append(start('acc-1', 'bbbb')));
    log.advance(10 * MIN); // both leave the window
    assert.deepEqual(engine.observe(log.append(start('acc-1', 'cccc'))), []);
    assert.deepEqual(engine.observe(log.advance(SEC).append({ ...start('acc-1', 'x'), hashedDetails: {} })), []);
    assert.deepEqual(engine.observe(log.advance(SEC).append(start('acc-1', 'dddd'))), []);
    assert.equal(engine.observe(log.advance(SEC).append(start('acc-1', 'eeee'))).length, 1);
  });

  test('a generic summary hides hashed group values but the group key keeps them', () => {
    const log = new SyntheticLog();
    const rule: AlertRule = {
      ...distinctRule,
      ruleId: 'custom.phone_changes',
      name: 'Phone number reuse',
      actions: ['ACTION_IDENTITY_PHONE_NUMBER_SET'],
      outcomes: [],
      aggregation: 'count',
      distinctField: undefined,
      groupBy: [{ field: 'EVENT_FIELD_HASHED_DETAIL', detailKey: 'phone' }],
      threshold: 2,
    };
    const engine = new AlertEngine([rule]);
    const hmac = `hmac-sha256:${'ab'.repeat(32)}`;
    engine.observe(log.append({ action: 'ACTION_IDENTITY_PHONE_NUMBER_SET', subjectId: 'acc-1', hashedDetails: { phone: hmac } }));
    const [alert] = engine.observe(log.append({ action: 'ACTION_IDENTITY_PHONE_NUMBER_SET', subjectId: 'acc-2', hashedDetails: { phone: hmac } }));
    assert.ok(alert);
    assert.equal(alert.groupKey, `hashed_details.phone=${hmac}`);
    assert.equal(alert.summary, '2 events matching "Phone number reuse" for hashed_details.phone=(hashed) within 10m');
  });
});

describe('alert ids and replay', () => {
  /** Two hours of mixed traffic with several alerts. */
  function mixedLog(): SyntheticLog {
    const log = new SyntheticLog();
    for (let i = 0; i < 2_000; i++) {
      log.advance(3_700);
      const account = `acc-${i % 7}`;
      if (i % 3 === 0) log.append(otpFailure(account));
      else if (i % 3 === 1) log.append({ action: 'ACTION_ALLOWLIST_CHECK_DENY', outcome: 'OUTCOME_DENIED', actorId: '', details: i % 2 ? { claimed_account_id: account } : {} });
      else if (i % 97 === 2) log.append({ action: 'ACTION_IDENTITY_OTP_REPLAY', subjectId: account });
      else log.append({ action: 'ACTION_IDENTITY_SESSION_ISSUE', actorId: account });
    }
    return log;
  }

  test('alert ids are SHA-256 of rule, group and first sequence', () => {
    assert.equal(alertIdFor('otp.replay', 'subject_id=acc-1', 42), alertIdFor('otp.replay', 'subject_id=acc-1', 42));
    assert.notEqual(alertIdFor('otp.replay', 'subject_id=acc-1', 42), alertIdFor('otp.replay', 'subject_id=acc-1', 43));
    assert.notEqual(alertIdFor('otp.replay', 'subject_id=acc-1', 42), alertIdFor('otp.replay', 'subject_id=acc-2', 42));
  });

  test('replaying the same log in a fresh engine reproduces the same alerts, ids and times', () => {
    const log = mixedLog();
    const live = observeAll(engineWith(['otp.failures_per_account', 'allowlist.denials_per_account', 'otp.replay']), log.records);
    assert.ok(live.length > 10, `expected several alerts, got ${live.length}`);
    const replayed = engineWith(['otp.failures_per_account', 'allowlist.denials_per_account', 'otp.replay']).replay(log.records);
    assert.deepEqual(replayed, live);
    assert.equal(new Set(live.map((a) => a.alertId)).size, live.length, 'ids are unique');
  });

  test('replay after a restart raises neither stored alerts nor ones the live run held back', () => {
    const log = new SyntheticLog();
    const T = Date.UTC(2026, 0, 1, 12);
    const at = (offset: number) => log.clock.set(T + offset);
    const live = engineWith(['otp.failures_per_account']);
    const stored: RaisedAlert[] = [];
    // A burst that started more than a window before the restart and fired 5 minutes before it.
    for (const m of [-18, -17, -10, -8, -5, -4, -3, -2, -1]) {
      at(m * MIN);
      stored.push(...live.observe(log.append(otpFailure('acc-1'))));
    }
    assert.equal(stored.length, 1, 'fired once at T−5m, then held back');
    assert.equal(stored[0]?.raisedAt.getTime(), T - 5 * MIN);

    const restarted = engineWith(['otp.failures_per_account']);
    const horizon = T - restarted.maxWindowMs;
    const recent = log.records.filter((r) => r.appendedAt.getTime() >= horizon);
    // Without the stored alerts, the replay would see only part of the first burst and
    // report a second alert the live run never raised.
    const naive = engineWith(['otp.failures_per_account']).replay(recent);
    assert.equal(naive.length, 1);
    assert.ok(!stored.some((s) => s.alertId === naive[0]?.alertId), 'naive replay invents a new id');
    // With them, nothing new.
    assert.deepEqual(restarted.replay(recent, stored), []);

    // From here on, the restarted engine behaves exactly like the one that never stopped.
    const after: LogRecord[] = [];
    for (let m = 1; m <= 40; m++) {
      at(m * MIN);
      after.push(log.append(otpFailure(m % 4 === 0 ? 'acc-2' : 'acc-1')));
    }
    const fromLive = observeAll(live, after);
    const fromRestarted = observeAll(restarted, after);
    assert.ok(fromLive.length >= 2);
    assert.deepEqual(fromRestarted, fromLive);
  });

  test('replay returns an alert that was never stored (lost in a crash) with the id it would have had', () => {
    const log = mixedLog();
    const ids: BuiltInRuleId[] = ['otp.failures_per_account', 'allowlist.denials_per_account', 'otp.replay'];
    const all = observeAll(engineWith(ids), log.records);
    // The crash lost the last two alerts before they were stored.
    const stored = all.slice(0, -2);
    const lastAlert = all[all.length - 1];
    assert.ok(lastAlert);
    const restartAt = log.records[log.records.length - 1]?.appendedAt.getTime() ?? 0;
    const restarted = engineWith(ids);
    const from = restartAt - restarted.maxWindowMs;
    const storedRecent = stored.filter((a) => a.raisedAt.getTime() >= restartAt - 2 * restarted.maxWindowMs);
    const recovered = restarted.replay(
      log.records.filter((r) => r.appendedAt.getTime() >= from),
      storedRecent,
    );
    assert.deepEqual(
      recovered.map((a) => a.alertId),
      all.slice(-2).map((a) => a.alertId),
    );
  });

  test('replay may be fed in chunks and followed by observe', () => {
    const log = mixedLog();
    const ids: BuiltInRuleId[] = ['otp.failures_per_account', 'allowlist.denials_per_account'];
    const whole = observeAll(engineWith(ids), log.records);
    const chunked = engineWith(ids);
    const half = Math.floor(log.records.length / 2);
    const a = chunked.replay(log.records.slice(0, 700));
    const b = chunked.replay(log.records.slice(700, half));
    const c = observeAll(chunked, log.records.slice(half));
    assert.deepEqual([...a, ...b, ...c], whole);
  });

  test('stored alerts must carry a valid raisedAt', () => {
    const engine = engineWith(['otp.replay']);
    assert.throws(
      () => engine.replay([], [{ ruleId: 'otp.replay', groupKey: 'subject_id=a', lastSequence: 3, raisedAt: new Date(Number.NaN) }]),
      InvalidArgumentError,
    );
  });
});

describe('memory bounds', () => {
  test('the group cap evicts the least recently active group', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['allowlist.denials_per_account'], { 'allowlist.denials_per_account': { threshold: 2 } }, { maxGroupsPerRule: 3 });
    const deny = (actor: string) => log.advance(SEC).append({ action: 'ACTION_ALLOWLIST_CHECK_DENY', outcome: 'OUTCOME_DENIED', actorId: '', details: { claimed_account_id: actor } });
    for (const actor of ['acc-1', 'acc-2', 'acc-3', 'acc-4']) assert.deepEqual(engine.observe(deny(actor)), []);
    assert.deepEqual(engine.stats(), [{ ruleId: 'allowlist.denials_per_account', groups: 3, evictedGroups: 1 }]);
    // acc-1 was evicted and forgot its first denial; acc-4 kept its own.
    assert.deepEqual(engine.observe(deny('acc-1')), []);
    assert.equal(engine.observe(deny('acc-4')).length, 1);
    assert.equal(engine.stats()[0]?.groups, 3);
  });

  test('a flood of distinct keys stays within the cap', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['otp.failures_per_account'], {}, { maxGroupsPerRule: 1_000 });
    for (let i = 0; i < 20_000; i++) engine.observe(log.append(otpFailure(`random-${i}`)));
    const [stats] = engine.stats();
    assert.equal(stats?.groups, 1_000);
    assert.equal(stats?.evictedGroups, 19_000);
  });

  test('idle groups are pruned once their window has passed', () => {
    const log = new SyntheticLog();
    const engine = engineWith(['otp.failures_per_account', 'otp.replay']);
    for (let i = 0; i < 500; i++) engine.observe(log.advance(10).append(otpFailure(`acc-${i}`)));
    engine.observe(log.append({ action: 'ACTION_IDENTITY_OTP_REPLAY', subjectId: 'acc-1' }));
    assert.deepEqual(
      engine.stats().map((s) => s.groups),
      [500, 1],
    );
    log.advance(15 * MIN + SEC);
    engine.observe(log.append({ action: 'ACTION_IDENTITY_SESSION_ISSUE' }));
    assert.deepEqual(
      engine.stats().map((s) => s.groups),
      [0, 0],
    );
  });

  test('constructor refuses a bad cap and duplicate rule ids', () => {
    assert.throws(() => engineWith(['otp.replay'], {}, { maxGroupsPerRule: 0 }), InvalidArgumentError);
    const [rule] = builtInRules();
    assert.ok(rule);
    assert.throws(() => new AlertEngine([rule, rule]), InvalidArgumentError);
  });
});

test('throughput: 100k events through all built-in rules', (t) => {
  const log = new SyntheticLog();
  const records: LogRecord[] = [];
  for (let i = 0; i < 100_000; i++) {
    log.advance(7);
    const account = `acc-${(i * 7919) % 5_000}`;
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
        records.push(log.append(otpFailure(account)));
        break;
      case 3:
        records.push(log.append({ action: 'ACTION_IDENTITY_OTP_VERIFY', outcome: 'OUTCOME_SUCCESS', subjectId: account }));
        break;
      case 4:
      case 5:
        records.push(log.append({ action: 'ACTION_ALLOWLIST_CHECK_DENY', outcome: 'OUTCOME_DENIED', actorId: '', details: i % 4 === 0 ? {} : { claimed_account_id: account } }));
        break;
      case 6:
        records.push(log.append({ action: 'ACTION_IDENTITY_SIGN_IN_NEW_IP', actorId: account, environment: 'ENVIRONMENT_LIVE' }));
        break;
      case 7:
        records.push(log.append({ action: 'ACTION_SECRETS_RELEASE_REDEEM_REFUSED', subjectId: `rel-${i}`, details: { reason: 'already_redeemed' } }));
        break;
      default:
        records.push(log.append({ action: 'ACTION_PRODUCT_BACKEND_EMPLOYEE_ACCESS', actorId: account, environment: 'ENVIRONMENT_LIVE' }));
    }
  }
  const engine = new AlertEngine(builtInRules());
  const began = performance.now();
  let alerts = 0;
  for (const r of records) alerts += engine.observe(r).length;
  const elapsedMs = performance.now() - began;
  const perSecond = Math.round(records.length / (elapsedMs / 1_000));
  t.diagnostic(`100000 events in ${elapsedMs.toFixed(1)} ms = ${perSecond} events/s, ${alerts} alerts`);
  console.log(`alert engine throughput: ${perSecond} events/s (${elapsedMs.toFixed(1)} ms for 100k, ${alerts} alerts)`);
  assert.ok(alerts > 0);
  // Far below the 1 s alert budget per event: a generous bound that still catches an O(n²) slip.
  assert.ok(elapsedMs < 5_000, `took ${elapsedMs} ms`);
});
