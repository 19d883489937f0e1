// Where one call's time goes: the running service's Secrets domain object, its ports (secret and
// release repositories, audit sink) wrapped in timers, driven one call at a time in-process.
// Diagnostic only, after the timed sections; nothing here is part of a ratio.
import type { SecretsServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { Secrets } from '../src/domain/secrets-service.js';

/**
 * The service's Secrets instance. The host keeps it inside the RPC binding, so it is caught as
 * `this` of one SealStatus call (which changes nothing) through a patched prototype, restored at once.
 */
export async function catchSecrets(cli: SecretsServiceClient): Promise<Secrets> {
  const proto = Secrets.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'sealStatus') as PropertyDescriptor;
  const sealStatus = original.value as Secrets['sealStatus'];
  let caught: Secrets | undefined;
  Object.defineProperty(proto, 'sealStatus', {
    ...original,
    value: function (this: Secrets) {
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- catching the service's own instance is the point
      caught = this;
      return sealStatus.call(this);
    },
  });
  try {
    await call(cli, cli.sealStatus, {});
  } finally {
    Object.defineProperty(proto, 'sealStatus', original);
  }
  if (!caught) throw new Error('SealStatus did not reach the Secrets domain object');
  return caught;
}

const PORTS = ['secrets', 'releases', 'audit'] as const;

/**
 * Runs `op(i)` for i < n one at a time on `secrets` with its ports timed; returns text lines: the
 * mean total, each port method's mean time and calls per op, and the rest (checks, encryption or
 * decryption, hashing: the domain's own synchronous work).
 */
export async function portBreakdown(secrets: Secrets, n: number, op: (i: number) => Promise<unknown>): Promise<{ meanMs: number; lines: string[] }> {
  const d = (secrets as unknown as { d: Record<(typeof PORTS)[number], object> }).d;
  const saved = { ...d };
  const stats = new Map<string, { calls: number; ms: number }>();
  const add = (key: string, ms: number) => {
    const s = stats.get(key) ?? { calls: 0, ms: 0 };
    s.calls++;
    s.ms += ms;
    stats.set(key, s);
  };
  for (const port of PORTS) {
    d[port] = new Proxy(saved[port], {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        return async (...args: unknown[]) => {
          const s = performance.now();
          try {
            return (await (v as (...a: unknown[]) => unknown).apply(target, args)) as unknown;
          } finally {
            add(`${port}.${String(prop)}`, performance.now() - s);
          }
        };
      },
    });
  }
  let total = 0;
  try {
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      await op(i);
      total += performance.now() - s;
    }
  } finally {
    Object.assign(d, saved);
  }
  const per = (x: number) => (x / n).toFixed(3);
  const lines: string[] = [];
  let ports = 0;
  for (const [key, s] of stats) {
    ports += s.ms;
    lines.push(`${key.padEnd(24)} ${per(s.ms)} ms  x${(s.calls / n).toFixed(1)}`);
  }
  lines.push(`${'rest (domain work)'.padEnd(24)} ${per(total - ports)} ms`);
  return { meanMs: total / n, lines };
}
