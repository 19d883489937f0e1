import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@gatehouse/core';
import { checkAccessedRecords, checkDomain, checkJustification, evaluateBurst, grantDuration, inWindow } from './rules.js';

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
const at = (min: number) => new Date(T0 + min * 60_000);
const rule = { ruleId: 'impersonation.burst', distinctTargets: 3, windowMs: 60 * 60_000 };
const entry = (target: string, min: number) => ({ grantId: `gr_${target}-${min}`, targetUserId: target, startedAt: at(min) });

describe('the burst rule (P11)', () => {
  test('fires once the window holds N distinct targets, not N grants', () => {
    assert.equal(evaluateBurst([entry('a', 0), entry('b', 1)], rule).fires, false);
    assert.equal(evaluateBurst([entry('a', 0), entry('a', 1), entry('b', 2)], rule).fires, false, 'three grants, two users');
    const v = evaluateBurst([entry('c', 5), entry('a', 0), entry('b', 1), entry('a', 2)], rule);
    assert.equal(v.fires, true);
    assert.deepEqual(v.targets, ['a', 'b', 'c'], 'in order of first grant');
    assert.equal(v.grantIds.length, 4);
  });

  test('the window slides: entries older than W no longer count', () => {
    const entries = [entry('a', 0), entry('b', 10), entry('c', 20)];
    assert.equal(inWindow(entries, at(59), rule.windowMs).length, 3);
    assert.deepEqual(inWindow(entries, at(60), rule.windowMs).map((e) => e.targetUserId), ['b', 'c'], 'exactly W old is outside');
    assert.equal(evaluateBurst(inWindow(entries, at(61), rule.windowMs), rule).fires, false);
  });
});

describe('request checks', () => {
  test('customer domains are lower-cased DNS names; operators, trailing dots and single labels are refused', () => {
    assert.equal(checkDomain('Acme.Example'), 'acme.example');
    for (const bad of ['', 'localhost', 'acme.example.', '$ne', '{"$ne":null}', 'a b.example', `${'a'.repeat(64)}.example`]) {
      assert.throws(() => checkDomain(bad), (e: unknown) => e instanceof InvalidArgumentError && /customer_domain/.test(e.message), bad);
    }
  });

  test('durations: default when absent, 1 to 60 minutes', () => {
    assert.equal(grantDuration(undefined, 30 * 60_000, 60 * 60_000), 30 * 60_000);
    assert.equal(grantDuration(60 * 60_000, 30 * 60_000, 60 * 60_000), 60 * 60_000);
    assert.throws(() => grantDuration(60 * 60_000 + 1000, 30 * 60_000, 60 * 60_000), /at most 60 minutes/);
    assert.throws(() => grantDuration(59_000, 30 * 60_000, 60 * 60_000), /at least 1 minute/);
  });

  test('justifications are trimmed and must reach the minimum length', () => {
    assert.equal(checkJustification('   twenty characters long!  ', 20, 2000), 'twenty characters long!');
    assert.throws(() => checkJustification('  short  ', 20, 2000), /too short: at least 20 characters explaining why \(got 5\)/);
  });

  test('accessed records: kinds, operations, counts and ids are checked entry by entry', () => {
    const ok = checkAccessedRecords([{ resourceType: 'contact', operation: 'read', count: 12, recordIds: ['c-1', 'c-2'] }]);
    assert.equal(ok[0]?.count, 12);
    assert.throws(() => checkAccessedRecords([{ resourceType: 'contact', operation: 'read', count: 1, recordIds: ['c-1', 'c-2'] }]), /records\[0\]\.count.*distinct record_ids/);
    assert.throws(() => checkAccessedRecords([{ resourceType: 'Contact', operation: 'read', count: 1, recordIds: [] }]), /records\[0\]\.resource_type/);
    assert.throws(() => checkAccessedRecords([{ resourceType: 'contact', operation: 'read', count: 1, recordIds: ['$ne'] }]), /records\[0\]\.record_ids\[0\]/);
    assert.throws(() => checkAccessedRecords(Array.from({ length: 101 }, () => ({ resourceType: 'contact', operation: 'read' as const, count: 1, recordIds: [] }))), /at most 100/);
  });
});
