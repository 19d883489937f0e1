import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { keyIdOf, rawPublicKey } from '@gatehouse/merkle';
import fs from 'node:fs';
import { loadOrCreateSecretFile } from '@gatehouse/pki';
import type { CheckpointSigner } from '../domain/ports.js';

/**
 * The checkpoint signing key: an Ed25519 key in a PKCS#8 PEM file (0600), generated on first
 * start. It lives outside the database, so a database thief cannot forge checkpoints.
 */
export function loadOrCreateSigningKey(file: string): CheckpointSigner & { createdAt: Date } {
  const pem = loadOrCreateSecretFile(file, () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an Ed25519 private key`);
  const publicKey = rawPublicKey(privateKey);
  return {
    keyId: keyIdOf(publicKey),
    publicKey,
    createdAt: fs.statSync(file).mtime,
    sign: (text) => sign(null, Buffer.from(text, 'utf8'), privateKey),
  };
}

/** The per-deployment HMAC key for hashed_details: 32 random bytes (hex) in a 0600 file. */
export function loadOrCreateHmacKey(file: string): Buffer {
  const hex = loadOrCreateSecretFile(file, () => `${randomBytes(32).toString('hex')}\n`).trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file} must hold 64 hex characters (a 256-bit HMAC key)`);
  return Buffer.from(hex, 'hex');
}
