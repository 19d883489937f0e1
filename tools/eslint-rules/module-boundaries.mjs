/**
 * ESLint rule `gatehouse/module-boundaries`: enforces the workspace's architecture.
 *
 * - Project tags (`scope:*`, `type:*`, read from every project.json) must satisfy the
 *   depConstraints declared in eslint.config.mjs. This is how "apps never import apps" holds.
 * - Domain code (`apps/<svc>/src/domain/**`) imports no gRPC, no driver and no transport: it
 *   stays testable and portable behind its ports (DESIGN.md §1).
 * - No deep imports into another project's files: only its package entry point (its index.ts).
 *
 * We keep this rule local rather than pulling @nx/eslint-plugin, whose 23.3 line is not published.
 */
import fs from 'node:fs';
import path from 'node:path';

/** @type {Map<string, {root: string, name: string, packageName: string | undefined, tags: string[]}[]>} */
const cache = new Map();

/** Finds every project.json below apps/, libs/ and tools/ and reads its tags and package name. */
function loadProjects(workspaceRoot) {
  const hit = cache.get(workspaceRoot);
  if (hit) return hit;
  const projects = [];
  const walk = (dir, depth) => {
    if (depth > 3 || !fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      const pj = path.join(full, 'project.json');
      if (fs.existsSync(pj)) {
        const project = JSON.parse(fs.readFileSync(pj, 'utf8'));
        const pkgPath = path.join(full, 'package.json');
        const packageName = fs.existsSync(pkgPath) ? JSON.parse(fs.readFileSync(pkgPath, 'utf8')).name : undefined;
        projects.push({ root: full, name: project.name, packageName, tags: project.tags ?? [] });
      }
      walk(full, depth + 1);
    }
  };
  for (const top of ['apps', 'libs', 'tools']) walk(path.join(workspaceRoot, top), 0);
  // The deepest root wins when roots nest (tools/ holds sub-projects).
  projects.sort((a, b) => b.root.length - a.root.length);
  cache.set(workspaceRoot, projects);
  return projects;
}

function projectOfFile(projects, file) {
  return projects.find((p) => file === p.root || file.startsWith(p.root + path.sep));
}

function tagMatches(tags, pattern) {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return tags.some((t) => t.startsWith(pattern.slice(0, -1)));
  return tags.includes(pattern);
}

/** @type {import('eslint').Rule.RuleModule} */
export const moduleBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'Enforce project tags, depConstraints and the domain import rule' },
    schema: [
      {
        type: 'object',
        properties: {
          workspaceRoot: { type: 'string' },
          depConstraints: { type: 'array' },
          domainForbidden: { type: 'array', items: { type: 'string' } },
          domainForbiddenRelative: { type: 'array', items: { type: 'string' } },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      notAllowed:
        'Project "{{from}}" ({{fromTags}}) may not import "{{to}}" ({{toTags}}): depConstraint "{{constraint}}" allows only [{{allowed}}].',
      appImportsApp: 'Apps never import apps: "{{from}}" imports app "{{to}}". Move the shared code into a lib.',
      deepImport: 'Import "{{to}}" through its package entry point "{{pkg}}", not its files.',
      domainForbidden:
        'Domain code imports no gRPC, driver or transport: "{{source}}" is forbidden in {{file}}. Put it behind a port.',
      unknownProject: 'File {{file}} belongs to no project (no project.json above it).',
    },
  },
  create(context) {
    const options = context.options[0] ?? {};
    const workspaceRoot = options.workspaceRoot ?? process.cwd();
    const projects = loadProjects(workspaceRoot);
    const file = path.resolve(context.filename);
    const from = projectOfFile(projects, file);
    if (!from) return {};
    const rel = path.relative(workspaceRoot, file).split(path.sep).join('/');
    const inDomain = /^apps\/[^/]+\/src\/domain\//.test(rel);
    // Tests (and their fixtures) may use the shared testing lib, whatever their project's type.
    const isTest = /\.test\.[cm]?ts$/.test(rel) || rel.includes('/test-fixtures/');
    const domainForbidden = options.domainForbidden ?? [];
    const domainForbiddenRelative = options.domainForbiddenRelative ?? [];

    /** @param {import('estree').Node} node @param {string} source */
    function check(node, source) {
      if (inDomain) {
        const bad =
          domainForbidden.some((f) => source === f || source.startsWith(f + '/')) ||
          (source.startsWith('.') &&
            domainForbiddenRelative.some((seg) => path.resolve(path.dirname(file), source).split(path.sep).includes(seg)));
        if (bad) context.report({ node, messageId: 'domainForbidden', data: { source, file: rel } });
      }
      let to;
      if (source.startsWith('.')) {
        const target = path.resolve(path.dirname(file), source);
        to = projectOfFile(projects, target);
        if (to && to !== from) {
          context.report({ node, messageId: 'deepImport', data: { to: source, pkg: to.packageName ?? to.name } });
          return;
        }
      } else {
        to = projects.find((p) => p.packageName && (source === p.packageName || source.startsWith(p.packageName + '/')));
        if (to && source !== to.packageName && !source.startsWith(to.packageName + '/testing')) {
          context.report({ node, messageId: 'deepImport', data: { to: source, pkg: to.packageName } });
        }
      }
      if (!to || to === from) return;
      if (from.tags.includes('type:app') && to.tags.includes('type:app')) {
        context.report({ node, messageId: 'appImportsApp', data: { from: from.name, to: to.name } });
        return;
      }
      if (isTest && to.tags.includes('type:testing')) return;
      for (const c of options.depConstraints ?? []) {
        if (!tagMatches(from.tags, c.sourceTag)) continue;
        const allowed = c.onlyDependOnLibsWithTags ?? [];
        if (!allowed.some((/** @type {string} */ t) => tagMatches(to.tags, t))) {
          context.report({
            node,
            messageId: 'notAllowed',
            data: {
              from: from.name,
              fromTags: from.tags.join(', '),
              to: to.name,
              toTags: to.tags.join(', '),
              constraint: c.sourceTag,
              allowed: allowed.join(', '),
            },
          });
          return;
        }
      }
    }
    const visit = (node) => {
      if (node.source && typeof node.source.value === 'string') check(node, node.source.value);
    };
    return {
      ImportDeclaration: visit,
      ExportNamedDeclaration: visit,
      ExportAllDeclaration: visit,
      ImportExpression: visit,
    };
  },
};

export default { rules: { 'module-boundaries': moduleBoundaries } };
