// Identity's keys at rest must stay exactly what they were: data written before keeps decrypting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { masterKeyId } from '@gatehouse/signing-keys';
import { IdentityKeys } from './master-key.js';

const M1 = Buffer.alloc(32, 0x11);
const M2 = Buffer.alloc(32, 0x22);
const PEM = '-----BEGIN PRIVATE KEY-----\nxyz\n-----END PRIVATE KEY-----\n';

/**
 * Known answers, made by identity before its key code moved to @gatehouse/signing-keys: the HKDF
 * info strings (`gatehouse/identity/<purpose>`), the AAD labels (`gatehouse/phone`,
 * `gatehouse/session-signing-key`) and the master key ids are all inside these values.
 */
const BEFORE = {
  id1: 'mk-80a15601224f77fb',
  id2: 'mk-e38b0e5b67946283',
  seedCurrent: '4fadfc83eca626115e9630bdc333523625c06d796d10c5644423cffef320d3cc',
  seedOld: '8934342ecc5a0a2d51addb28318a4308f8a7d7f8944b5ddd047429845bac1173',
  pepper: '727717537b2ae1792ebe1ea77b206a3a95f30547754612166ddb4f0f7e6ce4f3',
  phone: 'v1:mk-80a15601224f77fb:fWfh-Q--K6v9hMiz:INpFEE7AUr-OmZ_C:OL-xFx6GGf0aAaGj66C1kQ',
  phoneOld: 'v1:mk-e38b0e5b67946283:ZiclAJ3O67TmhA5L:15hGjYCiHbhpzCNr:ZAUovX9xmz5GK-YN5Slyxg',
  signingKey:
    'v1:mk-80a15601224f77fb:JkBAddHUOS5YCssE:c9ZDAtuxbkaz-jFK6fXtRZmrfREI684zFTR2rhWaU-f9eDZ601oa4avaXp0XEqpluRJKqVIbF_7CQg:gSAgfn-6C-vAg69z-bP0sQ',
};

test('the same subkeys, master key ids and ciphertexts as before the move', () => {
  const keys = new IdentityKeys([M1, M2]);
  assert.equal(masterKeyId(M1), BEFORE.id1);
  assert.equal(masterKeyId(M2), BEFORE.id2);
  assert.equal(keys.seedKeyring.current().keyId, BEFORE.id1);
  assert.equal(Buffer.from(keys.seedKeyring.current().key).toString('hex'), BEFORE.seedCurrent);
  assert.equal(Buffer.from(keys.seedKeyring.byId(BEFORE.id2) ?? []).toString('hex'), BEFORE.seedOld);
  assert.equal(keys.smsPepper.toString('hex'), BEFORE.pepper);
  assert.equal(keys.phoneCipher.decrypt(BEFORE.phone, 'acc_123'), '+41791234567');
  assert.equal(keys.phoneCipher.decrypt(BEFORE.phoneOld, 'acc_123'), '+41791234567', 'under the older master key');
  assert.equal(keys.signingKeyCipher.decrypt(BEFORE.signingKey, 'sk-abc'), PEM);
  assert.throws(() => keys.signingKeyCipher.decrypt(BEFORE.phone, 'acc_123'), /not_authentic/, 'each purpose its own key and label');
});

test('master keys are checked as before', () => {
  assert.throws(() => new IdentityKeys([]), /^Error: IdentityKeys: at least one master key is required$/);
  assert.throws(() => new IdentityKeys([Buffer.alloc(16)]), /^Error: IdentityKeys: a master key is 32 bytes \(256 bits\)$/);
});
