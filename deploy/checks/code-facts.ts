/**
 * What the code says, for the deploy checks to hold the manifests to (issue 15 item 5): the
 * services, their ports, their caller policy tables, their configuration variables and the metrics
 * they export. Everything is read from the code itself (the service specs the mains run, the
 * `<svc>Policy` tables the servers enforce, the metric definitions), never restated here, so a new
 * service, caller rule, variable or metric that the manifests lack fails the checks.
 *
 * This is the one place outside the apps that reads app code: as data, in tests, never bundled.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { SERVICE_NAMES } from '@gatehouse/contracts';
import { baseConfigShape, type CallerRule } from '@gatehouse/service-kit';
import type { ServiceSpec } from '@gatehouse/service-host';
import { exportedMetricNames } from './metric-facts.js';
import { identityService } from '../../apps/identity/src/service.js';
import { allowlistService } from '../../apps/allowlist/src/service.js';
import { secretsService } from '../../apps/secrets/src/service.js';
import { impersonationService } from '../../apps/impersonation/src/service.js';
import { auditService } from '../../apps/audit/src/service.js';
import { identityPolicy } from '../../apps/identity/src/rpc/identity-rpc.js';
import { allowlistPolicy } from '../../apps/allowlist/src/rpc/allowlist-rpc.js';
import { secretsPolicy } from '../../apps/secrets/src/rpc/secrets-rpc.js';
import { impersonationPolicy } from '../../apps/impersonation/src/rpc/impersonation-rpc.js';
import { auditPolicy } from '../../apps/audit/src/rpc/audit-rpc.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** One service as the code defines it. */
export interface ServiceFacts {
  name: string;
  /** gRPC port (the spec's default) and /metrics port (gRPC + 2000, as the host computes it). */
  port: number;
  metricsPort: number;
  /** RPC name → who may call it, exactly as the server enforces it. */
  policy: Readonly<Record<string, CallerRule>>;
  /** Every variable the service reads: the host's, the base ones and its own. */
  variables: string[];
  /** Whether it ships audit events (and so exports the outbox and relay metrics). */
  shipsAuditEvents: boolean;
}

/** The whole picture the checks compare the manifests with. */
export interface CodeFacts {
  services: ServiceFacts[];
  /** Metric names a scrape of any service can carry (histograms with _bucket, _sum, _count). */
  metrics: Set<string>;
}

type AnySpec = ServiceSpec<z.ZodRawShape>;
const specs: Record<string, AnySpec> = {
  identity: identityService as unknown as AnySpec,
  allowlist: allowlistService as unknown as AnySpec,
  secrets: secretsService as unknown as AnySpec,
  impersonation: impersonationService as unknown as AnySpec,
  audit: auditService as unknown as AnySpec,
};
const policies: Record<string, Readonly<Record<string, CallerRule>>> = {
  identity: identityPolicy,
  allowlist: allowlistPolicy,
  secrets: secretsPolicy,
  impersonation: impersonationPolicy,
  audit: auditPolicy,
};

/**
 * The host's own variables (GATEHOUSE_READY_FILE, the *_ADDR of the other services, ...): its
 * shape is private to run-service.ts, so they are read from that object's source.
 */
export function hostVariables(): string[] {
  const source = fs.readFileSync(path.join(ROOT, 'libs/service-host/src/run-service.ts'), 'utf8');
  const block = /const hostShape = \{([\s\S]*?)\n\};/.exec(source)?.[1];
  if (!block) throw new Error('libs/service-host/src/run-service.ts: hostShape not found; update deploy/checks/code-facts.ts');
  return [...block.matchAll(/^\s*(GATEHOUSE_[A-Z0-9_]+|MONGO_URL):/gm)].map((m) => m[1]!);
}

/** The services the contracts define (SERVICE_NAMES), each with its spec and policy table. */
export function codeFacts(serviceNames: readonly string[] = Object.keys(SERVICE_NAMES)): CodeFacts {
  const host = hostVariables();
  const services = serviceNames.map((name): ServiceFacts => {
    const spec = specs[name];
    const policy = policies[name];
    if (!spec || !policy) {
      throw new Error(`service ${name} (SERVICE_NAMES) has no spec or policy table known to deploy/checks/code-facts.ts: add it there, then its manifests`);
    }
    return {
      name,
      port: spec.defaultPort,
      metricsPort: spec.defaultPort + 2000,
      policy,
      variables: [...new Set([...host, ...Object.keys(baseConfigShape), ...Object.keys(spec.configShape)])].sort(),
      shipsAuditEvents: spec.shipsAuditEvents,
    };
  });
  return { services, metrics: exportedMetricNames() };
}

/** The callers a policy table admits, as `kind` or `kind:name` (`*` for a public rule). */
export function callersOf(policy: Readonly<Record<string, CallerRule>>): Set<string> {
  const kinds = new Set<string>();
  const names = new Set<string>();
  for (const rule of Object.values(policy)) {
    if (rule.public) kinds.add('*');
    for (const k of rule.kinds ?? []) kinds.add(k);
    for (const n of rule.names ?? []) names.add(n);
  }
  // A named caller whose whole kind is admitted anyway needs no rule of its own.
  for (const n of names) if (!kinds.has(n.slice(0, n.indexOf(':')))) kinds.add(n);
  return kinds;
}
