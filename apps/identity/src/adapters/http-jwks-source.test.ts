import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock, UnauthenticatedError, UnavailableError } from '@gatehouse/core';
import { GoogleTokenVerifier } from '../domain/google/index.js';
import { HttpJwksSource } from './index.js';
import type { HttpJwksSourceOptions } from './index.js';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

const keyA = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyB = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const jwk = (key: KeyObject, kid: string, extra: Record<string, unknown> = { alg: 'RS256', use: 'sig' }): Record<string, unknown> => ({
  ...key.export({ format: 'jwk' }),
  kid,
  ...extra,
});

/** A JWKS endpoint on loopback whose answer the test changes at will. */
interface JwksServer {
  readonly url: string;
  requests: number;
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /** When set, every connection is reset without an answer (the server is "down"). */
  down: boolean;
  close(): Promise<void>;
}

const servers: JwksServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function startServer(body: unknown, headers: Record<string, string> = {}): Promise<JwksServer> {
  const state = { requests: 0, status: 200, body, headers, down: false };
  const server = createServer((req, res) => {
    state.requests++;
    if (state.down) {
      req.socket.destroy();
      return;
    }
    const text = typeof state.body === 'string' ? state.body : JSON.stringify(state.body);
    res.writeHead(state.status, { 'content-type': 'application/json', ...state.headers });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed = false;
  const handle: JwksServer = Object.assign(state, {
    url: `http://127.0.0.1:${port}/oauth2/v3/certs`,
    close: async () => {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  servers.push(handle);
  return handle;
}

function source(server: JwksServer, clock: ManualClock, options: Partial<HttpJwksSourceOptions> = {}): HttpJwksSource {
  return new HttpJwksSource(server.url, { clock, ...options });
}

describe('HttpJwksSource', () => {
  test('fetches once and serves known kids from the cache', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] });
    const clock = new ManualClock();
    const jwks = source(server, clock);
    const key = await jwks.key('A');
    assert.ok(key);
    assert.equal(key.export({ format: 'jwk' }).n, keyA.publicKey.export({ format: 'jwk' }).n);
    for (let i = 0; i < 20; i++) assert.ok(await jwks.key('A'));
    clock.advance(59 * MIN);
    assert.ok(await jwks.key('A'));
    assert.equal(server.requests, 1);
    assert.equal(jwks.fetches, 1);
  });

  test('concurrent first calls share one fetch', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] });
    const jwks = source(server, new ManualClock());
    const keys = await Promise.all(Array.from({ length: 20 }, () => jwks.key('A')));
    assert.ok(keys.every((k) => k !== undefined));
    assert.equal(server.requests, 1);
  });

  test('rotation: a new kid is picked up on refresh, a withdrawn one disappears', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] });
    const clock = new ManualClock();
    const jwks = source(server, clock);
    assert.ok(await jwks.key('A'));
    server.body = { keys: [jwk(keyA.publicKey, 'A'), jwk(keyB.publicKey, 'B')] };
    // Within the minimum interval the unknown kid does not trigger a fetch.
    clock.advance(10 * SEC);
    assert.equal(await jwks.key('B'), undefined);
    assert.equal(server.requests, 1);
    clock.advance(20 * SEC);
    assert.ok(await jwks.key('B'), 'B appears once a refresh is allowed');
    assert.equal(server.requests, 2);
    // Google withdraws A; the next allowed refresh replaces the whole set.
    server.body = { keys: [jwk(keyB.publicKey, 'B')] };
    clock.advance(30 * SEC);
    assert.equal(await jwks.key('C'), undefined);
    assert.equal(server.requests, 3);
    assert.equal(await jwks.key('A'), undefined);
    assert.ok(await jwks.key('B'));
    assert.equal(server.requests, 3);
  });

  test('50 unknown kids cause at most 2 fetches (rate-limited refresh)', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] });
    const clock = new ManualClock();
    const jwks = source(server, clock);
    const junk = Array.from({ length: 50 }, (_, i) => `junk-${i}`);
    // In parallel from a cold cache: one fetch, shared.
    assert.deepEqual(await Promise.all(junk.map((k) => jwks.key(k))), junk.map(() => undefined));
    // One after another: rate-limited, nothing fetched.
    for (const k of junk) assert.equal(await jwks.key(k), undefined);
    assert.equal(server.requests, 1);
    // After the interval, 50 more in parallel: exactly one more fetch.
    clock.advance(30 * SEC);
    await Promise.all(junk.map((k) => jwks.key(`${k}-again`)));
    for (const k of junk) await jwks.key(`${k}-more`);
    assert.ok(server.requests <= 2, `${server.requests} fetches`);
    assert.equal(server.requests, 2);
    // The genuine key is still served throughout.
    assert.ok(await jwks.key('A'));
  });

  test('honours Cache-Control max-age (less Age)', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] }, { 'cache-control': 'public, max-age=600, must-revalidate' });
    const clock = new ManualClock();
    const jwks = source(server, clock);
    await jwks.key('A');
    clock.advance(599 * SEC);
    await jwks.key('A');
    assert.equal(server.requests, 1, 'fresh for 600 s');
    clock.advance(2 * SEC);
    await jwks.key('A');
    assert.equal(server.requests, 2, 'refetched after max-age');

    server.headers = { 'cache-control': 'max-age=600', age: '500' };
    clock.advance(10 * MIN);
    await jwks.key('A');
    assert.equal(server.requests, 3);
    clock.advance(99 * SEC);
    await jwks.key('A');
    assert.equal(server.requests, 3, 'fresh for max-age - age = 100 s');
    clock.advance(2 * SEC);
    await jwks.key('A');
    assert.equal(server.requests, 4);
  });

  test('without max-age the keys live for defaultMaxAgeMs', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] });
    const clock = new ManualClock();
    const jwks = source(server, clock, { defaultMaxAgeMs: 5 * MIN });
    await jwks.key('A');
    clock.advance(5 * MIN - 1);
    await jwks.key('A');
    assert.equal(server.requests, 1);
    clock.advance(1);
    await jwks.key('A');
    assert.equal(server.requests, 2);
  });

  test('a huge max-age is capped', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] }, { 'cache-control': 'max-age=9999999' });
    const clock = new ManualClock();
    const jwks = source(server, clock, { maxMaxAgeMs: 2 * HOUR });
    await jwks.key('A');
    clock.advance(2 * HOUR);
    await jwks.key('A');
    assert.equal(server.requests, 2);
  });

  test('server down: cached keys are served until expiry + grace, then UNAVAILABLE', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] }, { 'cache-control': 'max-age=3600' });
    const clock = new ManualClock();
    const errors: Error[] = [];
    const jwks = source(server, clock, { staleGraceMs: 30 * MIN, onRefreshError: (e) => errors.push(e) });
    assert.ok(await jwks.key('A'));
    // Connections reset rather than a closed port, so no other test's server can take the port.
    server.down = true;
    clock.advance(HOUR + SEC);
    assert.ok(await jwks.key('A'), 'stale key served while the refresh fails');
    assert.equal(errors.length, 1);
    // An unknown kid while the JWKS cannot be reached is UNAVAILABLE, not "unknown key".
    clock.advance(30 * SEC);
    await assert.rejects(jwks.key('B'), UnavailableError);
    clock.advance(30 * MIN);
    await assert.rejects(jwks.key('A'), (err: unknown) => err instanceof UnavailableError && /expired and could not be refreshed/.test(err.message));
    assert.ok(errors.length >= 2);
  });

  test('an HTTP error or a bad document keeps the cached keys', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] }, { 'cache-control': 'max-age=60' });
    const clock = new ManualClock();
    const errors: string[] = [];
    const jwks = source(server, clock, { onRefreshError: (e) => errors.push(e.message) });
    await jwks.key('A');
    for (const [status, body] of [
      [500, { error: 'oops' }],
      [200, 'not json'],
      [200, { keys: [] }],
      [200, { keys: [jwk(ec.publicKey, 'E', { alg: 'ES256', use: 'sig' })] }],
      [200, { nokeys: true }],
      [200, { keys: [jwk(keyB.publicKey, 'B')], padding: 'x'.repeat(70_000) }],
    ] as const) {
      server.status = status;
      server.body = body;
      clock.advance(61 * SEC);
      assert.ok(await jwks.key('A'), `cached key kept after ${JSON.stringify(body).slice(0, 30)}`);
    }
    const messages = errors.map((m) => m.replace(/127\.0\.0\.1:\d+/, 'HOST'));
    assert.deepEqual(messages.slice(0, 5), [
      'JWKS fetch from http://HOST failed: HTTP 500',
      'JWKS from http://HOST is not valid JSON',
      'JWKS from http://HOST holds no usable RS256 signing key',
      'JWKS from http://HOST holds no usable RS256 signing key',
      'JWKS document is not an object with a "keys" member',
    ]);
    assert.match(messages[5] ?? '', /^JWKS response is too large \((\d+ bytes, limit|over) 65536/);
    assert.equal(messages.length, 6);
  });

  test('ignores non-RSA and non-signature keys', async () => {
    const server = await startServer({
      keys: [
        jwk(ec.publicKey, 'ec', { alg: 'ES256', use: 'sig' }),
        jwk(keyB.publicKey, 'enc', { alg: 'RSA-OAEP', use: 'enc' }),
        jwk(keyA.publicKey, 'A'),
      ],
    });
    const clock = new ManualClock();
    const jwks = source(server, clock);
    assert.ok(await jwks.key('A'));
    assert.equal(await jwks.key('ec'), undefined);
    assert.equal(await jwks.key('enc'), undefined);
  });

  test('nothing fetched yet and the server down: UNAVAILABLE', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] });
    server.down = true;
    const clock = new ManualClock();
    const jwks = source(server, clock);
    await assert.rejects(jwks.key('A'), (err: unknown) => err instanceof UnavailableError && /could not be fetched/.test(err.message));
    // It comes back: the next allowed attempt succeeds.
    server.down = false;
    clock.advance(30 * SEC);
    assert.ok(await jwks.key('A'));
  });

  test('an injected fetch is used', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] });
    let calls = 0;
    const jwks = source(server, new ManualClock(), {
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
    });
    assert.ok(await jwks.key('A'));
    assert.equal(calls, 1);
  });

  test('only https, except on loopback', () => {
    const clock = new ManualClock();
    assert.throws(() => new HttpJwksSource('http://www.googleapis.com/oauth2/v3/certs', { clock }), /https/);
    assert.throws(() => new HttpJwksSource('ftp://127.0.0.1/x', { clock }), /https/);
    new HttpJwksSource('https://www.googleapis.com/oauth2/v3/certs', { clock });
    new HttpJwksSource('http://[::1]:8080/certs', { clock });
  });

  test('end to end: the verifier checks a token against keys served over HTTP, and follows a rotation', async () => {
    const server = await startServer({ keys: [jwk(keyA.publicKey, 'A')] });
    const clock = new ManualClock(Date.UTC(2026, 2, 10, 12));
    const verifier = new GoogleTokenVerifier({
      clientIds: ['client-1'],
      allowedHostedDomains: ['example.com'],
      jwks: source(server, clock),
      clock,
    });
    const now = clock.now().getTime() / 1000;
    const token = (kid: string, key: KeyObject): string => {
      const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
      const input = `${b64({ alg: 'RS256', kid, typ: 'JWT' })}.${b64({
        iss: 'accounts.google.com', aud: 'client-1', sub: '42', email: 'a@example.com', email_verified: true, hd: 'example.com', iat: now, exp: now + 3600,
      })}`;
      return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
    };
    assert.equal((await verifier.verify(token('A', keyA.privateKey))).subject, '42');
    server.body = { keys: [jwk(keyA.publicKey, 'A'), jwk(keyB.publicKey, 'B')] };
    await assert.rejects(verifier.verify(token('B', keyB.privateKey)), UnauthenticatedError);
    clock.advance(30 * SEC);
    assert.equal((await verifier.verify(token('B', keyB.privateKey))).subject, '42');
    assert.equal(server.requests, 2);
  });
});
