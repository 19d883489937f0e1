import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '@gatehouse/core';
import type { TransportSecurity } from '@gatehouse/service-kit';
import { ensurePki, loadTlsMaterial } from '@gatehouse/pki';
import { backendEnv, scrapeMetric, startAuditDouble } from '@gatehouse/testing';
import { auditEventV1 } from '@gatehouse/contracts';
import type { AuditEmitter } from '@gatehouse/audit-client';
import { runService } from './run-service.js';
import { auditShippingSpec as spec } from './test-support/audit-shipping-spec.js';
import { RELAY_METRICS } from './relay-metrics.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * Issue 15 item 7: the outbox depth and relay lag an operator alerts on, read from a real
 * service's /metrics port while audit refuses Append, then after audit is back.
 */
async function depthAndLag(t: { diagnostic(msg: string): void }, backend: { env: Record<string, string>; security: (svc: string) => Promise<TransportSecurity> }) {
  const clock = new ManualClock(Date.now());
  const auditDouble = await startAuditDouble({ security: await backend.security('audit'), service: 'identity', clock });
  auditDouble.fail(true);
  let emitter: AuditEmitter | undefined;
  const hosted = await runService(
    spec('identity', (a) => (emitter = a)),
    {
      clock,
      env: { ...backend.env, GATEHOUSE_PORT: '0', GATEHOUSE_METRICS_PORT: '0', GATEHOUSE_AUDIT_ADDR: `127.0.0.1:${auditDouble.server.port}`, GATEHOUSE_LOG_LEVEL: 'silent' },
    },
  );
  try {
    const port = hosted.server.metricsPort!;
    assert.equal(await scrapeMetric(port, RELAY_METRICS.outboxDepth), 0, 'an empty outbox has depth 0');
    assert.equal(await scrapeMetric(port, RELAY_METRICS.relayLag), 0, 'an empty outbox has no lag');

    await hosted.store.store.run(async (tx) =>
      emitter!.record(tx as never, {
        service: auditEventV1.Service.SERVICE_IDENTITY,
        action: auditEventV1.Action.ACTION_IDENTITY_ACCOUNT_REQUEST,
        outcome: auditEventV1.Outcome.OUTCOME_SUCCESS,
        actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_ANONYMOUS, id: '', displayName: '' },
      }),
    );
    clock.advance(7_000);
    assert.equal(await scrapeMetric(port, RELAY_METRICS.outboxDepth), 1, 'the event audit refused waits in the outbox');
    assert.equal(await scrapeMetric(port, RELAY_METRICS.relayLag), 7, 'the lag is the age of the oldest unacknowledged event');

    auditDouble.fail(false);
    const deadline = Date.now() + 10_000;
    let depth: number | undefined;
    while (Date.now() < deadline) {
      hosted.relay?.nudge();
      depth = await scrapeMetric(port, RELAY_METRICS.outboxDepth);
      if (depth === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(depth, 0, 'once audit acknowledges, the outbox is empty');
    assert.equal(await scrapeMetric(port, RELAY_METRICS.relayLag), 0, 'and the lag is back to 0');
    assert.equal(auditDouble.events.length, 1, 'audit holds the event');
    t.diagnostic(`${backend.env['GATEHOUSE_STORE']}: depth 1 and lag 7 s while audit refused; 0 and 0 after it acknowledged`);
  } finally {
    await hosted.shutdown('test');
    await auditDouble.stop();
  }
}

describe('outbox depth and relay lag on /metrics (issue 15 item 7)', () => {
  test('SQLite + mTLS', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-metrics-'));
    dirs.push(dir);
    const pki = path.join(dir, 'pki');
    await ensurePki(pki, { services: ['identity', 'audit'], clients: [] });
    await depthAndLag(t, {
      env: { GATEHOUSE_STORE: 'sqlite', GATEHOUSE_DATA_DIR: path.join(dir, 'data'), GATEHOUSE_TLS_DIR: pki },
      security: async (svc) => ({ mode: 'mtls', material: await loadTlsMaterial(pki, svc) }),
    });
  });

  test('MongoDB', async (t) => {
    const store = await backendEnv('relay_metrics', 'mongodb', (why) => t.skip(why));
    if (!store) return;
    await depthAndLag(t, {
      env: { ...store, GATEHOUSE_INSECURE_PLAINTEXT: 'true' },
      security: async () => ({ mode: 'insecure-loopback' }),
    });
  });
});
