/**
 * Issue 15 items 4 and 5: the kustomize base and its dev and prod overlays hold every invariant
 * against the code (services, ports, caller policy tables), and each invariant fails when the
 * manifests break it or the code moves ahead of them (a mutated copy is reported, by name).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SERVICE_NAMES } from '@gatehouse/contracts';
import { callers } from '@gatehouse/service-kit';
import { codeFacts, ROOT, type CodeFacts } from './code-facts.js';
import { resolveKustomization, type K8sObject } from './kustomize.js';
import { CALLER_KIND_LABEL, CALLER_NAME_LABEL, checkKubernetes, type K8sExpectations } from './invariants.js';

const facts = codeFacts();
const K8S = path.join(ROOT, 'deploy/k8s');
const trees: Array<[string, K8sExpectations]> = [
  ['base', { minReplicas: 2, serviceMonitors: false, production: true }],
  ['overlays/dev', { minReplicas: 1, serviceMonitors: false, production: false }],
  ['overlays/prod', { minReplicas: 3, serviceMonitors: true, production: true }],
];
const prod = () => resolveKustomization(path.join(K8S, 'overlays/prod'));
const prodExpect = trees[2]![1];

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const object = (objects: K8sObject[], kind: string, name: string): Any => {
  const o = objects.find((x) => x.kind === kind && x.metadata?.name === name);
  assert.ok(o, `${kind}/${name} exists`);
  return o as Any;
};
const container = (objects: K8sObject[], svc: string): Any => object(objects, 'Deployment', svc)['spec'].template.spec.containers.find((c: Any) => c['name'] === svc);

/** The checker's verdict on a mutated copy must include a problem matching `expected`. */
function reports(mutate: (objects: K8sObject[]) => void, expected: RegExp, f: CodeFacts = facts): string[] {
  const objects = prod();
  assert.deepEqual(checkKubernetes(objects, facts, prodExpect), [], 'the unmutated prod overlay holds against the code');
  mutate(objects);
  const problems = checkKubernetes(objects, f, prodExpect);
  assert.ok(
    problems.some((p) => expected.test(p)),
    `expected a problem matching ${expected}, got:\n  ${problems.join('\n  ') || '(none)'}`,
  );
  return problems;
}

describe('kubernetes manifests (issue 15 item 4)', () => {
  test('the services checked are the contracts\' SERVICE_NAMES, and exactly the apps with a service spec', () => {
    const apps = fs.readdirSync(path.join(ROOT, 'apps')).filter((a) => fs.existsSync(path.join(ROOT, 'apps', a, 'src/service.ts')));
    assert.deepEqual(apps.sort(), Object.keys(SERVICE_NAMES).sort());
    assert.deepEqual(facts.services.map((s) => s.name).sort(), Object.keys(SERVICE_NAMES).sort());
  });

  for (const [tree, expect] of trees) {
    test(`${tree}: every service of the code, every invariant`, (t) => {
      const objects = resolveKustomization(path.join(K8S, tree));
      assert.deepEqual(checkKubernetes(objects, facts, expect), []);
      t.diagnostic(`${tree}: ${objects.length} objects, services ${facts.services.map((s) => s.name).join(', ')}`);
    });
  }

  test('the overlays really change what they say (resolution works)', () => {
    const dev = resolveKustomization(path.join(K8S, 'overlays/dev'));
    const objects = prod();
    assert.equal(object(dev, 'ConfigMap', 'gatehouse-common')['data'].GATEHOUSE_ENV, 'dev');
    assert.equal(object(objects, 'ConfigMap', 'gatehouse-common')['data'].GATEHOUSE_ENV, 'production');
    assert.equal(object(objects, 'Deployment', 'identity')['metadata'].namespace, 'gatehouse');
    assert.match(container(objects, 'identity')['image'], /^registry\.example\.com\/gatehouse\/identity:/);
    assert.equal(container(objects, 'identity')['resources'].limits.memory, '1Gi');
    assert.ok(container(objects, 'identity')['readinessProbe'], 'a patch of resources keeps the probes');
    assert.ok(objects.some((o) => o.kind === 'ServiceMonitor'));
  });
});

