/**
 * The deployment invariants of issue 15 (items 2-5), as functions from parsed manifests and the
 * code's facts to a list of problems, each naming the file or object and what is wrong. The
 * tests run them on the real files (no problem) and on mutated copies (the problem is reported).
 */
import { callersOf, type CodeFacts, type ServiceFacts } from './code-facts.js';
import type { K8sObject } from './kustomize.js';

type Map_ = Record<string, unknown>;
const isMap = (v: unknown): v is Map_ => typeof v === 'object' && v !== null && !Array.isArray(v);
const get = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (isMap(v) ? v[k] : undefined), o);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The label and kinds that map a certificate's kind and name to pods (docs/operations.md). */
export const CALLER_KIND_LABEL = 'gatehouse.io/caller-kind';
export const CALLER_NAME_LABEL = 'gatehouse.io/caller-name';
export const APP_LABEL = 'app.kubernetes.io/name';
export const PROBE_SCRIPT = '/app/health-probe.mjs';

/** Name segments of variables that hold a secret when they are not a path to a file holding it. */
const SECRET_SEGMENTS = new Set(['KEY', 'KEYS', 'SECRET', 'PASSWORD', 'PASSPHRASE', 'TOKEN', 'CREDENTIAL', 'CREDENTIALS', 'APIKEY']);
const holdsSecret = (name: string) => name.split('_').some((seg) => SECRET_SEGMENTS.has(seg));
const PEM = /-----BEGIN [A-Z ]+-----/;
const URL_WITH_PASSWORD = /:\/\/[^/@\s:]+:[^/@\s]+@/;

/** A variable whose literal value would put a secret in a manifest (keys and URLs, not file paths). */
export function inlinedSecret(name: string, value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  if (PEM.test(value)) return `${name} holds a PEM block`;
  if (URL_WITH_PASSWORD.test(value)) return `${name} holds a URL with a password`;
  // A number is a setting (GATEHOUSE_SESSION_KEY_REFRESH_S=30), a path names the file that holds the secret.
  if (holdsSecret(name) && !/_(FILE|DIR)$/.test(name) && !value.startsWith('/') && !/^\d+$/.test(value)) {
    return `${name} is given as a literal value; mount it as a file (Secret) or use valueFrom`;
  }
  return undefined;
}

/** Every string anywhere in a document that holds a PEM block, with its path. */
function pemsIn(v: unknown, where: string, out: string[]): void {
  if (typeof v === 'string' && PEM.test(v)) out.push(`${where} holds a PEM block`);
  else if (Array.isArray(v)) v.forEach((x, i) => pemsIn(x, `${where}[${i}]`, out));
  else if (isMap(v)) for (const [k, x] of Object.entries(v)) pemsIn(x, `${where}.${k}`, out);
}

/** The health probe of a container is grpc.health.v1: Kubernetes' grpc probe, or the probe script for this service. */
function probeUsesGrpcHealth(probe: unknown, service: string): boolean {
  if (!isMap(probe)) return false;
  if (isMap(probe['grpc'])) return true;
  const cmd = list(get(probe, 'exec', 'command')).map(String);
  return cmd[0] === 'node' && cmd[1] === PROBE_SCRIPT && cmd[2] === service;
}

