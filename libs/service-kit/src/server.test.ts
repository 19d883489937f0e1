import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { FailedPreconditionError } from '@gatehouse/core';
import { createCa, issueCertificate } from '@gatehouse/pki';
import { createLogger } from './logger.js';
import { startServer, type RunningServer, type ServiceBinding, type TransportSecurity } from './server.js';
import { serverStream, unary } from './handler.js';
import { callers } from './policy.js';
import { call, dial, stream, type ClientSecurity } from './client.js';
import { EchoClient, echoServiceDefinition, type EchoRequest, type EchoResponse } from './test-service.js';
import { RETRY_AFTER_HEADER } from './status.js';

/** Captures log lines so tests can assert what was (and was not) logged. */
function captureLog() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, log: createLogger({ service: 'test', level: 'info', destination }) };
}

const descriptorSet = Buffer.alloc(0);
/** What handlers saw of their call's abort signal after a client cancel. */
const seenAborts: string[] = [];

function binding(overrides: Partial<ServiceBinding> = {}): ServiceBinding {
  return {
    name: 'gatehouse.test.v1.EchoService',
    definition: echoServiceDefinition,
    policy: { Echo: callers.anyAuthenticated, Admin: callers.operators, Ticks: callers.anyAuthenticated },
    handlers: {
      Echo: unary<EchoRequest, EchoResponse>(async (req, ctx) => {
        if (req.fail === 'late-signal') {
          // Looks at the signal only after the client cancelled: it must already be aborted.
          await sleep(req.delayMs ?? 0);
          seenAborts.push(`late:${String(ctx.signal.aborted)}:${(ctx.signal.reason as Error | undefined)?.message ?? ''}`);
          return { text: 'late' };
        }
        if (req.delayMs) {
          await sleep(req.delayMs, undefined, { signal: ctx.signal }).catch((err: unknown) => {
            seenAborts.push(`early:${(ctx.signal.reason as Error | undefined)?.message ?? ''}`);
            throw err;
          });
        }
        if (req.fail === 'domain') throw new FailedPreconditionError('the vault is sealed');
        if (req.fail === 'internal') throw new Error('db password=hunter2 rejected at 10.0.0.5');
        return { text: req.text, caller: ctx.caller?.name, peerIp: ctx.peerIp, requestId: ctx.requestId };
      }),
      Admin: unary<EchoRequest, EchoResponse>(async (req) => ({ text: `admin:${req.text}` })),
      Ticks: serverStream<EchoRequest, EchoResponse>(async (req, ctx, send) => {
        for (let i = 0; i < (req.count ?? 1_000_000); i++) {
          await send({ text: String(i) });
          await sleep(5, undefined, { signal: ctx.signal });
        }
      }),
    },
    ...overrides,
  };
}

type Echo = InstanceType<typeof EchoClient>;

