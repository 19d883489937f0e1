/**
 * Where one call's time goes, for the benches' diagnostic breakdowns (identity, secrets,
 * impersonation): the running service's domain object caught in-process, its ports wrapped in
 * timers, driven one call at a time. Kept here once so every bench catches and times the same way.
 */

/** Calls and total time of one port method. */
export interface PortStat {
  calls: number;
  ms: number;
}

/**
 * Catches `this` of the next call of `method` on instances of `cls` (the services keep their
 * domain objects inside the RPC binding, where a bench cannot reach them): patches the
 * prototype until `release()`, keeping the first instance seen.
 */
export function catchThis<T extends object>(cls: { prototype: T }, method: keyof T & string): { caught: () => T | undefined; release: () => void } {
  const proto = cls.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, method) as PropertyDescriptor;
  const fn = original.value as (...args: unknown[]) => unknown;
  let caught: T | undefined;
  Object.defineProperty(proto, method, {
    ...original,
    value: function (this: T, ...args: unknown[]) {
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- catching the service's own instance is the point
      caught ??= this;
      return fn.apply(this, args);
    },
  });
  return { caught: () => caught, release: () => Object.defineProperty(proto, method, original) };
}

/**
 * The service's instance of `cls`, caught as `this` of `method` during `trigger` (one RPC that
 * reaches it and changes nothing); the prototype is restored at once. Throws if it was not reached.
 */
export async function catchInstance<T extends object>(cls: { prototype: T; name: string }, method: keyof T & string, trigger: () => Promise<unknown>): Promise<T> {
  const c = catchThis(cls, method);
  try {
    await trigger();
  } finally {
    c.release();
  }
  const caught = c.caught();
  if (!caught) throw new Error(`${method} did not reach the ${cls.name} domain object`);
  return caught;
}

/** Timers wrapped around a domain object's ports (see {@link timePorts}). */
export interface PortTimers {
  /** Per `<port label>.<method>`, in the order of first call. */
  readonly stats: Map<string, PortStat>;
  /** Calls are counted only while this is true (default true). */
  measuring: boolean;
  /** Counts a call timed elsewhere under `key`. */
  add(key: string, ms: number): void;
  /** Puts the original ports back. */
  restore(): void;
}

/**
 * Replaces each of `ports` on `holder` (a domain object's dependencies) by a proxy timing every
 * method call: a method answering synchronously stays synchronous, a promise is timed until it
 * settles. `label` names a port in the keys (default its property name); `keyOf` may rename a key
 * when it is counted (e.g. to nest calls made inside another).
 */
export function timePorts<K extends string>(
  holder: Record<K, object>,
  ports: readonly K[],
  opts: { label?: (port: K) => string; keyOf?: (key: string) => string } = {},
): PortTimers {
  const saved = Object.fromEntries(ports.map((p) => [p, holder[p]])) as Record<K, object>;
  const timers: PortTimers = {
    stats: new Map(),
    measuring: true,
    add(key, ms) {
      if (!timers.measuring) return;
      const k = opts.keyOf ? opts.keyOf(key) : key;
      const s = timers.stats.get(k) ?? { calls: 0, ms: 0 };
      s.calls++;
      s.ms += ms;
      timers.stats.set(k, s);
    },
    restore: () => Object.assign(holder, saved),
  };
  for (const port of ports) {
    const name = opts.label ? opts.label(port) : port;
    holder[port] = new Proxy(saved[port], {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          const key = `${name}.${String(prop)}`;
          const s = performance.now();
          const out = (v as (...a: unknown[]) => unknown).apply(target, args);
          if (out instanceof Promise) return out.finally(() => timers.add(key, performance.now() - s));
          timers.add(key, performance.now() - s);
          return out;
        };
      },
    });
  }
  return timers;
}

/**
 * Runs `op(i)` for i < n one at a time with `ports` of `holder` timed (only while an op runs);
 * returns the mean total and text lines: each port method's mean time and calls per op, and the
 * rest (the domain's own work), labels padded to `width`.
 */
export async function portBreakdown<K extends string>(
  holder: Record<K, object>,
  ports: readonly K[],
  n: number,
  op: (i: number) => Promise<unknown>,
  width: number,
): Promise<{ meanMs: number; lines: string[] }> {
  const timers = timePorts(holder, ports);
  timers.measuring = false;
  let total = 0;
  try {
    for (let i = 0; i < n; i++) {
      timers.measuring = true;
      const s = performance.now();
      await op(i);
      total += performance.now() - s;
      timers.measuring = false;
    }
  } finally {
    timers.measuring = false;
    timers.restore();
  }
  const per = (x: number) => (x / n).toFixed(3);
  const lines: string[] = [];
  let portsMs = 0;
  for (const [key, s] of timers.stats) {
    portsMs += s.ms;
    lines.push(`${key.padEnd(width)} ${per(s.ms)} ms  x${(s.calls / n).toFixed(1)}`);
  }
  lines.push(`${'rest (domain work)'.padEnd(width)} ${per(total - portsMs)} ms`);
  return { meanMs: total / n, lines };
}
