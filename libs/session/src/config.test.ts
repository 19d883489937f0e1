import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '@gatehouse/core';
import { baseConfigShape, ConfigError, loadConfig } from '@gatehouse/service-kit';
import { base64urlEncode } from './base64url.js';
import { rawEd25519PublicKey, sessionConfigShape, sessionVerifierFromConfig, signSessionToken } from './index.js';
import { keyPair, sessionClaims, T0 } from './test-support.js';

const signer = keyPair();
const shape = { ...baseConfigShape, ...sessionConfigShape };

describe('session configuration', () => {
  test('defaults, and a verifier over keys pinned in GATEHOUSE_SESSION_KEYS_FILE', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-config-'));
    try {
      const file = path.join(dir, 'keys.json');
      const jwk = { kty: 'OKP', crv: 'Ed25519', kid: 'k1', x: base64urlEncode(rawEd25519PublicKey(signer.publicKey)) };
      fs.writeFileSync(file, JSON.stringify({ keys: [jwk] }));
      const cfg = loadConfig(shape, { GATEHOUSE_SESSION_KEYS_FILE: file });
      assert.equal(cfg.GATEHOUSE_SESSION_ISSUER, 'gatehouse-identity');
      assert.equal(cfg.GATEHOUSE_SESSION_AUDIENCE, 'gatehouse');
      assert.equal(cfg.GATEHOUSE_SESSION_LEEWAY_S, 30);
      assert.equal(cfg.GATEHOUSE_SESSION_KEY_REFRESH_S, 30);
      const verifier = sessionVerifierFromConfig(cfg, { clock: new ManualClock(T0) });
      const claims = await verifier.verify(signSessionToken(sessionClaims(), { privateKey: signer.privateKey, keyId: 'k1' }));
      assert.equal(claims.accountId, 'acc_01HZX3');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad values name their variable; no key file and no identity client is refused', () => {
    assert.throws(
      () => loadConfig(shape, { GATEHOUSE_SESSION_LEEWAY_S: '900' }),
      (err: unknown) => err instanceof ConfigError && /GATEHOUSE_SESSION_LEEWAY_S: expected at most 300/.test(err.message),
    );
    assert.throws(() => sessionVerifierFromConfig(loadConfig(shape, {}), {}), /an identity client is required/);
  });
});
