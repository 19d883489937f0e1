import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { keyIdOf, rawPublicKey } from '@gatehouse/merkle';
import fs from 'node:fs';
import path from 'node:path';
import type { CheckpointSigner } from '../domain/ports.js';

/** Writes a secret file atomically with 0600 permissions, never replacing an existing one. */
function writeSecretFile(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file); // fails if another process created it first
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * The checkpoint signing key: an Ed25519 key in a PKCS#8 PEM file (0600), generated on first
 * start. It lives outside the database, so a database thief cannot forge checkpoints.
 */
export function loadOrCreateSigningKey(file: string): CheckpointSigner & { createdAt: Date } {
  if (!fs.existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    try {
      writeSecretFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const privateKey = createPrivateKey(fs.readFileSync(file));
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
  if (!fs.existsSync(file)) {
    try {
      writeSecretFile(file, `${randomBytes(32).toString('hex')}\n`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const hex = fs.readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file} must hold 64 hex characters (a 256-bit HMAC key)`);
  return Buffer.from(hex, 'hex');
}
