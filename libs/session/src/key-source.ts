import { createPublicKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '@gatehouse/service-kit';
import { base64urlDecode, base64urlEncode } from './base64url.js';
import { KEY_ID_RE } from './jws.js';

/** When a published key may be trusted (common.v1.SigningKey not_before / not_after). */
export interface KeyValidity {
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * Where the verifier finds the public key for a token's `kid`. A port, so the verifier does not
 * care whether keys come from identity over gRPC, a file, or a test.
 */
export interface SessionKeySource {
  /** The Ed25519 public key for `keyId` if it may verify tokens now, else undefined. */
  key(keyId: string): Promise<KeyObject | undefined>;
  /**
   * The validity window of a key {@link key} just returned, when the source knows one. The
   * verifier refuses a token dated before its key's not_before.
   */
  validity?(keyId: string): KeyValidity | undefined;
}

/** The 32-byte RFC 8032 encoding of an Ed25519 public key as a KeyObject; throws if it is not one. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new TypeError(`an Ed25519 public key is 32 bytes, not ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64urlEncode(raw) }, format: 'jwk' });
}

/** The 32 raw bytes of an Ed25519 public key, as common.v1.SigningKey.public_key carries them. */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  const pub = asEd25519PublicKey(key);
  const x = (pub.export({ format: 'jwk' }) as { x?: string }).x;
  const raw = x === undefined ? undefined : base64urlDecode(x);
  if (raw?.length !== 32) throw new TypeError('could not export the Ed25519 public key');
  return raw;
}

/** The public half of an Ed25519 key (a private key is reduced to its public key). */
function asEd25519PublicKey(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519' || key.type === 'secret') throw new TypeError('session keys must be Ed25519 keys');
  return key.type === 'private' ? createPublicKey(key) : key;
}

/**
 * A fixed set of public keys by key id: for tests, and for deployments that pin identity's keys
 * in a file (GATEHOUSE_SESSION_KEYS_FILE) instead of fetching them. It has no validity windows:
 * a pinned key is trusted until it is removed from the set.
 */
export class StaticKeySource implements SessionKeySource {
  private readonly keys = new Map<string, KeyObject>();

  constructor(keys: ReadonlyMap<string, KeyObject> | Readonly<Record<string, KeyObject>>) {
    const entries = keys instanceof Map ? [...keys.entries()] : Object.entries(keys);
    for (const [kid, key] of entries) {
      if (!KEY_ID_RE.test(kid)) throw new TypeError('key ids must be 1-128 characters of A-Z a-z 0-9 . _ : -');
      this.keys.set(kid, asEd25519PublicKey(key));
    }
  }

  key(keyId: string): Promise<KeyObject | undefined> {
    return Promise.resolve(this.keys.get(keyId));
  }

  /** The key ids it holds, for start-up logs. */
  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * Reads a JWK Set of Ed25519 public keys (`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":…,"x":…}]}`).
   * A private key (`d`) in the set is refused: a verifier has no business holding one.
   */
  static fromJwks(jwks: unknown): StaticKeySource {
    const problems: string[] = [];
    const keys = new Map<string, KeyObject>();
    const list = typeof jwks === 'object' && jwks !== null ? (jwks as { keys?: unknown }).keys : undefined;
    if (!Array.isArray(list) || list.length === 0) throw new TypeError('expected a JWK Set: {"keys": [ ... ]} with at least one key');
    for (const [i, jwk] of (list as unknown[]).entries()) {
      const problem = (what: string) => problems.push(`keys[${i}]: ${what}`);
      if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
        problem('expected a JSON object');
        continue;
      }
      const k = jwk as Record<string, unknown>;
      const kid = k['kid'];
      const raw = typeof k['x'] === 'string' ? base64urlDecode(k['x']) : undefined;
      if (Object.hasOwn(k, 'd')) problem('holds a private key (d); a verifier needs only public keys');
      else if (k['kty'] !== 'OKP' || k['crv'] !== 'Ed25519') problem('expected kty "OKP" and crv "Ed25519"');
      else if (k['alg'] !== undefined && k['alg'] !== 'EdDSA') problem('alg must be "EdDSA" when present');
      else if (typeof kid !== 'string' || !KEY_ID_RE.test(kid)) problem('kid must be 1-128 characters of A-Z a-z 0-9 . _ : -');
      else if (keys.has(kid)) problem(`duplicate kid ${kid}`);
      else if (raw?.length !== 32) problem('x must be the base64url of a 32-byte Ed25519 public key');
      else {
        try {
          keys.set(kid, ed25519PublicKey(raw));
        } catch {
          problem('x is not a usable Ed25519 public key');
        }
      }
    }
    if (problems.length > 0) throw new TypeError(problems.join('; '));
    return new StaticKeySource(keys);
  }

  /** Reads a JWK Set file (see {@link StaticKeySource.fromJwks}). */
  static fromFile(file: string): StaticKeySource {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new TypeError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unknown error'}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new TypeError(`${file} is not valid JSON`);
    }
    return StaticKeySource.fromJwks(json);
  }

  /**
   * The keys named by GATEHOUSE_SESSION_KEYS_FILE, or undefined when it is unset (fetch them from
   * identity then). A bad file stops start-up with a {@link ConfigError} naming the variable.
   */
  static fromEnv(source: Record<string, string | undefined> = process.env): StaticKeySource | undefined {
    const file = source[SESSION_KEYS_FILE_VARIABLE];
    if (file === undefined || file === '') return undefined;
    try {
      return StaticKeySource.fromFile(file);
    } catch (err) {
      throw new ConfigError([`${SESSION_KEYS_FILE_VARIABLE}: ${(err as Error).message}`]);
    }
  }
}

/** The variable that pins session verification keys to a JWK Set file. */
export const SESSION_KEYS_FILE_VARIABLE = 'GATEHOUSE_SESSION_KEYS_FILE';
