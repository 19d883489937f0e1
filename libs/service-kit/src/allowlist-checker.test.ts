// allowlistChecker against a real grpc-js server on loopback port 0: ALLOW for either environment, DENY for both, no answer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowlistServiceClient, AllowlistServiceService, allowlistV1, commonV1 } from '@gatehouse/contracts';
import { UnavailableError } from '@gatehouse/core';
import { allowlistChecker } from './allowlist-checker.js';
import { dial } from './client.js';
import { unary } from './handler.js';
import { createLogger } from './logger.js';
import { callers, sameRuleForAll } from './policy.js';
import { startServer, type RunningServer } from './server.js';

const { ENVIRONMENT_STAGING: STAGING, ENVIRONMENT_LIVE: LIVE } = commonV1.Environment;
const { CHECK_DECISION_ALLOW: ALLOW, CHECK_DECISION_DENY: DENY } = allowlistV1.CheckDecision;

/** Which (ip, environment) pairs the fake allowlist allows; everything else is DENY. */
const allowed = new Set<string>();
/** Every Check the fake received, in order. */
const asked: Array<{ ip: string; accountId: string | undefined; environment: commonV1.Environment }> = [];
let failWith: Error | undefined;

function startAllowlist(port = 0): Promise<RunningServer> {
  return startServer({
    service: 'allowlist',
    version: 'test',
    host: '127.0.0.1',
    port,
    security: { mode: 'insecure-loopback' },
    descriptorSet: Buffer.alloc(0),
    log: createLogger({ service: 'allowlist', level: 'silent' }),
    services: [
      {
        name: 'gatehouse.allowlist.v1.AllowlistService',
        definition: AllowlistServiceService,
        policy: sameRuleForAll(AllowlistServiceService, callers.anyAuthenticated),
        handlers: {
          Check: unary<allowlistV1.CheckRequest, allowlistV1.CheckResponse>(async (req) => {
            asked.push({ ip: req.ip, accountId: req.accountId, environment: req.environment });
            if (failWith) throw failWith;
            return allowlistV1.CheckResponse.fromPartial({ decision: allowed.has(`${req.ip}/${req.environment}`) ? ALLOW : DENY, canonicalIp: req.ip });
          }),
        },
      },
    ],
  });
}

describe('allowlistChecker', () => {
  let server: RunningServer;
  let client: AllowlistServiceClient;

  before(async () => {
    server = await startAllowlist();
    client = dial(AllowlistServiceClient, server.address, { mode: 'insecure-loopback' });
  });
  after(async () => {
    client.close();
    await server.shutdown();
  });

  const reset = () => {
    allowed.clear();
    asked.length = 0;
    failWith = undefined;
  };

  test('ALLOW for LIVE only: allowlisted, after asking STAGING first', async () => {
    reset();
    allowed.add(`192.0.2.7/${LIVE}`);
    assert.equal(await allowlistChecker(client).isAllowlisted('192.0.2.7', 'acc-1'), true);
    assert.deepEqual(asked, [
      { ip: '192.0.2.7', accountId: 'acc-1', environment: STAGING },
      { ip: '192.0.2.7', accountId: 'acc-1', environment: LIVE },
    ]);
  });

  test('ALLOW for STAGING: allowlisted without asking for LIVE', async () => {
    reset();
    allowed.add(`192.0.2.8/${STAGING}`);
    assert.equal(await allowlistChecker(client).isAllowlisted('192.0.2.8', 'acc-1'), true);
    assert.deepEqual(
      asked.map((a) => a.environment),
      [STAGING],
    );
  });

  test('DENY for both environments: not allowlisted', async () => {
    reset();
    allowed.add(`192.0.2.9/${LIVE}`);
    assert.equal(await allowlistChecker(client).isAllowlisted('192.0.2.10', 'acc-1'), false);
    assert.equal(asked.length, 2);
  });

  test('an allowlist that answers with an error is UnavailableError naming only the status, never a grant', async () => {
    reset();
    allowed.add(`192.0.2.11/${LIVE}`);
    failWith = new Error('db password=hunter2 rejected');
    const err = await allowlistChecker(client).isAllowlisted('192.0.2.11', 'acc-1').catch((e: unknown) => e);
    assert.ok(err instanceof UnavailableError, String(err));
    assert.equal(err.kind, 'unavailable');
    assert.equal(err.message, 'allowlist: the allowlist could not answer (INTERNAL)');
    assert.ok(err.cause instanceof Error, 'the gRPC error is kept as the cause, for logs');
  });

  test('an allowlist that is down is UnavailableError within the deadline', async () => {
    const down = await startAllowlist();
    const address = down.address;
    await down.shutdown();
    const unreachable = dial(AllowlistServiceClient, address, { mode: 'insecure-loopback' });
    try {
      const started = Date.now();
      const err = await allowlistChecker(unreachable, { deadlineMs: 500 })
        .isAllowlisted('192.0.2.12', 'acc-1')
        .catch((e: unknown) => e);
      assert.ok(err instanceof UnavailableError, String(err));
      assert.match(err.message, /^allowlist: the allowlist could not answer \((UNAVAILABLE|DEADLINE_EXCEEDED)\)$/);
      assert.ok(Date.now() - started < 5_000);
    } finally {
      unreachable.close();
    }
  });
});
