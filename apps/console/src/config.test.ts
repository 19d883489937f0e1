import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@gatehouse/service-kit';
import { loadConsoleConfig } from './config.js';

test('production names every missing variable and refuses the dev issuer; dev needs none of them', () => {
  assert.throws(
    () => loadConsoleConfig({ GATEHOUSE_ENV: 'production', GATEHOUSE_DEV_ISSUER_KEY_FILE: '/k.pem', GATEHOUSE_CONSOLE_PUBLIC_URL: 'http://console.example' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      for (const v of ['GATEHOUSE_GOOGLE_CLIENT_ID', 'GATEHOUSE_GOOGLE_CLIENT_SECRET_FILE', 'GATEHOUSE_GOOGLE_AUTHORIZE_URL', 'GATEHOUSE_GOOGLE_TOKEN_URL', 'GATEHOUSE_CONSOLE_COOKIE_KEY_FILE']) assert.match(text, new RegExp(`${v}: required in production`));
      assert.match(text, /GATEHOUSE_CONSOLE_PUBLIC_URL: must be https/);
      assert.match(text, /GATEHOUSE_DEV_ISSUER_KEY_FILE: the dev issuer is refused outside dev mode/);
      return true;
    },
  );
  assert.throws(() => loadConsoleConfig({ GATEHOUSE_ENV: 'dev', GATEHOUSE_GOOGLE_TOKEN_URL: 'http://plain.example/token' }), /GATEHOUSE_GOOGLE_TOKEN_URL/);
  assert.equal(loadConsoleConfig({ GATEHOUSE_ENV: 'dev' }).GATEHOUSE_CONSOLE_PORT, 7180);
});
