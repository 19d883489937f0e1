import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@gatehouse/core';
import { validateRules } from './alert-rule.js';
import { BUILT_IN_RULE_IDS, builtInRules } from './built-in-rules.js';
import type { BuiltInRulesConfig } from './built-in-rules.js';

const MIN = 60_000;

test('the built-in rules have the documented defaults and are valid', () => {
  const rules = builtInRules();
  validateRules(rules);
  assert.deepEqual(
    rules.map((r) => r.ruleId),
    [...BUILT_IN_RULE_IDS],
  );
  const byId = new Map(rules.map((r) => [r.ruleId, r]));
  const get = (id: string) => {
    const rule = byId.get(id);
    assert.ok(rule, id);
    return rule;
  };
  assert.deepEqual(
    rules.map((r) => [r.ruleId, r.threshold, r.windowMs, r.severity]),
    [
      ['otp.failures_per_account', 5, 15 * MIN, 'ALERT_SEVERITY_HIGH'],
      ['otp.replay', 1, 15 * MIN, 'ALERT_SEVERITY_MEDIUM'],
      ['allowlist.denials_per_account', 10, 10 * MIN, 'ALERT_SEVERITY_MEDIUM'],
      ['secrets.release_redeemed_twice', 1, 24 * 60 * MIN, 'ALERT_SEVERITY_CRITICAL'],
      ['secrets.release_redeem_misuse', 1, 24 * 60 * MIN, 'ALERT_SEVERITY_HIGH'],
      ['secrets.release_expired_unredeemed', 1, 24 * 60 * MIN, 'ALERT_SEVERITY_HIGH'],
      ['impersonation.anomaly', 1, 60 * MIN, 'ALERT_SEVERITY_CRITICAL'],
      ['identity.new_ip_live_session', 1, 60 * MIN, 'ALERT_SEVERITY_HIGH'],
      ['identity.account_locked', 1, 60 * MIN, 'ALERT_SEVERITY_HIGH'],
      ['identity.role_change', 1, MIN, 'ALERT_SEVERITY_HIGH'],
    ],
  );
  for (const rule of rules) {
    assert.equal(rule.builtIn, true);
    assert.equal(rule.enabled, true);
    assert.equal(rule.aggregation, 'count');
  }
  assert.deepEqual(get('otp.failures_per_account').actions, [
    'ACTION_IDENTITY_OTP_VERIFY',
    'ACTION_IDENTITY_SMS_VERIFY',
    'ACTION_IDENTITY_HOTP_RESYNC',
  ]);
  assert.deepEqual(get('otp.failures_per_account').outcomes, ['OUTCOME_FAILURE']);
  assert.deepEqual(get('otp.failures_per_account').groupBy, [{ field: 'EVENT_FIELD_SUBJECT_ID' }]);
  assert.deepEqual(get('allowlist.denials_per_account').groupBy, [{ field: 'EVENT_FIELD_DETAIL', detailKey: 'claimed_account_id' }], 'the account a backend claims, never the backend itself');
  assert.deepEqual(get('secrets.release_redeemed_twice').detailMatches, { reason: 'already_redeemed' });
  assert.deepEqual(get('secrets.release_redeem_misuse').detailMatches, { class: 'misuse' });
  assert.deepEqual(get('identity.new_ip_live_session').environments, ['ENVIRONMENT_LIVE']);
  assert.deepEqual(get('identity.role_change').outcomes, ['OUTCOME_SUCCESS'], 'intents and refusals are not role changes');
  assert.deepEqual(get('identity.role_change').groupBy, [{ field: 'EVENT_FIELD_SUBJECT_ID' }, { field: 'EVENT_FIELD_ACTION' }]);
});

test('config overrides threshold, window and enabled per rule and leaves the rest alone', () => {
  const rules = builtInRules({
    'otp.failures_per_account': { threshold: 3, windowMs: 5 * MIN },
    'otp.replay': { enabled: false },
  });
  const otp = rules.find((r) => r.ruleId === 'otp.failures_per_account');
  assert.equal(otp?.threshold, 3);
  assert.equal(otp?.windowMs, 5 * MIN);
  assert.equal(otp?.enabled, true);
  assert.equal(rules.find((r) => r.ruleId === 'otp.replay')?.enabled, false);
  assert.equal(rules.find((r) => r.ruleId === 'allowlist.denials_per_account')?.threshold, 10);
});

test('bad config is refused naming the rule and setting', () => {
  const cases: Array<[unknown, string]> = [
    [{ 'otp.failures_per_account': { threshold: 0 } }, 'otp.failures_per_account.threshold'],
    [{ 'otp.failures_per_account': { threshold: 1.5 } }, 'otp.failures_per_account.threshold'],
    [{ 'otp.replay': { windowMs: 10 } }, 'otp.replay.windowMs'],
    [{ 'otp.replay': { windowMs: 8 * 24 * 60 * MIN } }, 'otp.replay.windowMs'],
    [{ 'otp.replay': { enabled: 'yes' } }, 'otp.replay.enabled'],
    [{ 'otp.replay': { treshold: 2 } }, 'otp.replay.treshold'],
    [{ 'otp.failures': {} }, 'otp.failures'],
  ];
  for (const [config, field] of cases) {
    assert.throws(
      () => builtInRules(config as BuiltInRulesConfig),
      (err: unknown) => err instanceof InvalidArgumentError && err.field === field,
      `expected ${field} for ${JSON.stringify(config)}`,
    );
  }
});