/** Problems of one container's hardening and resources. */
function containerProblems(where: string, c: Map_, podRunAsNonRoot: boolean): string[] {
  const p: string[] = [];
  const sc = get(c, 'securityContext');
  const runAsNonRoot = get(sc, 'runAsNonRoot') ?? podRunAsNonRoot;
  if (runAsNonRoot !== true) p.push(`${where}: runAsNonRoot is not true (pod or container securityContext)`);
  if (get(sc, 'runAsUser') === 0) p.push(`${where}: runAsUser is 0`);
  if (get(sc, 'readOnlyRootFilesystem') !== true) p.push(`${where}: readOnlyRootFilesystem is not true`);
  if (get(sc, 'allowPrivilegeEscalation') !== false) p.push(`${where}: allowPrivilegeEscalation is not false`);
  if (!list(get(sc, 'capabilities', 'drop')).includes('ALL')) p.push(`${where}: capabilities do not drop ALL`);
  if (list(get(sc, 'capabilities', 'add')).length > 0) p.push(`${where}: capabilities are added`);
  if (get(sc, 'privileged') === true) p.push(`${where}: privileged`);
  for (const kind of ['requests', 'limits']) {
    for (const r of ['cpu', 'memory']) if (get(c, 'resources', kind, r) === undefined) p.push(`${where}: resources.${kind}.${r} is not set`);
  }
  for (const e of list(get(c, 'env'))) {
    const bad = inlinedSecret(String(get(e, 'name')), get(e, 'value'));
    if (bad) p.push(`${where}: env ${bad}`);
    // A production connection string carries credentials: in Kubernetes it always comes from a Secret.
    if (get(e, 'name') === 'MONGO_URL' && get(e, 'valueFrom', 'secretKeyRef') === undefined) p.push(`${where}: env MONGO_URL does not come from a Secret (secretKeyRef)`);
  }
  return p;
}

/** The callers a NetworkPolicy admits to one port, as `kind`, `kind:name` or `*`, plus peers it cannot map. */
export function networkPolicyCallers(np: K8sObject, port: number): { callers: Set<string>; problems: string[] } {
  const callers = new Set<string>();
  const problems: string[] = [];
  const name = `NetworkPolicy/${np.metadata?.name}`;
  for (const [i, rule] of list(get(np, 'spec', 'ingress')).entries()) {
    const ports = list(get(rule, 'ports'));
    const covers = ports.length === 0 || ports.some((p) => get(p, 'port') === port);
    if (!covers) continue;
    const from = get(rule, 'from');
    if (from === undefined || list(from).length === 0) {
      callers.add('*');
      continue;
    }
    for (const peer of list(from)) {
      const labels = get(peer, 'podSelector', 'matchLabels');
      const kind = get(labels, CALLER_KIND_LABEL);
      if (typeof kind !== 'string' || get(peer, 'ipBlock') !== undefined) {
        problems.push(`${name}: ingress[${i}] admits a peer to port ${port} that is not selected by ${CALLER_KIND_LABEL}: ${JSON.stringify(peer)}`);
        continue;
      }
      const callerName = get(labels, CALLER_NAME_LABEL);
      callers.add(typeof callerName === 'string' ? `${kind}:${callerName}` : kind);
    }
  }
  return { callers, problems };
}

/** Options for {@link checkKubernetes}: what differs between the base, dev and prod. */
export interface K8sExpectations {
  /** Least minReplicas of every HPA and replicas of every Deployment (2 in base and prod, 1 in dev). */
  minReplicas: number;
  /** Prod: a ServiceMonitor per service. */
  serviceMonitors: boolean;
  /** Prod (and the base): no dev mode, replicas on MongoDB (the dev overlay is dev mode on SQLite, one replica). */
  production: boolean;
}

