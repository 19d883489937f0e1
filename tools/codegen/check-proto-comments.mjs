#!/usr/bin/env node
// Fails if any service, rpc, message, field, oneof, enum or enum value under proto/gatehouse
// lacks a leading doc comment. buf lint STANDARD does not check comments; our contracts rule does.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const json = execFileSync(path.join(root, 'node_modules/.bin/buf'), ['build', '-o', '-#format=json'], {
  cwd: root,
  maxBuffer: 256 * 1024 * 1024,
  encoding: 'utf8',
});
const fds = JSON.parse(json);
const missing = [];
const counted = {};
for (const f of fds.file) {
  if (!f.name.startsWith('gatehouse/')) continue;
  const locs = new Map();
  for (const l of f.sourceCodeInfo?.location ?? []) locs.set((l.path ?? []).join('.'), (l.leadingComments ?? '').trim());
  const chk = (p, kind, label) => {
    counted[kind] = (counted[kind] ?? 0) + 1;
    if (!locs.get(p.join('.'))) missing.push(`${f.name}: ${kind} ${label}`);
  };
  const enumType = (e, p, prefix) => {
    const full = prefix + e.name;
    chk(p, 'enum', full);
    (e.value ?? []).forEach((v, i) => chk([...p, 2, i], 'enum value', `${full}.${v.name}`));
  };
  const message = (m, p, prefix) => {
    const full = prefix + m.name;
    chk(p, 'message', full);
    const fields = m.field ?? [];
    fields.forEach((fl, i) => chk([...p, 2, i], 'field', `${full}.${fl.name}`));
    (m.oneofDecl ?? []).forEach((o, i) => {
      const synthetic = fields.some((fl) => fl.proto3Optional && fl.oneofIndex === i);
      if (!synthetic) chk([...p, 8, i], 'oneof', `${full}.${o.name}`);
    });
    (m.nestedType ?? []).forEach((n, i) => {
      if (!n.options?.mapEntry) message(n, [...p, 3, i], `${full}.`);
    });
    (m.enumType ?? []).forEach((e, i) => enumType(e, [...p, 4, i], `${full}.`));
  };
  (f.messageType ?? []).forEach((m, i) => message(m, [4, i], ''));
  (f.enumType ?? []).forEach((e, i) => enumType(e, [5, i], ''));
  (f.service ?? []).forEach((s, i) => {
    chk([6, i], 'service', s.name);
    (s.method ?? []).forEach((r, j) => chk([6, i, 2, j], 'rpc', `${s.name}.${r.name}`));
  });
}
const summary = Object.entries(counted).map(([k, v]) => `${v} ${k}s`).join(', ');
if (missing.length > 0) {
  console.error(`proto doc comments missing on ${missing.length} element(s):\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log(`proto doc comments: all documented (${summary})`);
