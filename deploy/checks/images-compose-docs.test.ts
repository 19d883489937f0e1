/**
 * Issue 15 items 1-3 and 5: the Dockerfiles, the .dockerignore, the compose file and
 * docs/operations.md hold against the code (services, ports, variables), and each invariant fails
 * on a mutated copy.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { codeFacts, ROOT, type CodeFacts } from './code-facts.js';
import { loadYaml } from './kustomize.js';
import { checkCompose, checkDockerfile, checkDockerignore } from './invariants.js';

const facts = codeFacts();
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const dockerfileOf = (app: string) => `deploy/docker/${app}.Dockerfile`;
const apps = [...facts.services.map((s) => s.name), 'cli'];

/** Problems of every Dockerfile of the services in `f`, and the CLI's. */
function dockerProblems(f: CodeFacts, text: (app: string) => string | undefined = (app) => (fs.existsSync(path.join(ROOT, dockerfileOf(app))) ? read(dockerfileOf(app)) : undefined)): string[] {
  return [...f.services.map((s) => s.name), 'cli'].flatMap((app) => {
    const t = text(app);
    if (t === undefined) return [`${dockerfileOf(app)}: missing`];
    return checkDockerfile(dockerfileOf(app), t, app, f.services.find((s) => s.name === app));
  });
}

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const compose = () => loadYaml(path.join(ROOT, 'deploy/compose/compose.yaml'))[0] as Any;

/** Every variable of `f` that docs/operations.md does not name in backquotes. */
function undocumented(f: CodeFacts, doc: string): string[] {
  const vars = [...new Set(f.services.flatMap((s) => s.variables))];
  return vars.filter((v) => !doc.includes(`\`${v}\``)).map((v) => `docs/operations.md does not document ${v}`);
}