/** Every invariant of issue 15 item 4 over one resolved set of objects. */
export function checkKubernetes(objects: K8sObject[], facts: CodeFacts, expect: K8sExpectations): string[] {
  const problems: string[] = [];
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata?.name === name);
  for (const o of objects) {
    pemsIn(o, `${o.kind}/${o.metadata?.name}`, problems);
    if (o.kind === 'Secret' && (get(o, 'data') !== undefined || get(o, 'stringData') !== undefined)) {
      problems.push(`Secret/${o.metadata?.name}: secrets are created by the operator, never kept in the manifests`);
    }
    if (o.kind === 'ConfigMap') {
      for (const [k, v] of Object.entries((get(o, 'data') as Map_ | undefined) ?? {})) {
        const bad = inlinedSecret(k, v) ?? (k === 'MONGO_URL' ? 'MONGO_URL belongs in a Secret (it carries credentials)' : undefined);
        if (bad) problems.push(`ConfigMap/${o.metadata?.name}: ${bad}`);
      }
    }
  }
  if (expect.production) {
    // What the services read comes from these ConfigMaps and the containers' env: dev mode or a per-pod store would be fatal.
    const settings = [
      ...objects.filter((o) => o.kind === 'ConfigMap').flatMap((o) => Object.entries((get(o, 'data') as Map_ | undefined) ?? {}).map(([k, v]) => [`ConfigMap/${o.metadata?.name}`, k, v] as const)),
      ...objects
        .filter((o) => o.kind === 'Deployment')
        .flatMap((d) => list(get(d, 'spec', 'template', 'spec', 'containers')).flatMap((c) => list(get(c, 'env')).map((e) => [`Deployment/${d.metadata?.name}`, String(get(e, 'name')), get(e, 'value')] as const))),
    ];
    for (const [where, k, v] of settings) {
      if (k === 'GATEHOUSE_ENV' && v !== 'production') problems.push(`${where}: GATEHOUSE_ENV is ${JSON.stringify(v)} in a production tree`);
      if (k === 'GATEHOUSE_STORE' && v !== 'mongodb') problems.push(`${where}: GATEHOUSE_STORE is ${JSON.stringify(v)}; replicas share one MongoDB replica set`);
      if (k === 'GATEHOUSE_INSECURE_PLAINTEXT' || k === 'GATEHOUSE_SECRETS_DEV_AUTO_UNSEAL' || k === 'GATEHOUSE_DEV_ISSUER_KEY_FILE') problems.push(`${where}: ${k} is a dev setting`);
    }
  }
  const known = new Set(facts.services.map((s) => s.name));
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    const kind = get(d, 'spec', 'template', 'metadata', 'labels', CALLER_KIND_LABEL);
    if (kind === 'service' && !known.has(String(d.metadata?.name))) {
      problems.push(`Deployment/${d.metadata?.name}: labelled as a Gatehouse service, but the code defines no such service`);
    }
    const podNonRoot = get(d, 'spec', 'template', 'spec', 'securityContext', 'runAsNonRoot') === true;
    for (const field of ['initContainers', 'containers']) {
      for (const c of list(get(d, 'spec', 'template', 'spec', field))) {
        if (isMap(c)) problems.push(...containerProblems(`Deployment/${d.metadata?.name} ${field} ${String(c['name'])}`, c, podNonRoot));
      }
    }
  }
  for (const s of facts.services) problems.push(...serviceProblems(s, find, objects, expect));
  return problems;
}

