import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DevStackSettingError, devStackLayout } from './dev-stack.js';

test('the dev stack layout: defaults, GATEHOUSE_DEV_DIR (relative to the base folder) and the ports, one definition for launcher and CLI', () => {
  const d = devStackLayout({}, '/repo');
  assert.deepEqual(
    { state: d.stateDir, pki: d.pkiDir, data: d.dataDir, token: d.bootstrapTokenFile, key: d.devIssuerKeyFile, identity: d.address('identity'), audit: d.address('audit'), metrics: d.metricsPort('audit') },
    {
      state: '/repo/.gatehouse',
      pki: '/repo/.gatehouse/pki',
      data: '/repo/.gatehouse/data',
      token: '/repo/.gatehouse/data/identity-bootstrap-token',
      key: '/repo/.gatehouse/data/identity-dev-issuer-key.pem',
      identity: '127.0.0.1:7101',
      audit: '127.0.0.1:7105',
      metrics: 9105,
    },
  );
  const c = devStackLayout({ GATEHOUSE_DEV_DIR: 'state/two', GATEHOUSE_DEV_BASE_PORT: '7201', GATEHOUSE_DEV_METRICS_BASE_PORT: '9201' }, '/repo');
  assert.equal(c.pkiDir, path.join('/repo/state/two', 'pki'));
  assert.equal(c.address('allowlist'), '127.0.0.1:7202');
  assert.equal(c.metricsPort('secrets'), 9203);
  assert.equal(devStackLayout({ GATEHOUSE_DEV_DIR: '/abs/dir' }, '/repo').dataDir, '/abs/dir/data');
  for (const bad of ['0', '65001', '7101.5', 'x', '-1']) {
    assert.throws(() => devStackLayout({ GATEHOUSE_DEV_BASE_PORT: bad }), (e: unknown) => e instanceof DevStackSettingError && /GATEHOUSE_DEV_BASE_PORT: expected a port number/.test(e.message), bad);
  }
});
