import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@gatehouse/core';
import { validateRule, validateRules } from './alert-rule.js';
import type { AlertRule } from './alert-rule.js';

const base: AlertRule = {
  ruleId: 'custom.exports_per_domain',
  name: 'Exports per domain',
  description: 'Many exports for one customer domain.',
  severity: 'ALERT_SEVERITY_LOW',
  services: ['SERVICE_PRODUCT_BACKEND'],
  actions: ['ACTION_PRODUCT_BACKEND_OTHER'],
  outcomes: [],
  environments: ['ENVIRONMENT_LIVE'],
  detailMatches: { event: 'export.started' },
  groupBy: [{ field: 'EVENT_FIELD_CUSTOMER_DOMAIN' }],
  aggregation: 'count',
  windowMs: 60_000,
  threshold: 3,
  enabled: true,
  builtIn: false,
};

/** Asserts that validateRule refuses the rule with INVALID_ARGUMENT naming `field`. */
function rejects(rule: AlertRule, field: string, prefix?: string): void {
  assert.throws(
    () => validateRule(rule, prefix),
    (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
      assert.equal(err.field, field);
      assert.ok(err.message.startsWith(`${field}: `), err.message);
      return true;
    },
  );
}

test('a well-formed rule passes, with and without a distinct field', () => {
  validateRule(base);
  validateRule({
    ...base,
    aggregation: 'distinct_count',
    distinctField: { field: 'EVENT_FIELD_HASHED_DETAIL', detailKey: 'customer_user' },
    groupBy: [],
  });
});

test('threshold must be an integer of at least 1 (and bounded)', () => {
  rejects({ ...base, threshold: 0 }, 'threshold');
  rejects({ ...base, threshold: -3 }, 'threshold');
  rejects({ ...base, threshold: 2.5 }, 'threshold');
  rejects({ ...base, threshold: Number.NaN }, 'threshold');
  rejects({ ...base, threshold: 10_001 }, 'threshold');
  validateRule({ ...base, threshold: 1 });
  validateRule({ ...base, threshold: 10_000 });
});

test('window must lie between 1 s and 7 days', () => {
  rejects({ ...base, windowMs: 999 }, 'window');
  rejects({ ...base, windowMs: 7 * 86_400_000 + 1 }, 'window');
  rejects({ ...base, windowMs: 1_500.5 }, 'window');
  validateRule({ ...base, windowMs: 1_000 });
  validateRule({ ...base, windowMs: 7 * 86_400_000 });
});

test('distinct_count needs a distinct field and count must not have one', () => {
  rejects({ ...base, aggregation: 'distinct_count' }, 'distinct_field');
  rejects({ ...base, distinctField: { field: 'EVENT_FIELD_SOURCE_IP' } }, 'distinct_field');
  rejects({ ...base, aggregation: 'sum' as never }, 'aggregation');
});

test('DETAIL and HASHED_DETAIL refs need a detail key; other fields must not have one', () => {
  rejects({ ...base, groupBy: [{ field: 'EVENT_FIELD_ACTOR_ID' }, { field: 'EVENT_FIELD_DETAIL' }] }, 'group_by[1].detail_key');
  rejects({ ...base, groupBy: [{ field: 'EVENT_FIELD_HASHED_DETAIL', detailKey: 'Bad-Key' }] }, 'group_by[0].detail_key');
  rejects(
    { ...base, aggregation: 'distinct_count', distinctField: { field: 'EVENT_FIELD_HASHED_DETAIL' } },
    'distinct_field.detail_key',
  );
  rejects({ ...base, groupBy: [{ field: 'EVENT_FIELD_ACTOR_ID', detailKey: 'reason' }] }, 'group_by[0].detail_key');
  rejects({ ...base, groupBy: [{ field: 'EVENT_FIELD_UNSPECIFIED' as never }] }, 'group_by[0].field');
});

test('rule id must match ^[a-z][a-z0-9_.-]{0,63}$', () => {
  for (const bad of ['', 'Otp.failures', '1otp', 'otp failures', 'otp/failures', `a${'b'.repeat(64)}`]) {
    rejects({ ...base, ruleId: bad }, 'rule_id');
  }
  for (const good of ['a', 'otp.failures_per_account', 'x-1.y_2', `a${'b'.repeat(63)}`]) validateRule({ ...base, ruleId: good });
});

test('enum names, severity, name and detail matches are checked by field', () => {
  rejects({ ...base, severity: 'ALERT_SEVERITY_UNSPECIFIED' as never }, 'severity');
  rejects({ ...base, actions: ['ACTION_IDENTITY_OTP_VERIFY', 'OUTCOME_FAILURE'] }, 'actions[1]');
  rejects({ ...base, services: ['SERVICE_UNSPECIFIED'] }, 'services[0]');
  rejects({ ...base, outcomes: ['failure'] }, 'outcomes[0]');
  rejects({ ...base, environments: ['LIVE'] }, 'environments[0]');
  rejects({ ...base, name: '  ' }, 'name');
  rejects({ ...base, detailMatches: { Reason: 'x' } }, 'detail_matches["Reason"]');
});

test('a prefix locates the field in a list; duplicate ids are refused', () => {
  rejects({ ...base, threshold: 0 }, 'rules[2].threshold', 'rules[2].');
  assert.throws(
    () => validateRules([base, { ...base, name: 'other' }]),
    (err: unknown) => err instanceof InvalidArgumentError && err.field === 'rules[1].rule_id' && /duplicate/.test(err.message),
  );
});
