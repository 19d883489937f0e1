/**
 * A small kustomize for the checks (kustomize itself is not installed here): it resolves a
 * kustomization's resources (files and folders with their own kustomization), strategic-merge
 * patches matched by kind and name, `images`, `namespace` and `labels` (metadata only). Any other
 * field is refused by name, so an overlay never uses a feature these checks would silently get
 * wrong.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** One Kubernetes object, as parsed. */
export type K8sObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
};

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'patches', 'images', 'namespace', 'labels']);
/** Lists merged element by element on this key, as kubectl's strategic merge does for these fields. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  volumes: 'name',
  volumeMounts: 'name',
  env: 'name',
  ports: 'containerPort',
  imagePullSecrets: 'name',
};

/** Every document of a YAML file; a syntax error names the file. */
export function loadYaml(file: string): unknown[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'), { merge: true });
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as unknown;
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A strategic merge of `patch` onto `base` (a copy; null deletes a key). */
export function strategicMerge(base: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(base) && Array.isArray(patch) && MERGE_KEYS[field]) {
    const key = MERGE_KEYS[field];
    const out = base.map((b) => structuredClone(b) as unknown);
    for (const p of patch) {
      const i = out.findIndex((b) => isMap(b) && isMap(p) && b[key] === p[key]);
      if (i >= 0) out[i] = strategicMerge(out[i], p);
      else out.push(structuredClone(p));
    }
    return out;
  }
  if (isMap(base) && isMap(patch)) {
    const out: Record<string, unknown> = structuredClone(base);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = k in out ? strategicMerge(out[k], v, k) : structuredClone(v);
    }
    return out;
  }
  return structuredClone(patch);
}

const objectKey = (o: K8sObject) => `${o.kind}/${o.metadata?.name}`;

/** The objects `kubectl apply -k dir` would apply, as far as the features above go. */
export function resolveKustomization(dir: string): K8sObject[] {
  const file = ['kustomization.yaml', 'kustomization.yml'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  const k = loadYaml(file)[0] as Record<string, unknown>;
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length > 0) throw new Error(`${file}: ${unsupported.join(', ')} not supported by deploy/checks/kustomize.ts; extend it or keep the overlay simpler`);

  let objects: K8sObject[] = [];
  for (const r of (k['resources'] as string[] | undefined) ?? []) {
    const target = path.resolve(dir, r);
    if (fs.statSync(target).isDirectory()) objects.push(...resolveKustomization(target));
    else objects.push(...(loadYaml(target) as K8sObject[]));
  }
  for (const p of (k['patches'] as Array<Record<string, unknown>> | undefined) ?? []) {
    if (Object.keys(p).some((key) => key !== 'path')) throw new Error(`${file}: only patches with a path (strategic merge by kind and name) are supported`);
    for (const patch of loadYaml(path.resolve(dir, p['path'] as string)) as K8sObject[]) {
      const i = objects.findIndex((o) => objectKey(o) === objectKey(patch));
      if (i < 0) throw new Error(`${file}: patch ${objectKey(patch)} matches no resource`);
      objects[i] = strategicMerge(objects[i], patch) as K8sObject;
    }
  }
  for (const l of (k['labels'] as Array<{ pairs: Record<string, string>; includeSelectors?: boolean }> | undefined) ?? []) {
    if (l.includeSelectors) throw new Error(`${file}: labels with includeSelectors are not supported`);
    objects = objects.map((o) => ({ ...o, metadata: { ...o.metadata, labels: { ...o.metadata?.labels, ...l.pairs } } }));
  }
  const images = (k['images'] as Array<{ name: string; newName?: string; newTag?: string }> | undefined) ?? [];
  if (images.length > 0) objects = objects.map((o) => retag(o, images));
  const namespace = k['namespace'] as string | undefined;
  if (namespace) objects = objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
  return objects;
}

function retag(o: K8sObject, images: Array<{ name: string; newName?: string; newTag?: string }>): K8sObject {
  const copy = structuredClone(o);
  const spec = (copy['spec'] as { template?: { spec?: Record<string, unknown> } } | undefined)?.template?.spec;
  for (const list of ['containers', 'initContainers']) {
    for (const c of (spec?.[list] as Array<{ image?: string }> | undefined) ?? []) {
      const [name = '', tag] = (c.image ?? '').split(':');
      const rule = images.find((i) => i.name === name);
      if (rule) c.image = `${rule.newName ?? name}:${rule.newTag ?? tag}`;
    }
  }
  return copy;
}
