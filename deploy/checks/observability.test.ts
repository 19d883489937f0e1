/**
 * Issue 15 item 7: the Grafana dashboard and the Prometheus rules name only metrics the services
 * export (read from the metric definitions the services register, nothing started), and cover
 * what the issue asks for; a made-up metric is reported.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { exportedMetricNames } from './metric-facts.js';
import { loadYaml } from './kustomize.js';
import { checkMetricNames, dashboardExprs, metricsIn, ruleExprs } from './invariants.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const exported = exportedMetricNames();
type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const dashboard = (): Any => JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/observability/dashboard.json'), 'utf8'));
const rules = (): Any => loadYaml(path.join(ROOT, 'deploy/observability/alerts.yaml'))[0] as Any;

describe('observability (issue 15 item 7)', () => {
  test('the metric names PromQL expressions read', () => {
    assert.deepEqual(metricsIn('histogram_quantile(0.99, sum by (le, method) (rate(gatehouse_rpc_duration_seconds_bucket{gatehouse_service=~"$service"}[$__rate_interval])))'), ['gatehouse_rpc_duration_seconds_bucket']);
    assert.deepEqual(metricsIn('sum(rate(a_total{code!="OK"}[5m])) / sum(rate(b_total[5m])) > 0.05'), ['a_total', 'b_total']);
    assert.deepEqual(metricsIn('count(ALERTS{alertstate="firing"}) or vector(0)'), ['ALERTS']);
  });

  test('every metric the dashboard and the alert rules name is exported by the services', (t) => {
    assert.deepEqual(checkMetricNames('dashboard.json', dashboardExprs(dashboard()), exported), []);
    assert.deepEqual(checkMetricNames('alerts.yaml', ruleExprs(rules()), exported), []);
    t.diagnostic(`exported: ${[...exported].filter((m) => m.startsWith('gatehouse_')).join(', ')}`);
  });

  test('the dashboard shows calls, errors, p99 per RPC, outbox depth, relay lag, open security alerts and sealed replicas', () => {
    const exprs = dashboardExprs(dashboard()).join('\n');
    assert.match(exprs, /rate\(gatehouse_rpc_requests_total\{[^}]*\}\[[^\]]+\]\)\)/);
    assert.match(exprs, /code!="OK"/);
    assert.match(exprs, /histogram_quantile\(0\.99, sum by \(le, gatehouse_service, method\) \(rate\(gatehouse_rpc_duration_seconds_bucket/);
    assert.match(exprs, /gatehouse_audit_outbox_depth/);
    assert.match(exprs, /gatehouse_audit_relay_lag_seconds/);
    assert.match(exprs, /max by \(rule\) \(gatehouse_audit_alerts_open/, 'the alert count: audit\'s open security alerts, by rule, not summed over replicas');
    assert.match(exprs, /gatehouse_secrets_sealed/);
  });

  test('every panel has a title and a whole-number grid position', () => {
    const bad = (d: Any) =>
      (d['panels'] as Any[]).filter((p) => typeof p['title'] !== 'string' || !['x', 'y', 'w', 'h'].every((k) => Number.isInteger(p['gridPos']?.[k]))).map((p) => p['id']);
    assert.deepEqual(bad(dashboard()), []);
    const d = dashboard();
    d['panels'][1].gridPos.w = 'Every status but OK';
    assert.deepEqual(bad(d), [2], 'a description pasted into the width is found');
  });

  test('the rules alert on relay lag, outbox depth, a sealed secrets replica, open security alerts and the error ratio', () => {
    const byName = new Map<string, string>(rules()['groups'][0].rules.map((r: Any) => [r.alert, r.expr]));
    assert.match(byName.get('GatehouseAuditRelayLagging') ?? '', /gatehouse_audit_relay_lag_seconds/);
    assert.match(byName.get('GatehouseOutboxBacklog') ?? '', /gatehouse_audit_outbox_depth/);
    assert.match(byName.get('GatehouseSecretsReplicaSealed') ?? '', /gatehouse_service="secrets"/);
    assert.match(byName.get('GatehouseSecretsReplicaSealed') ?? '', /^max by \(instance\) \(gatehouse_secrets_sealed\{[^}]*\}\) != 0$/, 'each replica\'s own seal state (NaN fires too)');
    assert.match(byName.get('GatehouseSecurityAlertOpen') ?? '', /^max by \(rule\) \(gatehouse_audit_alerts_open\{[^}]*\}\) > 0$/);
    assert.match(byName.get('GatehouseErrorRatioHigh') ?? '', /\/\s*sum by \(gatehouse_service\) \(rate\(gatehouse_rpc_requests_total/);
  });

  test('fails when a panel or a rule names a metric nobody exports', () => {
    const d = dashboard();
    d['panels'][0].targets[0].expr = 'sum(rate(gatehouse_made_up_total[5m]))';
    assert.deepEqual(checkMetricNames('dashboard.json', dashboardExprs(d), exported), [
      'dashboard.json: gatehouse_made_up_total is not a metric the services export (in: sum(rate(gatehouse_made_up_total[5m])))',
    ]);
    const r = rules();
    r['groups'][0].rules[0].expr = 'gatehouse_secrets_unsealed > 0';
    assert.deepEqual(checkMetricNames('alerts.yaml', ruleExprs(r), exported), [
      'alerts.yaml: gatehouse_secrets_unsealed is not a metric the services export (in: gatehouse_secrets_unsealed > 0)',
    ]);
  });
});