function serviceProblems(s: ServiceFacts, find: (kind: string, name: string) => K8sObject | undefined, objects: K8sObject[], expect: K8sExpectations): string[] {
  const p: string[] = [];
  const d = find('Deployment', s.name);
  if (!d) return [`service ${s.name}: no Deployment/${s.name}`];
  const where = `Deployment/${s.name}`;
  const pod = get(d, 'spec', 'template');
  const labels = (get(pod, 'metadata', 'labels') as Map_ | undefined) ?? {};
  if (labels[APP_LABEL] !== s.name) p.push(`${where}: pod label ${APP_LABEL} is not ${s.name}`);
  if (labels[CALLER_KIND_LABEL] !== 'service' || labels[CALLER_NAME_LABEL] !== s.name) {
    p.push(`${where}: pods must carry ${CALLER_KIND_LABEL}=service and ${CALLER_NAME_LABEL}=${s.name} (its certificate is urn:gatehouse:service:${s.name})`);
  }
  if (Number(get(d, 'spec', 'replicas') ?? 1) < expect.minReplicas) p.push(`${where}: fewer than ${expect.minReplicas} replicas`);
  const annotations = (get(pod, 'metadata', 'annotations') as Map_ | undefined) ?? {};
  if (annotations['prometheus.io/scrape'] !== 'true' || annotations['prometheus.io/port'] !== String(s.metricsPort)) {
    p.push(`${where}: Prometheus annotations missing or not on the metrics port ${s.metricsPort}`);
  }
  const main = list(get(pod, 'spec', 'containers')).find((c) => get(c, 'name') === s.name);
  if (!isMap(main)) return [...p, `${where}: no container named ${s.name}`];
  for (const probe of ['readinessProbe', 'livenessProbe']) {
    if (!probeUsesGrpcHealth(main[probe], s.name)) p.push(`${where}: ${probe} does not ask grpc.health.v1 (grpc probe, or node ${PROBE_SCRIPT} ${s.name})`);
  }
  const ports = list(main['ports']);
  const portOf = (n: string) => get(ports.find((x) => get(x, 'name') === n), 'containerPort');
  if (portOf('grpc') !== s.port) p.push(`${where}: container port grpc is not ${s.port}`);
  if (portOf('metrics') !== s.metricsPort) p.push(`${where}: container port metrics is not ${s.metricsPort}`);
  const volumes = list(get(pod, 'spec', 'volumes'));
  const tls = volumes.find((v) => get(v, 'secret', 'secretName') === `gatehouse-tls-${s.name}`);
  const tlsMount = list(main['volumeMounts']).find((m) => get(m, 'name') === get(tls, 'name'));
  if (!tls || get(tlsMount, 'readOnly') !== true) p.push(`${where}: Secret gatehouse-tls-${s.name} is not mounted read-only`);

  const svc = find('Service', s.name);
  const svcPort = (n: string) => get(list(get(svc, 'spec', 'ports')).find((x) => get(x, 'name') === n), 'port');
  if (!svc) p.push(`service ${s.name}: no Service/${s.name}`);
  else if (svcPort('grpc') !== s.port || svcPort('metrics') !== s.metricsPort) p.push(`Service/${s.name}: ports grpc ${s.port} and metrics ${s.metricsPort} expected`);
  const selects = (o: K8sObject | undefined, path: string[]) => get(get(o, ...path), APP_LABEL) === s.name;
  const pdb = find('PodDisruptionBudget', s.name);
  if (!pdb || !selects(pdb, ['spec', 'selector', 'matchLabels'])) p.push(`service ${s.name}: no PodDisruptionBudget selecting its pods`);
  const hpa = find('HorizontalPodAutoscaler', s.name);
  if (!hpa || get(hpa, 'spec', 'scaleTargetRef', 'name') !== s.name) p.push(`service ${s.name}: no HorizontalPodAutoscaler for Deployment/${s.name}`);
  else if (Number(get(hpa, 'spec', 'minReplicas')) < expect.minReplicas || Number(get(hpa, 'spec', 'maxReplicas')) < Number(get(hpa, 'spec', 'minReplicas'))) {
    p.push(`HorizontalPodAutoscaler/${s.name}: minReplicas below ${expect.minReplicas} or maxReplicas below minReplicas`);
  }
  const np = find('NetworkPolicy', s.name);
  if (!np || !selects(np, ['spec', 'podSelector', 'matchLabels']) || !list(get(np, 'spec', 'policyTypes')).includes('Ingress')) {
    p.push(`service ${s.name}: no Ingress NetworkPolicy selecting its pods`);
  } else {
    const wanted = callersOf(s.policy);
    const { callers, problems } = networkPolicyCallers(np, s.port);
    p.push(...problems);
    const missing = [...wanted].filter((c) => !callers.has(c));
    const extra = [...callers].filter((c) => !wanted.has(c));
    if (missing.length > 0) p.push(`NetworkPolicy/${s.name}: ${s.name}'s caller policy admits ${missing.join(', ')}, which the NetworkPolicy does not`);
    if (extra.length > 0) p.push(`NetworkPolicy/${s.name}: admits ${extra.join(', ')}, which ${s.name}'s caller policy does not`);
  }
  if (expect.serviceMonitors) {
    const sm = objects.find((o) => o.kind === 'ServiceMonitor' && o.metadata?.name === s.name);
    const onMetrics = list(get(sm, 'spec', 'endpoints')).some((e) => get(e, 'port') === 'metrics');
    if (!sm || !selects(sm, ['spec', 'selector', 'matchLabels']) || !onMetrics) p.push(`service ${s.name}: no ServiceMonitor scraping its metrics port`);
  }
  return p;
}

