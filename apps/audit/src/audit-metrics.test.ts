/**
 * Issue 15 item 7: the open security alerts on audit's /metrics, by rule, as Prometheus scrapes
 * them (the dashboard's alert panel and GatehouseSecurityAlertOpen read them): every rule is
 * exported (0 when none is open), a rule that fires counts 1, and its acknowledgement brings it
 * back to 0. Real audit service over mTLS, on SQLite and MongoDB.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { auditEventV1, auditV1 } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { backendEnv, scrapeMetric, STORAGE_BACKENDS } from '@gatehouse/testing';
import { append, event, startAudit } from './test-support/harness.js';

const OPEN = 'gatehouse_audit_alerts_open';
const RULE = 'otp.failures_per_account';

/** Scrapes until `want` (the alert is raised just after Append returns) or 3 s have passed. */
async function openAlerts(port: number, rule: string, want: number): Promise<number | undefined> {
  const deadline = Date.now() + 3_000;
  let seen = await scrapeMetric(port, OPEN, { rule });
  while (seen !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    seen = await scrapeMetric(port, OPEN, { rule });
  }
  return seen;
}

for (const backend of STORAGE_BACKENDS) {
  describe(`audit on ${backend}: open security alerts on /metrics`, () => {
    test('gatehouse_audit_alerts_open{rule} is 0, 1 once the rule fires, 0 after the acknowledgement', async (t) => {
      const store = await backendEnv('audit', backend, (why) => t.skip(why));
      if (!store) return;
      const h = await startAudit({ ...store, GATEHOUSE_AUDIT_ALERT_RULES: JSON.stringify({ [RULE]: { threshold: 3, windowMs: 60_000 } }) });
      try {
        const port = h.hosted.server.metricsPort!;
        assert.equal(await scrapeMetric(port, OPEN, { rule: RULE, gatehouse_service: 'audit' }), 0, 'no alert open yet: 0, not absent');
        assert.equal(await scrapeMetric(port, OPEN, { rule: 'otp.replay' }), 0, 'every rule is exported');
        assert.equal(await scrapeMetric(port, OPEN, { rule: 'audit.log_integrity' }), 0, 'the integrity alert too');

        const c = await h.client('identity');
        const account = `acc-metrics-${backend}`;
        const failure = () => event({ outcome: auditEventV1.Outcome.OUTCOME_FAILURE, subject: { kind: auditEventV1.SubjectKind.SUBJECT_KIND_ACCOUNT, id: account, displayName: '' } });
        await append(c, [failure(), failure(), failure()]);
        assert.equal(await openAlerts(port, RULE, 1), 1, 'the raised alert is open');
        assert.equal(await scrapeMetric(port, OPEN, { rule: 'otp.replay' }), 0, 'other rules stay 0');

        const cli = await h.client('cli');
        const officer = { bearer: h.sessions.token({ roles: ['security_officer'] }) };
        const open = await call(cli, cli.listAlerts, auditV1.ListAlertsRequest.fromPartial({ states: [auditV1.AlertState.ALERT_STATE_OPEN] }), officer);
        assert.equal(open.alerts.length, 1);
        await call(cli, cli.acknowledgeAlert, { alertId: open.alerts[0]!.alertId, note: 'metrics test: checked with the account owner' }, officer);
        assert.equal(await scrapeMetric(port, OPEN, { rule: RULE }), 0, 'acknowledged: no longer open');
        t.diagnostic(`${backend}: ${OPEN}{rule="${RULE}"} 0, 1 raised, 0 acknowledged`);
      } finally {
        await h.stop();
      }
    });
  });
}