describe('service kit over mTLS', () => {
  let server: RunningServer;
  let backend: Echo;
  let operator: Echo;
  let noCert: Echo;
  let foreign: Echo;
  const { lines, log } = captureLog();

  before(async () => {
    const ca = await createCa();
    const otherCa = await createCa({ commonName: 'Evil CA' });
    const svc = await issueCertificate(ca, { name: 'echo', kind: 'service' });
    const be = await issueCertificate(ca, { name: 'contacts-api', kind: 'backend' });
    const op = await issueCertificate(ca, { name: 'alice', kind: 'operator' });
    const evil = await issueCertificate(otherCa, { name: 'contacts-api', kind: 'operator' });
    const mat = (c: { certPem: string; keyPem: string }) => ({
      ca: Buffer.from(ca.certPem),
      cert: Buffer.from(c.certPem),
      key: Buffer.from(c.keyPem),
    });
    const security: TransportSecurity = { mode: 'mtls', material: mat(svc) };
    server = await startServer({
      service: 'echo',
      version: '9.9.9-test',
      host: '127.0.0.1',
      port: 0,
      metricsPort: 0,
      security,
      services: [binding()],
      descriptorSet,
      log,
      limits: { deadlineCapMs: 300, shutdownGraceMs: 2_000 },
      rateLimits: { methods: { Admin: { perCaller: { ratePerSec: 1, burst: 5 } } } },
    });
    const client = (s: ClientSecurity) => dial(EchoClient, server.address, s);
    backend = client({ mode: 'mtls', material: mat(be) });
    operator = client({ mode: 'mtls', material: mat(op) });
    noCert = client({ mode: 'mtls', material: { ca: Buffer.from(ca.certPem) } });
    // Built by hand: the pki helpers refuse to pair a certificate with a CA that did not issue it.
    foreign = new EchoClient(
      server.address,
      grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(evil.keyPem), Buffer.from(evil.certPem)),
    );
  });

  after(async () => {
    for (const c of [backend, operator, noCert, foreign]) c?.close();
    await server?.shutdown('test over');
  });

  test('an authenticated backend gets an answer with its identity, peer IP and request id', async () => {
    const res = await call(backend, backend.echo, { text: 'hi' });
    assert.equal(res.text, 'hi');
    assert.equal(res.caller, 'contacts-api');
    assert.equal(res.peerIp, '127.0.0.1');
    assert.match(res.requestId ?? '', /^[0-9a-f-]{36}$/);
  });

  test('no client certificate → UNAUTHENTICATED naming the problem', async () => {
    await assert.rejects(call(noCert, noCert.echo, { text: 'hi' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      assert.match(err.details, /client certificate issued by the Gatehouse CA is required/);
      return true;
    });
  });

  test('a certificate from another CA → UNAUTHENTICATED', async () => {
    await assert.rejects(call(foreign, foreign.echo, { text: 'hi' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      return true;
    });
  });

  test('a caller not allowed on a method → PERMISSION_DENIED; an allowed one passes', async () => {
    await assert.rejects(call(backend, backend.admin, { text: 'x' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.match(err.details, /backend:contacts-api is not allowed to call gatehouse\.test\.v1\.EchoService\/Admin/);
      return true;
    });
    const ok = await call(operator, operator.admin, { text: 'x' });
    assert.equal(ok.text, 'admin:x');
  });

  test('domain errors map to their status with their message', async () => {
    await assert.rejects(call(backend, backend.echo, { text: 'x', fail: 'domain' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
      assert.equal(err.details, 'the vault is sealed');
      return true;
    });
  });

  test('unknown errors become INTERNAL: cause logged, never sent', async () => {
    await assert.rejects(call(backend, backend.echo, { text: 'x', fail: 'internal' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INTERNAL);
      assert.match(err.details, /^internal error \(request id [0-9a-f-]{36}\)$/);
      assert.doesNotMatch(err.details, /hunter2/);
      return true;
    });
    assert.ok(lines.some((l) => l.includes('unhandled error in handler') && l.includes('hunter2')), 'cause is in the log');
  });

  test('the server caps deadlines: a slow call ends DEADLINE_EXCEEDED at the cap even with a long client deadline', async () => {
    const t0 = Date.now();
    await assert.rejects(call(backend, backend.echo, { text: 'x', delayMs: 5_000 }, { deadlineMs: 60_000 }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
      assert.match(err.details, /server deadline cap of 300 ms exceeded/);
      return true;
    });
    assert.ok(Date.now() - t0 < 4_000, 'answered at the cap, not after the handler');
  });

  test('a burst beyond the bucket gets RESOURCE_EXHAUSTED with a retry hint', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        new Promise<grpc.Metadata | 'ok'>((resolve, reject) => {
          operator.admin({ text: 'b' }, new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (err) => {
            if (err) reject(err);
            else resolve('ok');
          });
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const limited = results.filter(
      (r) => r.status === 'rejected' && (r.reason as grpc.ServiceError).code === grpc.status.RESOURCE_EXHAUSTED,
    ) as PromiseRejectedResult[];
    // The earlier policy test used one token of the same bucket.
    assert.ok(ok <= 5 && ok >= 3, `at most the burst passes (got ${ok})`);
    assert.equal(ok + limited.length, 20);
    const first = limited[0]?.reason as grpc.ServiceError;
    assert.match(first.details, /rate limit exceeded for this caller; retry after \d+ ms/);
    const hint = Number(first.metadata.get(RETRY_AFTER_HEADER)[0]);
    assert.ok(hint > 0 && hint <= 1_000, `retry hint ${hint} ms`);
  });

  test('responses carry the service version header', async () => {
    const version = await new Promise<string>((resolve, reject) => {
      const c = backend.echo({ text: 'v' }, new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (err) => err && reject(err));
      c.on('metadata', (md) => resolve(String(md.get('gatehouse-version')[0])));
    });
    assert.equal(version, '9.9.9-test');
  });

  test('server streams deliver messages and end when the client cancels', async () => {
    const s = stream(backend, backend.ticks, { text: '', count: 3 });
    const got: string[] = [];
    for await (const m of s as AsyncIterable<EchoResponse>) got.push(m.text);
    assert.deepEqual(got, ['0', '1', '2']);
  });

  test('a client cancel aborts the handler\'s signal, whether it was taken before or after the cancel; a finished call is never aborted', async () => {
    seenAborts.length = 0;
    const cancelAfter = async (req: EchoRequest) => {
      const c = backend.echo(req, new grpc.Metadata(), {}, () => undefined);
      await sleep(100);
      c.cancel();
    };
    await cancelAfter({ text: 'x', delayMs: 5_000 });
    await cancelAfter({ text: 'x', fail: 'late-signal', delayMs: 300 });
    await call(backend, backend.echo, { text: 'done' });
    await sleep(400);
    assert.deepEqual(seenAborts.sort(), ['early:Echo: cancelled by the client', 'late:true:Echo: cancelled by the client']);
  });

  test('per-RPC metrics are exposed on the side port', async () => {
    const res = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
    const body = await res.text();
    assert.match(body, /gatehouse_rpc_requests_total\{[^}]*method="Echo"[^}]*code="OK"[^}]*\} \d+/);
    assert.match(body, /gatehouse_rpc_requests_total\{[^}]*method="Admin"[^}]*code="PERMISSION_DENIED"/);
    assert.match(body, /gatehouse_rpc_duration_seconds_bucket/);
    assert.match(body, /gatehouse_rpc_rate_limited_total/);
  });
});

