import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { ClientIpResolver } from './client-ip.js';

const req = (peer: string, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

test('the browser IP is the TCP peer unless the peer is a configured proxy; then the entry that proxy appended', () => {
  const none = new ClientIpResolver([]);
  assert.equal(none.of(req('198.51.100.7', '10.0.0.1')), '198.51.100.7', 'nobody may choose the IP without a trusted proxy');
  assert.equal(none.of(req('::ffff:127.0.0.1')), '127.0.0.1', 'IPv4-mapped peers in canonical form');
  const proxied = new ClientIpResolver(['127.0.0.1/32', '10.1.0.0/16']);
  assert.equal(proxied.of(req('127.0.0.1', '203.0.113.9, 10.20.30.40')), '10.20.30.40', 'the last hop, the one the proxy added');
  assert.equal(proxied.of(req('10.1.2.3', 'not-an-ip')), '10.1.2.3', 'a malformed header falls back to the peer');
  assert.equal(proxied.of(req('192.0.2.1', '10.20.30.40')), '192.0.2.1', 'a peer outside the proxies cannot set it');
  assert.throws(() => new ClientIpResolver(['nonsense']), /GATEHOUSE_CONSOLE_TRUSTED_PROXIES/);
});
