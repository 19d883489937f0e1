import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnavailableError } from '@gatehouse/core';
import { DevSmsSink, HttpSmsGateway } from './http-sms-gateway.js';

const received: Array<{ auth: string | undefined; body: unknown }> = [];
let status = 200;
let server: http.Server;
let url = '';

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ auth: req.headers.authorization, body: JSON.parse(body) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('the HTTP gateway posts {to, text} with the bearer key to a real local server', async () => {
  await new HttpSmsGateway({ url, apiKey: 'k-123' }).send('+33612345678', 'Gatehouse sign-in code: 123456.');
  assert.deepEqual(received.at(-1), { auth: 'Bearer k-123', body: { to: '+33612345678', text: 'Gatehouse sign-in code: 123456.' } });
});

test('a refusal, an unreachable gateway or a bad number is UNAVAILABLE, and the error never holds the text', async () => {
  status = 503;
  await assert.rejects(new HttpSmsGateway({ url, apiKey: 'k' }).send('+33612345678', 'code 987654'), (e: unknown) => {
    assert.ok(e instanceof UnavailableError);
    assert.match((e as Error).message, /HTTP 503/);
    assert.doesNotMatch((e as Error).message, /987654/);
    return true;
  });
  status = 200;
  await assert.rejects(new HttpSmsGateway({ url: 'http://127.0.0.1:9/sms', apiKey: 'k', timeoutMs: 1000 }).send('+33612345678', 'x'), UnavailableError);
  await assert.rejects(new HttpSmsGateway({ url, apiKey: 'k' }).send('0612345678', 'x'), /E\.164/);
  assert.throws(() => new HttpSmsGateway({ url: 'http://sms.example/send', apiKey: 'k' }), /must be https/);
});

test('the dev sink hands the message to the dev stack', async () => {
  const got: string[] = [];
  await new DevSmsSink((to, text) => got.push(`${to} ${text}`)).send('+33600000000', 'code 111111');
  assert.deepEqual(got, ['+33600000000 code 111111']);
});
