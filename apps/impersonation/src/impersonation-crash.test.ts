import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { auditEventV1, impersonationV1, type ImpersonationServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { assertBothOrNeither, refused } from '@gatehouse/testing';
import { BACKENDS, backendEnv, startImpersonation, type ImpersonationHarness } from './test-support/harness.js';

const P = impersonationV1;
const A = auditEventV1.Action;
const O = auditEventV1.Outcome;
const WHY = 'Customer reports contacts missing after import (case 7001)';
const SPEC = { file: path.join(import.meta.dirname, 'service.ts'), exportName: 'impersonationService' };
const rand = () => randomBytes(3).toString('hex');

/** Every kill point of the critical use cases (issue 14 item 5): each write, then before and after the COMMIT. */
const CASES = [
  { useCase: 'StartImpersonation', points: ['start.window', 'start.grant', 'start.before-commit', 'start.after-commit'] },
  { useCase: 'ResolveAnomaly ACCEPT', points: ['resolve.anomaly', 'resolve.window', 'resolve.before-commit', 'resolve.after-commit'] },
  { useCase: 'ResolveAnomaly REJECT', points: ['resolve.anomaly', 'resolve.window', 'resolve.lock', 'resolve.revoke', 'resolve.before-commit', 'resolve.after-commit'] },
] as const;

/**
 * Issue 14 item 5 from outside: a replica in a child process on the service's own store dies by
 * SIGKILL at a point inside the unit of work of StartImpersonation or ResolveAnomaly. After
 * restart (an in-process replica on the same data ships what the outbox holds), the state change
 * and its audit event exist both or neither; any other combination fails the test.
 */
for (const backend of BACKENDS) {
  describe(`impersonation on ${backend}: a crash inside a unit of work leaves the state change and its event both or neither`, () => {
    let h: ImpersonationHarness;
    let cli: ImpersonationServiceClient;
    let skipped: string | undefined;
    const support = (accountId: string) => h.token({ roles: ['support'], accountId, email: `${accountId}@corp.example`, displayName: 'Sam Support' });
    const officer = () => h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'officer@corp.example' });
    const startOn = (client: ImpersonationServiceClient, bearer: string, customerDomain: string, targetUserId: string) =>
      call(
        client,
        client.startImpersonation,
        P.StartImpersonationRequest.fromPartial({ targetUserId, customerDomain, reason: P.ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE, justification: WHY, ticketRef: 'SUP-7001' }),
        { bearer },
      );
    const activeIn = async (customerDomain: string) => (await call(cli, cli.listActive, { customerDomain, pageSize: 0, pageToken: '' }, { bearer: officer() })).grants;
    const anomalyOf = async (accountId: string, anomalyId: string) =>
      (await call(cli, cli.listAnomalies, { accountId, states: [], pageSize: 0, pageToken: '' }, { bearer: officer() })).anomalies.find((a) => a.anomalyId === anomalyId);
    const outcomes = (action: auditEventV1.Action, match: (e: auditEventV1.AuditEvent) => boolean) => h.events.filter((e) => e.action === action && e.outcome === O.OUTCOME_SUCCESS && match(e));

    /** A fresh employee and domain with an open anomaly: three distinct users, the fourth fires the burst rule (on the in-process replica). */
    const withAnomaly = async (justified: boolean) => {
      const me = `acc-crash-${rand()}`;
      const domain = `crash-${rand()}.example`;
      for (const u of ['u-1', 'u-2', 'u-3']) await startOn(cli, support(me), domain, u);
      const fired = await refused(startOn(cli, support(me), domain, 'u-4'));
      const anomalyId = /anomaly (an_[A-Za-z0-9_-]{16})/.exec(fired.details)?.[1] ?? '';
      assert.ok(anomalyId, fired.details);
      if (justified) await call(cli, cli.justifyAnomaly, { anomalyId, justification: 'The customer asked us to check every imported user (SUP-7001)', ticketRefs: ['SUP-7001'] }, { bearer: support(me) });
      return { me, domain, anomalyId };
    };

    /** Runs `act` on a child replica armed at `point`; the call fails because the process died by SIGKILL there. Then the outbox is drained by the in-process replica. */
    const crashAt = async (point: string, act: (child: ImpersonationServiceClient) => Promise<unknown>) => {
      // The child runs on the wall clock: bring the harness clock (tokens, in-process replica) up to it.
      h.clock.set(Math.max(Date.now(), h.clock.now().getTime()));
      const child = await h.spawnReplica(SPEC, { GATEHOUSE_TEST_FAULT_POINT: `impersonation.${point}`, GATEHOUSE_LOG_LEVEL: 'silent' });
      try {
        const client = await child.client('cli');
        await refused(act(client));
        const { signal } = await child.exited;
        assert.equal(signal, 'SIGKILL', `the replica died at ${point}`);
        client.close();
      } finally {
        await child.kill();
      }
      await h.drainAudit();
    };

    const counts = { both: 0, neither: 0 };
    const tally = (useCase: string, point: string, state: boolean, event: boolean) => {
      counts[assertBothOrNeither({ useCase, point: `impersonation.${point}`, backend }, { state, event })] += 1;
    };

    before(async () => {
      const env = await backendEnv(backend, (why) => (skipped = why));
      if (!env) return;
      h = await startImpersonation(env);
      cli = await h.client('cli');
    });
    after(async () => {
      if (!skipped) console.log(`crash totals (${backend}): both ${counts.both}, neither ${counts.neither}`);
      await h?.stop();
    });
    const live = (t: { skip(msg?: string): void }) => {
      if (skipped) t.skip(skipped);
      return !skipped;
    };

    for (const point of CASES[0].points) {
      test(`StartImpersonation killed at ${point}`, async (t) => {
        if (!live(t)) return;
        const me = `acc-crash-${rand()}`;
        const domain = `crash-${rand()}.example`;
        await crashAt(point, (child) => startOn(child, support(me), domain, 'u-1'));
        const grants = await activeIn(domain);
        const started = outcomes(A.ACTION_IMPERSONATION_START, (e) => e.customerDomain === domain);
        assert.ok(grants.length <= 1 && started.length <= 1);
        if (started[0]) assert.equal(started[0].subject?.id, grants[0]?.grantId, 'the event names the grant that exists');
        // The confirmed intent reached audit before anything was written, whatever the point.
        assert.equal(h.events.filter((e) => e.customerDomain === domain && e.action === A.ACTION_IMPERSONATION_START && e.outcome === O.OUTCOME_ATTEMPTED).length, 1);
        tally('StartImpersonation', point, grants.length === 1, started.length === 1);
        // Either way the domain's count is consistent: the same employee may still start twice more (threshold 3).
        for (const u of ['u-2', 'u-3']) await startOn(cli, support(me), domain, u);
        const fourth = startOn(cli, support(me), domain, 'u-4');
        if (grants.length === 1) assert.match((await refused(fourth)).details, /impersonation\.burst fired/);
        else await fourth;
      });
    }

    for (const point of CASES[1].points) {
      test(`ResolveAnomaly ACCEPT killed at ${point}`, async (t) => {
        if (!live(t)) return;
        const { me, domain, anomalyId } = await withAnomaly(true);
        await crashAt(point, (child) => call(child, child.resolveAnomaly, { anomalyId, resolution: P.AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT, note: 'checked with the customer' }, { bearer: officer() }));
        const a = await anomalyOf(me, anomalyId);
        const accepted = a?.state === P.AnomalyState.ANOMALY_STATE_ACCEPTED;
        if (!accepted) assert.equal(a?.state, P.AnomalyState.ANOMALY_STATE_JUSTIFIED, 'unchanged');
        const decided = outcomes(A.ACTION_IMPERSONATION_ANOMALY_RESOLVE, (e) => e.subject?.id === anomalyId);
        // The window's block goes with the decision: lifted iff accepted.
        const standing = (await call(cli, cli.getImpersonationStatus, { accountId: me }, { bearer: officer() })).status;
        assert.deepEqual(standing?.blockedDomains.map((b) => b.customerDomain), accepted ? [] : [domain]);
        const next = startOn(cli, support(me), domain, 'u-5');
        if (accepted) await next;
        else assert.match((await refused(next)).details, /blocked by anomaly/);
        tally('ResolveAnomaly ACCEPT', point, accepted, decided.length === 1);
      });
    }

    for (const point of CASES[2].points) {
      test(`ResolveAnomaly REJECT killed at ${point}`, async (t) => {
        if (!live(t)) return;
        const { me, domain, anomalyId } = await withAnomaly(false);
        await crashAt(point, (child) => call(child, child.resolveAnomaly, { anomalyId, resolution: P.AnomalyResolution.ANOMALY_RESOLUTION_REJECT, note: 'not justified' }, { bearer: officer() }));
        const a = await anomalyOf(me, anomalyId);
        const rejected = a?.state === P.AnomalyState.ANOMALY_STATE_REJECTED;
        if (!rejected) assert.equal(a?.state, P.AnomalyState.ANOMALY_STATE_OPEN, 'unchanged');
        const decided = outcomes(A.ACTION_IMPERSONATION_ANOMALY_RESOLVE, (e) => e.subject?.id === anomalyId);
        // The lock and the revocations go with the decision, each with its event.
        const standing = (await call(cli, cli.getImpersonationStatus, { accountId: me }, { bearer: officer() })).status;
        assert.equal(standing?.locked, rejected, 'locked iff rejected');
        assert.equal(outcomes(A.ACTION_IMPERSONATION_LOCK, (e) => e.subject?.id === me).length, rejected ? 1 : 0, 'the lock event iff locked');
        const active = await activeIn(domain);
        assert.equal(active.length, rejected ? 0 : 3, 'the grants revoked iff rejected');
        assert.equal(outcomes(A.ACTION_IMPERSONATION_REVOKE, (e) => e.customerDomain === domain).length, rejected ? 3 : 0, 'one revoke event per revoked grant');
        tally('ResolveAnomaly REJECT', point, rejected, decided.length === 1);
      });
    }
  });
}
