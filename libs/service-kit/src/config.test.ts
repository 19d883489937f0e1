import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, baseConfigShape, checkBaseConfig, env, loadConfig, unknownVariables } from './config.js';

test('defaults apply when nothing is set', () => {
  const cfg = loadConfig(baseConfigShape, {});
  assert.equal(cfg.GATEHOUSE_STORE, 'sqlite');
  assert.equal(cfg.GATEHOUSE_HOST, '127.0.0.1');
  assert.equal(cfg.GATEHOUSE_INSECURE_PLAINTEXT, false);
});

test('a bad value stops start-up with a message naming the variable, the expectation and the value', () => {
  assert.throws(
    () => loadConfig(baseConfigShape, { GATEHOUSE_PORT: 'abc', GATEHOUSE_STORE: 'postgres' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /GATEHOUSE_PORT: expected an integer between 0 and 65535, got "abc"/);
      assert.match(err.message, /GATEHOUSE_STORE: expected one of sqlite, mongodb, got "postgres"/);
      return true;
    },
  );
});

test('out-of-range numbers and bad JSON are named too', () => {
  assert.throws(() => loadConfig(baseConfigShape, { GATEHOUSE_PORT: '70000' }), /GATEHOUSE_PORT: expected at most 65535, got "70000"/);
  assert.throws(() => loadConfig(baseConfigShape, { GATEHOUSE_RATE_LIMITS: '{nope' }), /GATEHOUSE_RATE_LIMITS: expected valid JSON/);
  assert.throws(
    () => loadConfig(baseConfigShape, { GATEHOUSE_RATE_LIMITS: '{"perIp":{"ratePerSec":-1,"burst":2}}' }),
    /GATEHOUSE_RATE_LIMITS \(at perIp\.ratePerSec\)/,
  );
});

test('cross-field checks: MONGO_URL with mongodb, plaintext only on loopback', () => {
  const mongo = loadConfig(baseConfigShape, { GATEHOUSE_STORE: 'mongodb' });
  assert.deepEqual(checkBaseConfig(mongo), ['MONGO_URL: required when GATEHOUSE_STORE=mongodb']);
  const plain = loadConfig(baseConfigShape, { GATEHOUSE_INSECURE_PLAINTEXT: 'true', GATEHOUSE_HOST: '0.0.0.0' });
  assert.match(checkBaseConfig(plain).join(), /plaintext is allowed only on loopback/);
  const loop = loadConfig(baseConfigShape, { GATEHOUSE_INSECURE_PLAINTEXT: 'true', GATEHOUSE_HOST: '::1' });
  assert.deepEqual(checkBaseConfig(loop), []);
});

test('service schemas extend the base; unknown GATEHOUSE_ variables are reported for a warning', () => {
  const shape = { ...baseConfigShape, GATEHOUSE_SMS_CODE_TTL_S: env.int(60, 600).default(300) };
  assert.equal(loadConfig(shape, { GATEHOUSE_SMS_CODE_TTL_S: '120' }).GATEHOUSE_SMS_CODE_TTL_S, 120);
  assert.deepEqual(unknownVariables(shape, { GATEHOUSE_SMS_CODE_TTLS: '1', PATH: '/bin' }), ['GATEHOUSE_SMS_CODE_TTLS']);
});

test('env.list: comma-separated items read as an array; absent is empty; a bad item names the variable and the form', () => {
  const shape = { GATEHOUSE_X_NAMES: env.list('[a-z]+', 'lower-case names') };
  assert.deepEqual(loadConfig(shape, { GATEHOUSE_X_NAMES: 'web,api' }).GATEHOUSE_X_NAMES, ['web', 'api']);
  assert.deepEqual(loadConfig(shape, {}).GATEHOUSE_X_NAMES, []);
  for (const bad of ['web,,api', 'web,API', ',web', 'web,']) {
    assert.throws(() => loadConfig(shape, { GATEHOUSE_X_NAMES: bad }), (err: unknown) => err instanceof ConfigError && /GATEHOUSE_X_NAMES.*expected lower-case names, comma-separated/.test(err.message), bad);
  }
});
