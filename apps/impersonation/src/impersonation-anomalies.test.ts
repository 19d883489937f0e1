import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, impersonationV1, type ImpersonationServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { refused } from '@gatehouse/testing';
import { BACKENDS, backendEnv, startImpersonation, type ImpersonationHarness } from './test-support/harness.js';

const P = impersonationV1;
const A = auditEventV1.Action;
const MIN = 60_000;
const WHY = 'Bulk import support for the customer migration (case 5120)';

const domainName = (base: string) => `${base}-${randomBytes(3).toString('hex')}.example`;
const account = (base: string) => `acc-${base}-${randomBytes(3).toString('hex')}`;

for (const backend of BACKENDS) {
  describe(`impersonation on ${backend}: the burst rule (P11), anomalies and the lockout`, () => {
    let h: ImpersonationHarness;
    let cli: ImpersonationServiceClient;
    let crm: ImpersonationServiceClient;
    let skipped: string | undefined;
    const support = (accountId: string) => h.token({ roles: ['support'], accountId, email: `${accountId}@corp.example` });
    const officer = (accountId = 'acc-officer') => h.token({ roles: ['security_officer'], accountId, email: 'officer@corp.example' });
    const start = (bearer: string, customerDomain: string, targetUserId: string, client = cli) =>
      call(
        client,
        client.startImpersonation,
        P.StartImpersonationRequest.fromPartial({ targetUserId, customerDomain, reason: P.ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE, justification: WHY, ticketRef: 'SUP-5120' }),
        { bearer },
      );
    const anomalies = async (accountId: string) => (await call(cli, cli.listAnomalies, { accountId, states: [], pageSize: 0, pageToken: '' }, { bearer: officer() })).anomalies;
    const justify = (bearer: string, anomalyId: string, justification = 'The customer asked us to check every imported user (ticket SUP-5120)', ticketRefs = ['SUP-5120']) =>
      call(cli, cli.justifyAnomaly, { anomalyId, justification, ticketRefs }, { bearer });
    const resolve = (anomalyId: string, resolution: impersonationV1.AnomalyResolution, bearer = officer(), note = 'checked with the customer') =>
      call(cli, cli.resolveAnomaly, { anomalyId, resolution, note }, { bearer });
    const status = (accountId: string) => call(cli, cli.getImpersonationStatus, { accountId }, { bearer: officer() }).then((r) => r.status);
    const anomalyEvents = (anomalyId: string) => h.events.filter((e) => e.action === A.ACTION_IMPERSONATION_ANOMALY && e.subject?.id === anomalyId);
    const anomalyIdOf = (details: string) => /anomaly (an_[A-Za-z0-9_-]{16})/.exec(details)?.[1] ?? '';

    before(async () => {
      const env = await backendEnv(backend, (why) => (skipped = why));
      if (!env) return;
      h = await startImpersonation(env);
      await h.addReplica();
      cli = await h.client('cli');
      crm = await h.client('crm');
    });
    after(async () => {
      await h?.stop();
    });
    const live = (t: { skip(msg?: string): void }) => {
      if (skipped) t.skip(skipped);
      return !skipped;
    };

    test('at the threshold: three distinct users pass, the fourth is refused naming the rule, an anomaly opens and blocks only that domain', async (t) => {
      if (!live(t)) return;
      const me = account('burst');
      const domain = domainName('burst');
      for (const u of ['u-1', 'u-2', 'u-1', 'u-3']) await start(support(me), domain, u); // u-1 twice: still three distinct
      const e = await refused(start(support(me), domain, 'u-4'));
      assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
      assert.match(e.details, /rule impersonation\.burst fired: you already impersonated 3 distinct users of .* within 60 minutes \(threshold 3\)/);
      const anomalyId = anomalyIdOf(e.details);
      assert.match(anomalyId, /^an_/);

      const [a] = await anomalies(me);
      assert.equal(a?.anomalyId, anomalyId);
      assert.equal(a?.state, P.AnomalyState.ANOMALY_STATE_OPEN);
      assert.equal(a?.customerDomain, domain);
      assert.deepEqual(a?.targetUserIds, ['u-1', 'u-2', 'u-3']);
      assert.equal(a?.grantIds.length, 4);
      assert.equal(a?.refusedTargetUserId, 'u-4');
      assert.equal(a?.rule?.ruleId, 'impersonation.burst');
      assert.equal(a?.rule?.distinctTargets, 3);
      assert.equal(a?.rule?.window?.seconds, 3600);

      await h.drainAudit();
      const events = anomalyEvents(anomalyId);
      assert.equal(events.length, 1, 'one anomaly event');
      assert.equal(events[0]?.actor?.kind, auditEventV1.ActorKind.ACTOR_KIND_EMPLOYEE);
      assert.equal(events[0]?.actor?.id, me);
      assert.equal(events[0]?.customerDomain, domain);
      assert.equal(events[0]?.subject?.kind, auditEventV1.SubjectKind.SUBJECT_KIND_ANOMALY);

      // Past the threshold: blocked (the same anomaly, no new one), also on the other replica and for a known target.
      for (const [u, client] of [['u-5', cli], ['u-1', await h.client('cli', 1)]] as const) {
        const b = await refused(start(support(me), domain, u, client));
        assert.equal(b.code, grpc.status.FAILED_PRECONDITION);
        assert.match(b.details, new RegExp(`blocked by anomaly ${anomalyId} \\(open\\)`));
      }
      assert.equal((await anomalies(me)).length, 1);
      // Other domains, and other employees in this domain, are not blocked.
      await start(support(me), domainName('elsewhere'), 'u-1');
      await start(support(account('colleague')), domain, 'u-9');
      const st = await status(me);
      assert.deepEqual(st?.blockedDomains, [{ customerDomain: domain, anomalyId }]);
      assert.equal(st?.locked, false);
      assert.equal(st?.activeGrantCount, 5);

      // The window slides: once the grants are older than W, the count starts afresh (for a fresh employee).
      const other = account('slide');
      const d2 = domainName('slide');
      for (const u of ['a', 'b', 'c']) await start(support(other), d2, u);
      h.clock.advance(60 * MIN + 1000);
      await start(support(other), d2, 'd');
    });

    test('10 parallel starts at the threshold, on two replicas: at most the allowed grants, exactly one anomaly', async (t) => {
      if (!live(t)) return;
      for (const already of [2, 0]) {
        const me = account(`parallel${already}`);
        const domain = domainName('parallel');
        for (let i = 0; i < already; i++) await start(support(me), domain, `old-${i}`);
        const clients = [cli, await h.client('cli', 1)];
        const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => start(support(me), domain, `new-${i}`, clients[i % 2])));
        const ok = results.filter((r) => r.status === 'fulfilled');
        const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as grpc.ServiceError] : []));
        assert.equal(ok.length, 3 - already, `with ${already} earlier grants, ${3 - already} may start`);
        assert.equal(failed.length, 10 - ok.length);
        for (const f of failed) {
          assert.equal(f.code, grpc.status.FAILED_PRECONDITION, f.details);
          assert.match(f.details, /impersonation\.burst/);
        }
        const list = await call(cli, cli.listActive, { customerDomain: domain, pageSize: 0, pageToken: '' }, { bearer: officer() });
        assert.equal(list.grants.length, 3, 'exactly three grants exist in the domain');
        const opened = await anomalies(me);
        assert.equal(opened.length, 1, 'exactly one anomaly');
        await h.drainAudit();
        assert.equal(anomalyEvents(opened[0]?.anomalyId ?? '').length, 1);
      }
    });

    test('justify → accept lifts the block and restarts the count; only the employee justifies, only the officer resolves', async (t) => {
      if (!live(t)) return;
      const me = account('accept');
      const domain = domainName('accept');
      for (const u of ['a', 'b', 'c']) await start(support(me), domain, u);
      const anomalyId = anomalyIdOf((await refused(start(support(me), domain, 'd'))).details);

      // Accept needs a justification first; the employee alone may justify; a justification must say something.
      assert.equal((await refused(resolve(anomalyId, P.AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT))).code, grpc.status.FAILED_PRECONDITION);
      assert.equal((await refused(justify(support(account('someone')), anomalyId))).code, grpc.status.NOT_FOUND);
      const short = await refused(justify(support(me), anomalyId, 'sorry'));
      assert.equal(short.code, grpc.status.INVALID_ARGUMENT);
      assert.match(short.details, /justification.*too short/);
      const noTicket = await refused(justify(support(me), anomalyId, undefined, []));
      assert.equal(noTicket.code, grpc.status.INVALID_ARGUMENT);
      assert.match(noTicket.details, /ticket_refs/);
      assert.equal((await refused(justify(support(me), '{"$ne":null}'))).code, grpc.status.INVALID_ARGUMENT);

      const j = await justify(support(me), anomalyId, undefined, ['SUP-5120', 'INC-77']);
      assert.equal(j.anomaly?.state, P.AnomalyState.ANOMALY_STATE_JUSTIFIED);
      assert.deepEqual(j.anomaly?.ticketRefs, ['SUP-5120', 'INC-77']);
      assert.equal((await refused(justify(support(me), anomalyId))).code, grpc.status.FAILED_PRECONDITION);
      // Still blocked while it waits for the officer.
      assert.match((await refused(start(support(me), domain, 'e'))).details, /\(justified\)/);

      const notOfficer = await refused(resolve(anomalyId, P.AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT, support(me)));
      assert.equal(notOfficer.code, grpc.status.PERMISSION_DENIED);
      assert.equal((await refused(resolve(anomalyId, P.AnomalyResolution.ANOMALY_RESOLUTION_UNSPECIFIED))).code, grpc.status.INVALID_ARGUMENT);
      assert.equal((await refused(resolve(anomalyId, P.AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT, officer(), ''))).code, grpc.status.INVALID_ARGUMENT);

      // The decision is an approval: if audit cannot confirm it, it does not stand.
      h.audit.fail(true);
      try {
        const down = await refused(resolve(anomalyId, P.AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT));
        assert.equal(down.code, grpc.status.UNAVAILABLE);
      } finally {
        h.audit.fail(false);
      }
      assert.equal((await anomalies(me))[0]?.state, P.AnomalyState.ANOMALY_STATE_JUSTIFIED, 'unchanged');
      assert.match((await refused(start(support(me), domain, 'e'))).details, /\(justified\)/, 'still blocked');

      const r = await resolve(anomalyId, P.AnomalyResolution.ANOMALY_RESOLUTION_ACCEPT);
      assert.equal(r.anomaly?.state, P.AnomalyState.ANOMALY_STATE_ACCEPTED);
      assert.equal(r.anomaly?.resolvedBy?.accountId, 'acc-officer');
      assert.equal(r.status?.locked, false);
      assert.deepEqual(r.status?.blockedDomains, []);
      assert.equal((await refused(resolve(anomalyId, P.AnomalyResolution.ANOMALY_RESOLUTION_REJECT))).code, grpc.status.FAILED_PRECONDITION);

      // Unblocked, and the accepted grants no longer count: three more distinct users pass, the next fires again.
      for (const u of ['d', 'e', 'f']) await start(support(me), domain, u);
      const again = await refused(start(support(me), domain, 'g'));
      assert.match(again.details, /impersonation\.burst fired/);
      assert.notEqual(anomalyIdOf(again.details), anomalyId);
      await h.drainAudit();
      const actions = h.events.filter((e) => e.subject?.id === anomalyId).map((e) => `${A[e.action]}/${auditEventV1.Outcome[e.outcome]}`);
      assert.deepEqual(actions, [
        'ACTION_IMPERSONATION_ANOMALY/OUTCOME_SUCCESS',
        'ACTION_IMPERSONATION_ANOMALY_JUSTIFY/OUTCOME_SUCCESS',
        // The decision audit could not confirm: its intent lands later, with the outcome saying it was not performed.
        'ACTION_IMPERSONATION_ANOMALY_RESOLVE/OUTCOME_ATTEMPTED',
        'ACTION_IMPERSONATION_ANOMALY_RESOLVE/OUTCOME_ERROR',
        'ACTION_IMPERSONATION_ANOMALY_RESOLVE/OUTCOME_ATTEMPTED',
        'ACTION_IMPERSONATION_ANOMALY_RESOLVE/OUTCOME_SUCCESS',
      ]);
    });

    test('reject locks the employee out everywhere, revokes their grants; the officer unlocks', async (t) => {
      if (!live(t)) return;
      const me = account('reject');
      const domain = domainName('reject');
      const elsewhere = domainName('reject-elsewhere');
      const kept = await start(support(me), elsewhere, 'x-1');
      for (const u of ['a', 'b', 'c']) await start(support(me), domain, u);
      const anomalyId = anomalyIdOf((await refused(start(support(me), domain, 'd'))).details);

      // An officer who is also support may not resolve their own anomaly.
      const self = h.token({ roles: ['security_officer', 'support'], accountId: me, email: `${me}@corp.example` });
      assert.equal((await refused(resolve(anomalyId, P.AnomalyResolution.ANOMALY_RESOLUTION_REJECT, self))).code, grpc.status.PERMISSION_DENIED);

      const r = await resolve(anomalyId, P.AnomalyResolution.ANOMALY_RESOLUTION_REJECT, officer(), 'no ticket covers these users');
      assert.equal(r.anomaly?.state, P.AnomalyState.ANOMALY_STATE_REJECTED);
      assert.equal(r.status?.locked, true);
      assert.equal(r.status?.lockingAnomalyId, anomalyId);
      assert.equal(r.status?.employee?.accountId, me);
      assert.equal(r.status?.employee?.email, `${me}@corp.example`);
      assert.equal(r.status?.activeGrantCount, 0, 'every active grant was revoked');
      const v = await call(crm, crm.verifyImpersonationToken, { impersonationToken: kept.impersonationToken, operation: P.ImpersonationOperation.IMPERSONATION_OPERATION_READ_DATA });
      assert.equal(v.valid, false);
      assert.equal(v.reason, P.TokenInvalidReason.TOKEN_INVALID_REASON_REVOKED);

      for (const d of [domain, elsewhere, domainName('fresh')]) {
        const e = await refused(start(support(me), d, 'z'));
        assert.equal(e.code, grpc.status.PERMISSION_DENIED);
        assert.match(e.details, new RegExp(`locked out of impersonation: anomaly ${anomalyId} was rejected`));
      }
      const mine = await call(cli, cli.getImpersonationStatus, {}, { bearer: support(me) });
      assert.equal(mine.status?.locked, true);
      const others = await refused(call(cli, cli.getImpersonationStatus, { accountId: 'acc-officer' }, { bearer: support(me) }));
      assert.equal(others.code, grpc.status.PERMISSION_DENIED);

      assert.equal((await refused(call(cli, cli.unlockImpersonation, { accountId: me, note: 'x' }, { bearer: support(me) }))).code, grpc.status.PERMISSION_DENIED);
      assert.equal((await refused(call(cli, cli.unlockImpersonation, { accountId: me, note: '' }, { bearer: officer() }))).code, grpc.status.INVALID_ARGUMENT);
      const u = await call(cli, cli.unlockImpersonation, { accountId: me, note: 'retrained; tickets now linked' }, { bearer: officer() });
      assert.equal(u.status?.locked, false);
      assert.equal((await refused(call(cli, cli.unlockImpersonation, { accountId: me, note: 'again' }, { bearer: officer() }))).code, grpc.status.FAILED_PRECONDITION);
      await start(support(me), domain, 'a');
      await h.drainAudit();
      const lockEvents = h.events.filter((e) => e.action === A.ACTION_IMPERSONATION_LOCK && e.subject?.id === me);
      const unlockEvents = h.events.filter((e) => e.action === A.ACTION_IMPERSONATION_UNLOCK && e.subject?.id === me);
      assert.equal(lockEvents.length, 1);
      assert.equal(unlockEvents.length, 1);
      const revokes = h.events.filter((e) => e.action === A.ACTION_IMPERSONATION_REVOKE && e.details.anomaly_id === anomalyId);
      assert.equal(revokes.length, 4, 'the three grants in the domain and the one elsewhere');
    });

    test('ListAnomalies: support sees their own; filters by state; hostile filters refused', async (t) => {
      if (!live(t)) return;
      const me = account('list');
      const domain = domainName('list');
      for (const u of ['a', 'b', 'c']) await start(support(me), domain, u);
      await refused(start(support(me), domain, 'd'));
      const mine = await call(cli, cli.listAnomalies, { states: [P.AnomalyState.ANOMALY_STATE_OPEN], pageSize: 0, pageToken: '' }, { bearer: support(me) });
      assert.equal(mine.anomalies.length, 1);
      assert.equal(mine.anomalies[0]?.employee?.accountId, me);
      assert.equal((await call(cli, cli.listAnomalies, { states: [P.AnomalyState.ANOMALY_STATE_ACCEPTED], pageSize: 0, pageToken: '' }, { bearer: support(me) })).anomalies.length, 0);
      assert.equal((await refused(call(cli, cli.listAnomalies, { accountId: 'acc-officer', states: [], pageSize: 0, pageToken: '' }, { bearer: support(me) }))).code, grpc.status.PERMISSION_DENIED);
      assert.equal((await refused(call(cli, cli.listAnomalies, { accountId: '$ne', states: [], pageSize: 0, pageToken: '' }, { bearer: officer() }))).code, grpc.status.INVALID_ARGUMENT);
      assert.equal((await refused(call(cli, cli.listAnomalies, { customerDomain: '{"$gt":""}', states: [], pageSize: 0, pageToken: '' }, { bearer: officer() }))).code, grpc.status.INVALID_ARGUMENT);
    });
  });
}