describe('each invariant fails when broken (issue 15 item 5)', () => {
  test('a readiness or liveness probe removed, or not on grpc.health.v1', () => {
    reports((o) => delete container(o, 'audit')['readinessProbe'], /Deployment\/audit: readinessProbe does not ask grpc\.health\.v1/);
    reports((o) => delete container(o, 'secrets')['livenessProbe'], /Deployment\/secrets: livenessProbe does not ask grpc\.health\.v1/);
    reports((o) => (container(o, 'identity')['livenessProbe'] = { tcpSocket: { port: 7101 } }), /Deployment\/identity: livenessProbe/);
    reports((o) => (container(o, 'allowlist')['readinessProbe'].exec.command[2] = 'identity'), /Deployment\/allowlist: readinessProbe/);
  });

  test('runAsNonRoot dropped, root user, writable root, privilege escalation, capabilities kept', () => {
    reports((o) => {
      delete object(o, 'Deployment', 'impersonation')['spec'].template.spec.securityContext.runAsNonRoot;
      delete container(o, 'impersonation')['securityContext'].runAsNonRoot;
    }, /Deployment\/impersonation containers impersonation: runAsNonRoot is not true/);
    reports((o) => (container(o, 'identity')['securityContext'].runAsUser = 0), /identity: runAsUser is 0/);
    reports((o) => (container(o, 'allowlist')['securityContext'].readOnlyRootFilesystem = false), /allowlist: readOnlyRootFilesystem is not true/);
    reports((o) => delete container(o, 'audit')['securityContext'].allowPrivilegeEscalation, /audit: allowPrivilegeEscalation is not false/);
    reports((o) => (container(o, 'secrets')['securityContext'].capabilities = { drop: ['NET_RAW'] }), /secrets: capabilities do not drop ALL/);
    reports((o) => delete object(o, 'Deployment', 'identity')['spec'].template.spec.initContainers[0].securityContext, /identity initContainers private-keys: readOnlyRootFilesystem/);
  });

  test('dev settings in a production tree', () => {
    reports((o) => (object(o, 'ConfigMap', 'gatehouse-common')['data'].GATEHOUSE_ENV = 'dev'), /ConfigMap\/gatehouse-common: GATEHOUSE_ENV is "dev" in a production tree/);
    reports((o) => (object(o, 'ConfigMap', 'gatehouse-common')['data'].GATEHOUSE_STORE = 'sqlite'), /GATEHOUSE_STORE is "sqlite"; replicas share one MongoDB/);
    reports((o) => container(o, 'secrets')['env'].push({ name: 'GATEHOUSE_SECRETS_DEV_AUTO_UNSEAL', value: 'true' }), /Deployment\/secrets: GATEHOUSE_SECRETS_DEV_AUTO_UNSEAL is a dev setting/);
  });

  test('resources unset', () => {
    reports((o) => delete container(o, 'identity')['resources'].limits, /identity: resources\.limits\.cpu is not set/);
  });

  test('a NetworkPolicy caller removed, or one the caller policy does not allow', () => {
    reports((o) => {
      const rule = object(o, 'NetworkPolicy', 'secrets')['spec'].ingress[0];
      rule.from = rule.from.filter((p: Any) => p.podSelector.matchLabels[CALLER_KIND_LABEL] !== 'backend');
    }, /NetworkPolicy\/secrets: secrets's caller policy admits backend, which the NetworkPolicy does not/);
    reports((o) => object(o, 'NetworkPolicy', 'audit')['spec'].ingress[0].from.push({ namespaceSelector: {}, podSelector: { matchLabels: { [CALLER_KIND_LABEL]: 'robot' } } }), /NetworkPolicy\/audit: admits robot/);
    reports((o) => delete object(o, 'NetworkPolicy', 'identity')['spec'].ingress[0].from, /NetworkPolicy\/identity: admits \*/);
    reports((o) => object(o, 'NetworkPolicy', 'allowlist')['spec'].ingress[0].from.push({ ipBlock: { cidr: '0.0.0.0/0' } }), /NetworkPolicy\/allowlist: ingress\[0\] admits a peer/);
    reports((o) => (o.splice(o.findIndex((x) => x.kind === 'NetworkPolicy' && x.metadata?.name === 'impersonation'), 1)), /service impersonation: no Ingress NetworkPolicy/);
  });

  test('a caller rule changed in the code without its NetworkPolicy entry', () => {
    const withFacts = (svc: string, policy: (old: CodeFacts['services'][number]['policy']) => CodeFacts['services'][number]['policy']) => {
      const f = structuredClone(facts);
      const s = f.services.find((x) => x.name === svc)!;
      s.policy = policy(s.policy);
      return f;
    };
    // audit narrowed to operators: the manifests still admit services and backends.
    const operatorsOnly = withFacts('audit', (old) => Object.fromEntries(Object.keys(old).map((rpc) => [rpc, callers.operators])));
    reports(() => undefined, /NetworkPolicy\/audit: admits service, backend, which audit's caller policy does not/, operatorsOnly);
    // ...plus one named backend: it must be listed by kind and name.
    const named = withFacts('audit', (old) => ({ ...Object.fromEntries(Object.keys(old).map((rpc) => [rpc, callers.operators])), Query: callers.only('backend:log-shipper') }));
    reports(() => undefined, /NetworkPolicy\/audit: audit's caller policy admits backend:log-shipper, which the NetworkPolicy does not/, named);
    const objects = prod();
    object(objects, 'NetworkPolicy', 'audit')['spec'].ingress[0].from = [
      { podSelector: { matchLabels: { [CALLER_KIND_LABEL]: 'operator' } } },
      { namespaceSelector: {}, podSelector: { matchLabels: { [CALLER_KIND_LABEL]: 'backend', [CALLER_NAME_LABEL]: 'log-shipper' } } },
    ];
    assert.deepEqual(checkKubernetes(objects, named, prodExpect), [], 'a named caller listed by kind and name holds');
    // A public RPC added to identity: the NetworkPolicy would have to admit everyone.
    reports(() => undefined, /NetworkPolicy\/identity: identity's caller policy admits \*/, withFacts('identity', (old) => ({ ...old, Ping: callers.public })));
  });

  test('a service added to the code without its manifests', () => {
    const more = structuredClone(facts);
    more.services.push({ ...structuredClone(more.services[0]!), name: 'billing', port: 7106, metricsPort: 9106 });
    reports(() => undefined, /service billing: no Deployment\/billing/, more);
  });

  test('the pieces of a service: Service, PDB, HPA, ServiceMonitor, TLS Secret, labels, ports, annotations', () => {
    const drop = (kind: string, name: string) => (o: K8sObject[]) => o.splice(o.findIndex((x) => x.kind === kind && x.metadata?.name === name), 1);
    reports(drop('PodDisruptionBudget', 'audit'), /service audit: no PodDisruptionBudget/);
    reports(drop('HorizontalPodAutoscaler', 'identity'), /service identity: no HorizontalPodAutoscaler/);
    reports(drop('Service', 'secrets'), /service secrets: no Service\/secrets/);
    reports(drop('ServiceMonitor', 'allowlist'), /service allowlist: no ServiceMonitor/);
    reports((o) => (object(o, 'HorizontalPodAutoscaler', 'audit')['spec'].minReplicas = 1), /HorizontalPodAutoscaler\/audit: minReplicas below 3/);
    reports((o) => (object(o, 'Deployment', 'identity')['spec'].template.metadata.labels[CALLER_NAME_LABEL] = 'audit'), /Deployment\/identity: pods must carry/);
    reports((o) => (container(o, 'impersonation')['ports'][0].containerPort = 8080), /impersonation: container port grpc is not 7104/);
    reports((o) => delete object(o, 'Deployment', 'audit')['spec'].template.metadata.annotations['prometheus.io/scrape'], /Deployment\/audit: Prometheus annotations/);
    reports((o) => (object(o, 'Deployment', 'secrets')['spec'].template.spec.volumes[0].secret.secretName = 'other'), /Secret gatehouse-tls-secrets is not mounted/);
    reports((o) => o.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'ghost' }, spec: { template: { metadata: { labels: { [CALLER_KIND_LABEL]: 'service' } } } } }), /Deployment\/ghost: labelled as a Gatehouse service/);
  });

  test('no secret inlined: PEM blocks, Secret data, keys and credentials in env or ConfigMaps', () => {
    reports((o) => o.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'oops' }, stringData: { 'ca.key': 'x' } }), /Secret\/oops: secrets are created by the operator/);
    reports((o) => (object(o, 'ConfigMap', 'gatehouse-common')['data'].CA = '-----BEGIN PRIVATE KEY-----\nMC4=\n-----END PRIVATE KEY-----'), /ConfigMap\/gatehouse-common\.data\.CA holds a PEM block/);
    reports((o) => container(o, 'identity')['env'].push({ name: 'GATEHOUSE_SMS_API_KEY', value: 'sk_live_123' }), /identity: env GATEHOUSE_SMS_API_KEY is given as a literal value/);
    reports((o) => (container(o, 'audit')['env'][0] = { name: 'MONGO_URL', value: 'mongodb://gh:hunter2@db/?replicaSet=rs0' }), /audit: env MONGO_URL holds a URL with a password/);
    reports((o) => (container(o, 'secrets')['env'][0] = { name: 'MONGO_URL', value: 'mongodb://db1/?replicaSet=rs0' }), /secrets: env MONGO_URL does not come from a Secret/);
    reports((o) => (object(o, 'ConfigMap', 'gatehouse-common')['data'].MONGO_URL = 'mongodb://db1/?replicaSet=rs0'), /ConfigMap\/gatehouse-common: MONGO_URL belongs in a Secret/);
  });
});
