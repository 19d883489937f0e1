import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, impersonationV1, type ImpersonationServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { answeredTooLate, refused } from '@gatehouse/testing';
import { BACKENDS, backendEnv, startImpersonation, type ImpersonationHarness } from './test-support/harness.js';

const P = impersonationV1;
const A = auditEventV1.Action;
const O = auditEventV1.Outcome;
const WHY = 'Customer reports contacts missing after import (case 4411)';
const domainName = (base: string) => `${base}-${randomBytes(3).toString('hex')}.example`;
const account = (base: string) => `acc-${base}-${randomBytes(3).toString('hex')}`;

/**
 * Issue 13 item 6 from outside: the real impersonation service over mTLS, with an audit double
 * that answers Append only after the confirm timeout (and then stores the event), as a
 * SIGSTOPped audit does once it is continued.
 */
for (const backend of BACKENDS) {
  describe(`impersonation on ${backend}: a critical action audit confirmed too late is never logged as done`, () => {
    let h: ImpersonationHarness;
    let cli: ImpersonationServiceClient;
    let skipped: string | undefined;
    const support = (accountId: string) => h.token({ roles: ['support'], accountId, email: `${accountId}@corp.example`, displayName: 'Sam Support' });
    const officer = () => h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'officer@corp.example' });
    const start = (bearer: string, customerDomain: string, targetUserId: string) =>
      call(
        cli,
        cli.startImpersonation,
        P.StartImpersonationRequest.fromPartial({ targetUserId, customerDomain, reason: P.ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE, justification: WHY, ticketRef: 'SUP-4411' }),
        { bearer },
      );
    const inDomain = (domain: string, action: auditEventV1.Action) => h.events.filter((e) => e.customerDomain === domain && e.action === action);

    /** Audit holds the Append past the confirm timeout, then answers (and stores it). */
    const lateAnswer = (fn: () => Promise<unknown>, landed: () => boolean) => answeredTooLate((on) => h.audit.hang(on), () => h.drainAudit(), fn, landed);

    before(async () => {
      const env = await backendEnv(backend, (why) => (skipped = why));
      if (!env) return;
      h = await startImpersonation(env);
      cli = await h.client('cli');
    });
    after(async () => {
      await h?.stop();
    });
    const live = (t: { skip(msg?: string): void }) => {
      if (skipped) t.skip(skipped);
      return !skipped;
    };

    test('item 6: StartImpersonation confirmed too late makes no grant, and the log holds only the attempted intent; the normal start logs intent then success', async (t) => {
      if (!live(t)) return;
      const me = account('late');
      const domain = domainName('late');
      const late = await lateAnswer(() => start(support(me), domain, 'user-1'), () => inDomain(domain, A.ACTION_IMPERSONATION_START).length > 0);
      assert.equal(late.code, grpc.status.UNAVAILABLE);
      assert.match(late.details, /audit/);
      const active = (await call(cli, cli.listActive, { customerDomain: domain, pageSize: 100, pageToken: '' }, { bearer: officer() })).grants;
      assert.equal(active.length, 0, 'no grant was made');
      const starts = inDomain(domain, A.ACTION_IMPERSONATION_START);
      assert.ok(starts.length > 0, 'the late Append landed');
      assert.deepEqual(starts.filter((e) => e.outcome === O.OUTCOME_SUCCESS).map((e) => e.subject?.id), [], 'nothing claims a grant started');
      assert.ok(starts.some((e) => e.outcome === O.OUTCOME_ATTEMPTED));

      const ok = await start(support(me), domain, 'user-2');
      await h.drainAudit();
      const done = inDomain(domain, A.ACTION_IMPERSONATION_START).filter((e) => e.outcome === O.OUTCOME_SUCCESS);
      assert.deepEqual(done.map((e) => e.subject?.id), [ok.grant?.grantId]);
      const intent = h.events.find((e) => e.eventId === done[0]!.intentEventId);
      assert.equal(intent?.outcome, O.OUTCOME_ATTEMPTED, 'the success names its confirmed intent');
      assert.ok(h.events.indexOf(intent) < h.events.indexOf(done[0]!));
    });

    test('item 6: ResolveAnomaly confirmed too late leaves the anomaly unresolved, and the log says attempted', async (t) => {
      if (!live(t)) return;
      const me = account('burst');
      const domain = domainName('burst');
      for (const u of ['u-1', 'u-2', 'u-3']) await start(support(me), domain, u);
      const fired = await refused(start(support(me), domain, 'u-4'));
      const anomalyId = /anomaly (an_[A-Za-z0-9_-]{16})/.exec(fired.details)?.[1] ?? '';
      assert.ok(anomalyId, fired.details);
      const resolves = () => h.events.filter((e) => e.action === A.ACTION_IMPERSONATION_ANOMALY_RESOLVE && e.subject?.id === anomalyId);
      const late = await lateAnswer(
        () => call(cli, cli.resolveAnomaly, { anomalyId, resolution: P.AnomalyResolution.ANOMALY_RESOLUTION_REJECT, note: 'not justified' }, { bearer: officer() }),
        () => resolves().length > 0,
      );
      assert.equal(late.code, grpc.status.UNAVAILABLE);
      const listed = (await call(cli, cli.listAnomalies, { accountId: me, states: [], pageSize: 0, pageToken: '' }, { bearer: officer() })).anomalies;
      assert.equal(listed.find((a) => a.anomalyId === anomalyId)?.state, P.AnomalyState.ANOMALY_STATE_OPEN, 'unchanged');
      assert.ok(resolves().length > 0, 'the late Append landed');
      assert.deepEqual(resolves().filter((e) => e.outcome === O.OUTCOME_SUCCESS).map((e) => e.details['resolution']), [], 'nothing claims a decision');
      assert.ok(resolves().some((e) => e.outcome === O.OUTCOME_ATTEMPTED));
      assert.equal((await call(cli, cli.getImpersonationStatus, { accountId: me }, { bearer: officer() })).status?.locked, false, 'not locked out');
    });
  });
}
