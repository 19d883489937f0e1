import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { clientIpOf, peerIpOf, relayedClientIpOf, CLIENT_IP_HEADER } from './context.js';

function ctx(kind: 'backend' | 'operator' | 'service' | undefined, name: string, header?: string[], forwardedFor?: string[]) {
  const metadata = new grpc.Metadata();
  for (const h of header ?? []) metadata.add(CLIENT_IP_HEADER, h);
  for (const h of forwardedFor ?? []) metadata.add('x-forwarded-for', h);
  return { peerIp: '10.0.0.5', caller: kind ? { kind, name } : undefined, metadata } as Parameters<typeof clientIpOf>[0];
}

test('peer strings of every grpc-js form give the bare IP, IPv4-mapped folded to IPv4', () => {
  assert.equal(peerIpOf('ipv4:203.0.113.7:51234'), '203.0.113.7');
  assert.equal(peerIpOf('ipv6:[2001:db8::1]:443'), '2001:db8::1');
  assert.equal(peerIpOf('[::ffff:198.51.100.2]:80'), '198.51.100.2');
});

test('only a trusted backend may name the client IP, with exactly one well-formed value', () => {
  assert.equal(clientIpOf(ctx('backend', 'web', ['203.0.113.9']), ['web']), '203.0.113.9');
  assert.equal(clientIpOf(ctx('backend', 'web', ['2001:db8::9']), ['web']), '2001:db8::9');
  assert.equal(clientIpOf(ctx('backend', 'web', ['::ffff:203.0.113.9']), ['web']), '203.0.113.9');
  // Untrusted callers, operators and plaintext callers keep their peer IP whatever they send.
  assert.equal(clientIpOf(ctx('backend', 'other', ['203.0.113.9']), ['web']), '10.0.0.5');
  assert.equal(clientIpOf(ctx('operator', 'web', ['203.0.113.9']), ['web']), '10.0.0.5');
  assert.equal(clientIpOf(ctx(undefined, 'web', ['203.0.113.9']), ['web']), '10.0.0.5');
  // Malformed, ambiguous or absent values fall back to the peer.
  for (const bad of [['1.2.3'], ['203.0.113.9, 10.0.0.1'], ['203.0.113.9', '198.51.100.1'], ['$ne'], [' 203.0.113.9'], []]) {
    assert.equal(clientIpOf(ctx('backend', 'web', bad), ['web']), '10.0.0.5', JSON.stringify(bad));
  }
});

test('x-forwarded-for counts only from a trusted proxy, and only its right-most address', () => {
  assert.equal(clientIpOf(ctx('backend', 'web', [], ['203.0.113.9']), ['web']), '203.0.113.9');
  // A client-supplied left part ("1.1.1.1") is spoofable; the proxy appended the real peer on the right.
  assert.equal(clientIpOf(ctx('backend', 'web', [], ['1.1.1.1, 203.0.113.9']), ['web']), '203.0.113.9');
  assert.equal(clientIpOf(ctx('backend', 'web', [], ['1.1.1.1', '203.0.113.10']), ['web']), '203.0.113.10');
  assert.equal(clientIpOf(ctx('backend', 'other', [], ['203.0.113.9']), ['web']), '10.0.0.5', 'untrusted peer: ignored');
  assert.equal(clientIpOf(ctx('backend', 'web', [], ['203.0.113.9, garbage']), ['web']), '10.0.0.5', 'malformed: the peer');
});

test('a client IP in a request field counts only from a trusted proxy or a Gatehouse service (issue 13 item 3)', () => {
  assert.equal(relayedClientIpOf(ctx('backend', 'web'), ['web'], '203.0.113.9'), '203.0.113.9');
  assert.equal(relayedClientIpOf(ctx('service', 'secrets'), ['web'], '203.0.113.9'), '203.0.113.9');
  // Operators, other backends and plaintext callers get their peer IP, whatever the field says.
  assert.equal(relayedClientIpOf(ctx('operator', 'web'), ['web'], '203.0.113.9'), '10.0.0.5');
  assert.equal(relayedClientIpOf(ctx('backend', 'other', ['203.0.113.9']), ['web'], '203.0.113.9'), '10.0.0.5');
  assert.equal(relayedClientIpOf(ctx(undefined, 'web'), ['web'], '203.0.113.9'), '10.0.0.5');
  // An empty field: the IP the headers of a trusted proxy name, else the peer.
  assert.equal(relayedClientIpOf(ctx('backend', 'web', ['198.51.100.1']), ['web'], ''), '198.51.100.1');
  assert.equal(relayedClientIpOf(ctx('backend', 'web'), ['web'], undefined), '10.0.0.5');
});