// ------------------------------------------------------------------------------------------
// Dockerfiles

/** One instruction of a Dockerfile (continuations joined). */
export interface Instruction {
  op: string;
  args: string;
}

/** Parses a Dockerfile into its stages' instructions. */
export function parseDockerfile(text: string): Array<{ from: string; name: string | undefined; instructions: Instruction[] }> {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  const stages: Array<{ from: string; name: string | undefined; instructions: Instruction[] }> = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/).filter((w) => !w.startsWith('--platform='));
      stages.push({ from: image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else stages.at(-1)?.instructions.push({ op, args });
  }
  return stages;
}

/** What a service image (or the CLI's, `service` undefined) must be. */
export function checkDockerfile(file: string, text: string, app: string, service: ServiceFacts | undefined): string[] {
  const p: string[] = [];
  const stages = parseDockerfile(text);
  if (stages.length < 2) p.push(`${file}: not a multi-stage build`);
  for (const s of stages) if (s.from !== 'node:20-bookworm-slim') p.push(`${file}: stage ${s.name ?? s.from} is FROM ${s.from}, not node:20-bookworm-slim`);
  const runtime = stages.at(-1);
  if (!runtime) return [...p, `${file}: no stage`];
  const ops = (op: string, st = runtime) => st.instructions.filter((i) => i.op === op);
  const all = stages.flatMap((s) => s.instructions);
  const build = all.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ; ');
  if (!/npm ci\b/.test(build)) p.push(`${file}: the build does not run npm ci`);
  if (!build.includes('tools/codegen/generate-contracts.mjs')) p.push(`${file}: the build does not generate the contracts`);
  if (!build.includes(`tools/build/bundle.mjs ${app}`)) p.push(`${file}: the build does not bundle ${app}`);
  for (const run of ops('RUN')) if (/npm (ci|install)\b/.test(run.args)) p.push(`${file}: the runtime stage installs packages (${run.args.slice(0, 60)})`);
  const copies = ops('COPY').map((i) => i.args);
  const modulesFrom = copies.map((c) => /--from=(\S+)\s+\S*node_modules/.exec(c)?.[1]).find(Boolean);
  const depsStage = stages.find((s) => s.name === modulesFrom);
  if (!depsStage || !depsStage.instructions.some((i) => i.op === 'RUN' && /npm ci\b[^;&]*--omit=dev/.test(i.args))) {
    p.push(`${file}: the runtime's node_modules do not come from an 'npm ci --omit=dev' stage (production dependencies only)`);
  }
  if (!depsStage || !depsStage.instructions.some((i) => i.op === 'RUN' && /better-sqlite3/.test(i.args))) p.push(`${file}: better-sqlite3 is not built for the runtime base image`);
  if (!copies.some((c) => c.includes(`dist/apps/${app}/main.mjs`))) p.push(`${file}: the runtime does not carry dist/apps/${app}/main.mjs`);
  const user = ops('USER').at(-1)?.args;
  if (!user || /^(root|0)(:|$)/.test(user)) p.push(`${file}: the runtime does not run as a non-root USER`);
  const entry = ops('ENTRYPOINT').at(-1)?.args ?? '';
  if (!entry.includes('/app/main.mjs')) p.push(`${file}: ENTRYPOINT does not run /app/main.mjs`);
  const volumes = ops('VOLUME').map((i) => i.args).join(' ');
  if (!volumes.includes('/tmp')) p.push(`${file}: /tmp is not a declared VOLUME (read-only root filesystem)`);
  for (const env of ops('ENV', runtime).concat(all.filter((i) => i.op === 'ARG'))) {
    for (const m of env.args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S*)/g)) {
      const bad = inlinedSecret(m[1]!, m[2]!.replace(/^"|"$/g, ''));
      if (bad) p.push(`${file}: ${env.op} ${bad}`);
    }
  }
  if (PEM.test(text)) p.push(`${file}: holds a PEM block`);
  const health = ops('HEALTHCHECK').at(-1)?.args;
  if (service) {
    if (!volumes.includes('/var/lib/gatehouse')) p.push(`${file}: the data dir /var/lib/gatehouse is not a declared VOLUME`);
    if (!health || !health.includes(PROBE_SCRIPT.slice('/app/'.length)) || !health.includes(`"${service.name}"`)) {
      p.push(`${file}: HEALTHCHECK does not ask grpc.health.v1 through health-probe.mjs ${service.name}`);
    }
    if (!copies.some((c) => c.includes('health-probe.mjs'))) p.push(`${file}: the runtime does not carry the health probe`);
    const envs = ops('ENV').map((i) => i.args).join(' ');
    if (!new RegExp(`GATEHOUSE_PORT=${service.port}\\b`).test(envs)) p.push(`${file}: GATEHOUSE_PORT is not ${service.port}`);
    if (!new RegExp(`GATEHOUSE_METRICS_PORT=${service.metricsPort}\\b`).test(envs)) p.push(`${file}: GATEHOUSE_METRICS_PORT is not ${service.metricsPort}`);
    if (!/GATEHOUSE_HOST=0\.0\.0\.0/.test(envs)) p.push(`${file}: GATEHOUSE_HOST is not 0.0.0.0 (a container listens on its interfaces)`);
    const expose = ops('EXPOSE').map((i) => i.args).join(' ');
    if (!expose.includes(String(service.port)) || !expose.includes(String(service.metricsPort))) p.push(`${file}: EXPOSE lacks ${service.port} or ${service.metricsPort}`);
  } else if (!health) {
    p.push(`${file}: no HEALTHCHECK instruction (HEALTHCHECK NONE says the CLI serves nothing)`);
  }
  return p;
}