describe('Dockerfiles (issue 15 item 2)', () => {
  test(`one per service and one for the CLI (${apps.join(', ')}), each holding every invariant`, () => {
    assert.deepEqual(dockerProblems(facts), []);
  });

  test('.dockerignore keeps modules, build output, state, keys and certificates out', () => {
    assert.deepEqual(checkDockerignore(read('.dockerignore')), []);
    assert.deepEqual(checkDockerignore(read('.dockerignore').replace(/^\.gatehouse$/m, '')), ['.dockerignore: does not exclude .gatehouse']);
    assert.deepEqual(checkDockerignore(read('.dockerignore').replace(/^\*\*\/\*\.key$/m, '')), ['.dockerignore: does not exclude *.key']);
  });

  const mutated = (app: string, edit: (t: string) => string) => (a: string) => {
    const t = read(dockerfileOf(a));
    return a === app ? edit(t) : t;
  };
  const cases: Array<[string, string, (t: string) => string, RegExp]> = [
    ['USER removed', 'identity', (t) => t.replace(/^USER .*$/m, ''), /identity\.Dockerfile: the runtime does not run as a non-root USER/],
    ['USER root', 'audit', (t) => t.replace(/^USER .*$/m, 'USER root'), /audit\.Dockerfile: the runtime does not run as a non-root USER/],
    ['HEALTHCHECK removed', 'secrets', (t) => t.replace(/^HEALTHCHECK .*$/m, ''), /secrets\.Dockerfile: HEALTHCHECK does not ask grpc\.health\.v1/],
    ['HEALTHCHECK of another service', 'allowlist', (t) => t.replace(/health-probe\.mjs", "allowlist"/, 'health-probe.mjs", "identity"'), /allowlist\.Dockerfile: HEALTHCHECK/],
    ['a fat base image', 'impersonation', (t) => t.replace('FROM node:20-bookworm-slim AS runtime', 'FROM node:20 AS runtime'), /impersonation\.Dockerfile: stage runtime is FROM node:20/],
    ['dev dependencies in the runtime', 'identity', (t) => t.replace('npm ci --omit=dev', 'npm ci'), /identity\.Dockerfile: the runtime's node_modules do not come from an 'npm ci --omit=dev' stage/],
    ['npm install in the runtime stage', 'audit', (t) => t.replace('USER 10001:10001', 'RUN npm install left-pad\nUSER 10001:10001'), /audit\.Dockerfile: the runtime stage installs packages/],
    ['no data volume', 'secrets', (t) => t.replace('VOLUME ["/var/lib/gatehouse", "/tmp"]', 'VOLUME ["/tmp"]'), /secrets\.Dockerfile: the data dir \/var\/lib\/gatehouse is not a declared VOLUME/],
    ['wrong port', 'allowlist', (t) => t.replace('GATEHOUSE_PORT=7102', 'GATEHOUSE_PORT=7100'), /allowlist\.Dockerfile: GATEHOUSE_PORT is not 7102/],
    ['a key in ENV', 'identity', (t) => t.replace('NODE_ENV=production', 'NODE_ENV=production GATEHOUSE_SMS_API_KEY=sk_live_1'), /identity\.Dockerfile: ENV GATEHOUSE_SMS_API_KEY is given as a literal value/],
    ['single stage', 'cli', (t) => t.replace(/^FROM (--platform=\S+ )?node:20-bookworm-slim AS (build|deps)$/gm, '# no stage'), /cli\.Dockerfile: not a multi-stage build/],
    ['no contracts generated', 'audit', (t) => t.replace(' && node tools/codegen/generate-contracts.mjs', ''), /audit\.Dockerfile: the build does not generate the contracts/],
  ];
  for (const [what, app, edit, expected] of cases) {
    test(`fails when broken: ${what} (${app})`, () => {
      const problems = dockerProblems(facts, mutated(app, edit));
      assert.ok(problems.some((p) => expected.test(p)), `expected ${expected}, got:\n  ${problems.join('\n  ') || '(none)'}`);
    });
  }

  test('fails when a service is added to the code without its Dockerfile', () => {
    const more = structuredClone(facts);
    more.services.push({ ...structuredClone(more.services[0]!), name: 'billing', port: 7106, metricsPort: 9106 });
    assert.ok(dockerProblems(more).includes('deploy/docker/billing.Dockerfile: missing'));
  });
});

describe('compose (issue 15 item 3)', () => {
  test('three MongoDB members and rs.initiate, two replicas per service, PKI and unseal jobs, hardened', () => {
    assert.deepEqual(checkCompose(compose(), facts), []);
  });

  const cases: Array<[string, (c: Any) => void, RegExp]> = [
    ['a MongoDB member removed', (c) => delete c['services']['mongo-3'], /compose: 2 MongoDB replica-set members, 3 expected/],
    ['a replica removed', (c) => delete c['services']['identity-2'], /compose: 1 replicas of identity, 2 expected/],
    ['a writable root filesystem', (c) => (c['services']['audit-1'].read_only = false), /compose audit-1: read_only is not true/],
    ['capabilities kept', (c) => delete c['services']['secrets-2'].cap_drop, /compose secrets-2: cap_drop does not include ALL/],
    ['root', (c) => (c['services']['mongo-1'].user = 'root'), /compose mongo-1: runs as root/],
    ['no unseal job', (c) => delete c['services']['secrets-unseal'], /compose: no job unseals secrets/],
    ['no PKI job', (c) => delete c['services']['pki-init'], /compose: no PKI init job/],
    ['SQLite per replica', (c) => (c['services']['allowlist-1'].environment.GATEHOUSE_STORE = 'sqlite'), /compose allowlist-1: not on the MongoDB replica set/],
    ['a password in the environment', (c) => (c['services']['impersonation-1'].environment.MONGO_URL = 'mongodb://u:pw@mongo-1/?replicaSet=rs0'), /compose impersonation-1: MONGO_URL holds a URL with a password/],
    ['another caller\'s certificates', (c) => (c['services']['identity-1'].volumes[0].volume.subpath = 'audit'), /compose identity-1: its own certificate folder is not mounted/],
  ];
  for (const [what, mutate, expected] of cases) {
    test(`fails when broken: ${what}`, () => {
      const c = compose();
      mutate(c);
      const problems = checkCompose(c, facts);
      assert.ok(problems.some((p) => expected.test(p)), `expected ${expected}, got:\n  ${problems.join('\n  ') || '(none)'}`);
    });
  }
});

describe('docs/operations.md (issue 15 item 1)', () => {
  const doc = read('docs/operations.md');

  test('documents every variable each service reads (its config.ts, the session, base and host shapes)', (t) => {
    assert.deepEqual(undocumented(facts, doc), []);
    t.diagnostic(`${new Set(facts.services.flatMap((s) => s.variables)).size} variables documented`);
  });

  test('fails when the code reads a variable the guide does not name', () => {
    const more = structuredClone(facts);
    more.services[0]!.variables.push('GATEHOUSE_NEW_KNOB');
    assert.deepEqual(undocumented(more, doc), ['docs/operations.md does not document GATEHOUSE_NEW_KNOB']);
  });

  test('has a section per service and the operations the issue lists', () => {
    for (const s of facts.services) assert.match(doc, new RegExp(`^### ${s.name}\\b`, 'm'), `a section for ${s.name}`);
    for (const heading of ['Start order', 'Unsealing', 'Certificate rotation', 'Key rotation', 'Backup and restore']) {
      assert.match(doc, new RegExp(`^## ${heading}`, 'm'), `a section "${heading}"`);
    }
  });
});
