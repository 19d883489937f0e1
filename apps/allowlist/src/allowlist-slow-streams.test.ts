import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { allowlistV1 as A, commonV1 } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { startAllowlist, type AllowlistHarness } from './test-support/harness.js';

const CONNECTIONS = 30;
const STREAMS_PER_CONNECTION = 20;
const CAP = 20;

/**
 * Issue 17 item 4 from outside: a client without a certificate (from 127.0.0.2) opens 30 TLS
 * connections with 20 header-only streams each, sending no request message. Connections past
 * the per-IP cap are closed at once, every stream that got through is ended when its request
 * does not arrive in time, memory stays bounded, and a backend on another address is served
 * throughout.
 */
describe('allowlist: streams whose request never arrives', () => {
  let h: AllowlistHarness;
  before(async () => {
    h = await startAllowlist({ GATEHOUSE_REQUEST_ARRIVAL_MS: '500', GATEHOUSE_MAX_CONNECTIONS_PER_IP: String(CAP) });
  });
  after(() => h?.stop());

  test('header-only streams are ended, connections are capped per IP, and others are still served', async () => {
    const port = h.replicas[0]!.server.port;
    const ca = fs.readFileSync(path.join(h.env['GATEHOUSE_TLS_DIR'] ?? '', 'ca.pem'));
    const rssBefore = process.memoryUsage().rss;
    const sessions: http2.ClientHttp2Session[] = [];
    const streams: Array<{ closed: boolean; status?: string }> = [];
    let refusedConnections = 0;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        const session = http2.connect(`https://127.0.0.1:${port}`, {
          createConnection: () =>
            tls.connect({ socket: net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }), ca, ALPNProtocols: ['h2'], servername: 'allowlist', rejectUnauthorized: false }),
        });
        sessions.push(session);
        session.on('error', () => undefined);
        const up = await new Promise<boolean>((resolve) => {
          session.once('connect', () => resolve(true));
          session.once('close', () => resolve(false));
          session.once('error', () => resolve(false));
        });
        if (!up) {
          refusedConnections++;
          return;
        }
        for (let i = 0; i < STREAMS_PER_CONNECTION; i++) {
          const s = { closed: false } as { closed: boolean; status?: string };
          streams.push(s);
          const req = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false });
          req.on('response', (hd) => (s.status ??= String(hd['grpc-status'] ?? '')));
          req.on('trailers', (tr) => (s.status = String(tr['grpc-status'] ?? s.status ?? '')));
          req.on('error', () => undefined);
          req.on('close', () => (s.closed = true));
          req.resume();
        }
      }),
    );
    // Meanwhile a backend on 127.0.0.1 calls Check and is served.
    const web = await h.client('web');
    const served = await call(web, web.check, A.CheckRequest.fromPartial({ ip: '203.0.113.7', environment: commonV1.Environment.ENVIRONMENT_STAGING }));
    assert.equal(served.canonicalIp, '203.0.113.7');

    const openAt = (ms: number) => sleep(ms).then(() => streams.filter((s) => !s.closed).length);
    const openAfter2s = await openAt(2000);
    const rssAfter = process.memoryUsage().rss;
    console.log(
      `slow streams: ${CONNECTIONS} connections tried, ${refusedConnections} refused (cap ${CAP} per IP), ${streams.length} header-only streams opened, ` +
        `${openAfter2s} still open 2 s later; rss ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssAfter / 2 ** 20).toFixed(1)} MiB`,
    );
    assert.ok(refusedConnections >= CONNECTIONS - CAP, `connections past the cap are refused (${refusedConnections})`);
    assert.ok(streams.length <= CAP * STREAMS_PER_CONNECTION);
    assert.equal(openAfter2s, 0, 'every stream whose request never came was ended');
    assert.ok(streams.every((s) => s.status === '4'), `each ended with DEADLINE_EXCEEDED (${[...new Set(streams.map((s) => s.status))].join(',')})`);
    assert.ok(rssAfter - rssBefore < 64 * 2 ** 20, 'memory stays bounded');
    for (const s of sessions) s.destroy();
    const again = await call(web, web.check, A.CheckRequest.fromPartial({ ip: '203.0.113.8', environment: commonV1.Environment.ENVIRONMENT_STAGING }));
    assert.equal(again.canonicalIp, '203.0.113.8', 'still served afterwards');
  });
});