/** .dockerignore keeps installed modules, build output, caches, state, keys and certificates out of the context. */
export function checkDockerignore(text: string): string[] {
  const lines = new Set(text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  const want = [['node_modules', '**/node_modules'], ['dist'], ['.gatehouse'], ['.nx'], ['.git'], ['*.key', '**/*.key'], ['*.pem', '**/*.pem']];
  return want.filter((alts) => !alts.some((a) => lines.has(a))).map((alts) => `.dockerignore: does not exclude ${alts[0]}`);
}

// ------------------------------------------------------------------------------------------
// Compose

/** The compose file: MongoDB replica set, two replicas per service, the init jobs, hardening. */
export function checkCompose(compose: Map_, facts: CodeFacts): string[] {
  const p: string[] = [];
  const services = (compose['services'] as Record<string, Map_> | undefined) ?? {};
  const entries = Object.entries(services);
  const mongos = entries.filter(([, s]) => String(s['image'] ?? '').startsWith('mongo:') && list(s['command']).includes('--replSet'));
  if (mongos.length < 3) p.push(`compose: ${mongos.length} MongoDB replica-set members, 3 expected`);
  const init = entries.find(([, s]) => JSON.stringify(s['command'] ?? '').includes('rs.initiate'));
  if (!init) p.push('compose: no job runs rs.initiate');
  const pki = entries.find(([, s]) => list(s['entrypoint']).join(' ').includes('make-pki'));
  if (!pki) p.push('compose: no PKI init job (make-pki)');
  const unseal = entries.find(([, s]) => list(s['entrypoint']).join(' ').includes('unseal.sh'));
  if (!unseal) p.push('compose: no job unseals secrets (unseal.sh)');
  else if (list(unseal[1]['secrets']).length === 0) p.push('compose: the unseal job reads no operator-provided secret file');
  for (const [name, s] of entries) {
    if (s['read_only'] !== true) p.push(`compose ${name}: read_only is not true`);
    if (!list(s['cap_drop']).includes('ALL')) p.push(`compose ${name}: cap_drop does not include ALL`);
    if (!list(s['security_opt']).some((o) => String(o).startsWith('no-new-privileges'))) p.push(`compose ${name}: no-new-privileges is not set`);
    if (s['privileged'] === true) p.push(`compose ${name}: privileged`);
    if (String(s['user'] ?? '').match(/^(root|0)(:|$)/)) p.push(`compose ${name}: runs as root`);
    const env = s['environment'];
    for (const [k, v] of Object.entries(isMap(env) ? env : {})) {
      const bad = inlinedSecret(k, v);
      if (bad) p.push(`compose ${name}: ${bad}`);
    }
  }
  for (const svc of facts.services) {
    const replicas = entries.filter(([, s]) => String(s['image'] ?? '').startsWith(`gatehouse/${svc.name}:`));
    if (replicas.length < 2) p.push(`compose: ${replicas.length} replicas of ${svc.name}, 2 expected`);
    for (const [name, s] of replicas) {
      const env = (s['environment'] as Map_ | undefined) ?? {};
      if (env['GATEHOUSE_STORE'] !== 'mongodb' || !String(env['MONGO_URL'] ?? '').includes('replicaSet=')) p.push(`compose ${name}: not on the MongoDB replica set`);
      const aliases = list(get(s, 'networks', 'default', 'aliases'));
      if (!aliases.includes(svc.name)) p.push(`compose ${name}: not reachable as ${svc.name} (network alias)`);
      if (isMap(s['healthcheck']) && s['healthcheck']['disable'] === true) p.push(`compose ${name}: the image's health check is disabled`);
      const tls = list(s['volumes']).find((v) => get(v, 'target') === env['GATEHOUSE_TLS_DIR']);
      if (!tls || get(tls, 'read_only') !== true || get(tls, 'volume', 'subpath') !== svc.name) p.push(`compose ${name}: its own certificate folder is not mounted read-only at GATEHOUSE_TLS_DIR`);
    }
  }
  return p;
}

// ------------------------------------------------------------------------------------------
// Observability

/** PromQL words that are not metric names. */
const PROMQL_WORDS = new Set(
  (
    'sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring group_left group_right ' +
    'and or unless bool offset rate irate increase delta idelta deriv predict_linear histogram_quantile abs ceil floor round ' +
    'clamp clamp_min clamp_max vector scalar time timestamp label_replace label_join sort sort_desc absent absent_over_time ' +
    'avg_over_time min_over_time max_over_time sum_over_time count_over_time last_over_time changes resets inf nan'
  ).split(' '),
);
/** Series Prometheus makes itself. */
export const PROMETHEUS_SERIES = new Set(['ALERTS', 'ALERTS_FOR_STATE', 'up']);

/** The metric names a PromQL expression reads. */
export function metricsIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$[A-Za-z_]+/g, '');
  const names = stripped.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n) && !/^\d/.test(n)))];
}

/** Every metric a dashboard or rule names is one the services export (or Prometheus' own). */
export function checkMetricNames(where: string, exprs: string[], exported: Set<string>): string[] {
  const p: string[] = [];
  for (const e of exprs) {
    for (const m of metricsIn(e)) if (!exported.has(m) && !PROMETHEUS_SERIES.has(m)) p.push(`${where}: ${m} is not a metric the services export (in: ${e.slice(0, 80)})`);
  }
  return p;
}

/** Every expression of a Grafana dashboard's panels. */
export function dashboardExprs(dashboard: Map_): string[] {
  return list(dashboard['panels']).flatMap((panel) => list(get(panel, 'targets')).map((t) => String(get(t, 'expr') ?? '')));
}

/** Every expression of a Prometheus rule file. */
export function ruleExprs(rules: Map_): string[] {
  return list(rules['groups']).flatMap((g) => list(get(g, 'rules')).map((r) => String(get(r, 'expr') ?? '')));
}