describe('startup refuses unsafe configurations', () => {
  const { log } = captureLog();
  test('an RPC without a caller rule stops the start', async () => {
    await assert.rejects(
      startServer({
        service: 'echo',
        version: 't',
        host: '127.0.0.1',
        port: 0,
        security: { mode: 'insecure-loopback' },
        services: [binding({ policy: { Echo: callers.anyAuthenticated, Ticks: callers.anyAuthenticated } })],
        descriptorSet,
        log,
      }),
      /EchoService\/Admin has no caller rule/,
    );
  });
  test('plaintext on a non-loopback address is refused', async () => {
    await assert.rejects(
      startServer({
        service: 'echo',
        version: 't',
        host: '0.0.0.0',
        port: 0,
        security: { mode: 'insecure-loopback' },
        services: [binding()],
        descriptorSet,
        log,
      }),
      /plaintext is allowed only on loopback/,
    );
  });
});

describe('graceful shutdown', () => {
  test('drains an in-flight call, ends streams with UNAVAILABLE, then refuses new calls', async () => {
    const { log } = captureLog();
    const server = await startServer({
      service: 'echo',
      version: 't',
      host: '127.0.0.1',
      port: 0,
      security: { mode: 'insecure-loopback' },
      services: [binding()],
      descriptorSet,
      log,
      limits: { deadlineCapMs: 5_000, shutdownGraceMs: 5_000 },
    });
    const client = dial(EchoClient, server.address, { mode: 'insecure-loopback' });
    const inflight = call(client, client.echo, { text: 'slow', delayMs: 400 });
    const ticks = stream(client, client.ticks, { text: '' });
    const streamEnd = new Promise<grpc.ServiceError>((resolve) => {
      ticks.on('data', () => undefined);
      ticks.on('error', (e: grpc.ServiceError) => resolve(e));
    });
    await sleep(100);
    const t0 = Date.now();
    const stopped = server.shutdown('test');
    const res = await inflight;
    assert.equal(res.text, 'slow', 'the in-flight call completed normally');
    const streamErr = await streamEnd;
    assert.equal(streamErr.code, grpc.status.UNAVAILABLE);
    assert.match(streamErr.details, /shutting down/);
    await stopped;
    assert.ok(Date.now() - t0 >= 250, 'shutdown waited for the in-flight call');
    await assert.rejects(call(client, client.echo, { text: 'late' }, { deadlineMs: 1_000 }), (err: grpc.ServiceError) => {
      assert.ok([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(err.code));
      return true;
    });
    client.close();
  });
});
