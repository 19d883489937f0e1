import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, PermissionDeniedError } from '@gatehouse/core';
import { bindingMismatch, checkCreator, isReleaseTokenShape, newReleaseToken, releaseTerms, releaseTokenHash } from './release-rules.js';

test('a release token is 256 random bits, shown once, stored only as a hash', () => {
  const tokens = new Set(Array.from({ length: 1000 }, newReleaseToken));
  assert.equal(tokens.size, 1000);
  const t = newReleaseToken();
  assert.ok(isReleaseTokenShape(t));
  assert.equal(Buffer.from(t.slice(4), 'base64url').length, 32);
  const h = releaseTokenHash(t);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.ok(!h.includes(t.slice(4, 20)));
  for (const bad of ['', '$ne', '{"$ne":null}', `ghr_${'A'.repeat(42)}`, `ghr_${'A'.repeat(44)}`, t.replace('ghr_', 'ghs_'), `${t} `]) assert.equal(isReleaseTokenShape(bad), false, bad);
});

test('only manager and team_lead release to LIVE; developers may release to STAGING', () => {
  assert.throws(() => checkCreator(['developer'], 'live'), (e: unknown) => e instanceof PermissionDeniedError && /LIVE may only be created by manager or team_lead/.test(e.message));
  assert.throws(() => checkCreator(['security_officer', 'support'], 'live'), PermissionDeniedError);
  checkCreator(['team_lead'], 'live');
  checkCreator(['developer'], 'staging');
  assert.throws(() => checkCreator(['support'], 'staging'), PermissionDeniedError);
});

test('release terms: TTL default and bounds, deployment ref, app, bound CIDR and identity are checked, naming the field', () => {
  const ok = releaseTerms({ app: 'contacts-api', deploymentRef: 'git:3f2c9e1', ttlMs: undefined, boundCidr: '10.1.0.0/16', boundClientIdentity: 'urn:gatehouse:backend:deployer' });
  assert.equal(ok.ttlMs, 15 * 60_000);
  assert.equal(ok.boundCidr?.canonical, '10.1.0.0/16');
  assert.equal(ok.boundClientIdentity, 'backend:deployer');
  const bad: Array<[Parameters<typeof releaseTerms>[0], RegExp]> = [
    [{ app: 'Contacts', deploymentRef: 'x', ttlMs: undefined, boundCidr: undefined, boundClientIdentity: undefined }, /^app:/],
    [{ app: 'a', deploymentRef: 'x y', ttlMs: undefined, boundCidr: undefined, boundClientIdentity: undefined }, /^deployment_ref:/],
    [{ app: 'a', deploymentRef: 'x', ttlMs: 59_000, boundCidr: undefined, boundClientIdentity: undefined }, /^ttl:/],
    [{ app: 'a', deploymentRef: 'x', ttlMs: 25 * 3600_000, boundCidr: undefined, boundClientIdentity: undefined }, /^ttl:/],
    [{ app: 'a', deploymentRef: 'x', ttlMs: undefined, boundCidr: '10.1.2.3/16', boundClientIdentity: undefined }, /^bound_cidr:.*host bits/],
    [{ app: 'a', deploymentRef: 'x', ttlMs: undefined, boundCidr: '0.0.0.0/0', boundClientIdentity: undefined }, /^bound_cidr:/],
    [{ app: 'a', deploymentRef: 'x', ttlMs: undefined, boundCidr: undefined, boundClientIdentity: 'deployer' }, /^bound_client_identity:/],
    [{ app: 'a', deploymentRef: 'x', ttlMs: undefined, boundCidr: undefined, boundClientIdentity: '$ne' }, /^bound_client_identity:/],
  ];
  for (const [req, why] of bad) assert.throws(() => releaseTerms(req), (e: unknown) => e instanceof InvalidArgumentError && why.test(e.message), JSON.stringify(req));
});

test('redemption bindings: the bound CIDR (mapped IPv6 included) and the bound certificate identity', () => {
  const r = { boundCidr: '10.1.0.0/16', boundClientIdentity: 'backend:deployer' };
  assert.equal(bindingMismatch(r, { ip: '10.1.200.3', identity: 'backend:deployer' }), undefined);
  assert.equal(bindingMismatch(r, { ip: '::ffff:10.1.200.3', identity: 'backend:deployer' }), undefined);
  assert.equal(bindingMismatch(r, { ip: '10.2.0.1', identity: 'backend:deployer' }), 'cidr');
  assert.equal(bindingMismatch(r, { ip: 'garbage', identity: 'backend:deployer' }), 'cidr');
  assert.equal(bindingMismatch(r, { ip: '10.1.0.1', identity: 'backend:other' }), 'identity');
  assert.equal(bindingMismatch({ boundCidr: null, boundClientIdentity: null }, { ip: '203.0.113.1', identity: 'operator:cli' }), undefined);
});
