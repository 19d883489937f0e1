// Where AddEntry's time goes (issue 14 item 7), measured on the running service while the bench's
// own AddEntry phases run: the store's durable commits per call (do concurrent units share a group
// commit?), the reads it makes outside a unit (each one ends an open group-commit batch), the
// session check with identity's VerifySession, the domain's steps (its ports timed) and this
// process's event-loop and CPU time per call. Diagnostic only: nothing here is part of a ratio.
import { allowlistV1, type AllowlistServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { RemoteSessionChecker, ServiceSessionVerifier } from '@gatehouse/session';
import type { SqliteStore } from '@gatehouse/storage';
import { catchInstance, timePorts, type PortTimers } from '@gatehouse/testing';
import { Allowlist } from '../src/domain/allowlist-service.js';
import type { AllowlistHarness } from '../src/test-support/harness.js';

/** Counts while `measuring`; `lines(calls)` turns the counts into per-call figures. */
export interface AddEntryProbe {
  measuring: boolean;
  lines(calls: number): string[];
  restore(): void;
}

const PORTS = ['entries', 'dailyIps', 'version', 'uow'] as const;

/**
 * Hooks the first replica of `h`: its SQLite connection (COMMITs of units, the relay's own
 * transactions), its store's reads outside a unit, its Allowlist's ports and reload, and the
 * session verifier's calls (local + identity). `officer` is a token for the ListEntries call
 * that catches the domain object (it changes nothing).
 */
export async function probeAddEntry(h: AllowlistHarness, cli: AllowlistServiceClient, officer: string): Promise<AddEntryProbe> {
  const opened = h.replicas[0]?.store;
  if (opened?.backend !== 'sqlite') throw new Error('the AddEntry breakdown reads the SQLite store of the first replica');
  const store: SqliteStore = opened.store;
  const allowlist = await catchInstance(Allowlist, 'listEntries', () => call(cli, cli.listEntries, allowlistV1.ListEntriesRequest.fromPartial({}), { bearer: officer }));
  const c = { unitCommits: 0, otherCommits: 0, readsOutside: 0, cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), verifyCalls: h.identity.verifyCalls };
  const probe = { measuring: false } as AddEntryProbe;
  const undo: Array<() => void> = [];

  const db = store.db;
  const exec = db.exec;
  db.exec = function (this: typeof db, sql: string) {
    if (probe.measuring && sql.trim().toUpperCase() === 'COMMIT') c.unitCommits++;
    return exec.call(db, sql);
  } as typeof db.exec;
  const transaction = db.transaction;
  db.transaction = function (this: typeof db, fn: (...a: unknown[]) => unknown) {
    const t = transaction.call(db, fn);
    return Object.assign((...a: unknown[]) => {
      if (probe.measuring) c.otherCommits++;
      return t(...a);
    }, t);
  } as typeof db.transaction;
  const storeExec = store.exec;
  store.exec = function <T>(tx: Parameters<SqliteStore['exec']>[0], fn: (d: typeof db) => T) {
    if (probe.measuring && tx === undefined) c.readsOutside++;
    return storeExec.call(store, tx, fn) as Promise<T>;
  } as SqliteStore['exec'];
  undo.push(() => ((db.exec = exec), (db.transaction = transaction), (store.exec = storeExec)));

  const ports = timePorts((allowlist as unknown as { d: Record<(typeof PORTS)[number], object> }).d, PORTS);
  undo.push(() => ports.restore());
  const timed = (key: string, holder: object, method: string): void => {
    const h0 = holder as Record<string, (...a: unknown[]) => unknown>;
    const had = Object.prototype.hasOwnProperty.call(h0, method);
    const orig = h0[method] as (...a: unknown[]) => unknown;
    h0[method] = function (this: unknown, ...args: unknown[]) {
      const s = performance.now();
      const k = typeof key === 'string' && key.includes('%') ? key.replace('%', args[0] === true ? 'forced' : 'if moved') : key;
      const out = orig.apply(this, args);
      if (out instanceof Promise) return out.finally(() => ports.add(k, performance.now() - s));
      ports.add(k, performance.now() - s);
      return out;
    };
    undo.push(() => (had ? (h0[method] = orig) : delete h0[method]));
  };
  timed('Allowlist.addEntry (domain, all of it)', allowlist, 'addEntry');
  timed('Allowlist.reload (%)', allowlist, 'reload');
  timed('session check (verify, all of it)', ServiceSessionVerifier.prototype, 'verify');
  timed('identity VerifySession round trip', RemoteSessionChecker.prototype, 'check');

  let measuring = false;
  Object.defineProperty(probe, 'measuring', {
    get: () => measuring,
    set: (on: boolean) => {
      if (on && !measuring) {
        c.cpu = process.cpuUsage();
        c.elu = performance.eventLoopUtilization();
        c.verifyCalls = h.identity.verifyCalls;
        c.unitCommits = c.otherCommits = c.readsOutside = 0;
        ports.stats.clear();
      }
      if (!on && measuring) {
        const cpu = process.cpuUsage(c.cpu);
        c.cpu = { user: cpu.user, system: cpu.system };
        c.elu = performance.eventLoopUtilization(c.elu);
        c.verifyCalls = h.identity.verifyCalls - c.verifyCalls;
      }
      measuring = on;
      ports.measuring = on;
    },
  });
  probe.lines = (calls: number) => breakdownLines(calls, c, ports);
  probe.restore = () => {
    probe.measuring = false;
    for (const u of undo.reverse()) u();
  };
  return probe;
}

function breakdownLines(
  calls: number,
  c: { unitCommits: number; otherCommits: number; readsOutside: number; cpu: NodeJS.CpuUsage; elu: { active: number; utilization: number }; verifyCalls: number },
  ports: PortTimers,
): string[] {
  const per = (x: number) => (x / calls).toFixed(2);
  const lines = [
    `durable commits per AddEntry ${per(c.unitCommits + c.otherCommits)} (units' group COMMITs ${per(c.unitCommits)}, the relay's own transactions ${per(c.otherCommits)}); ` +
      `store reads outside a unit ${per(c.readsOutside)} (each ends an open group-commit batch); identity VerifySession calls ${per(c.verifyCalls)}`,
    `this process (client loop, allowlist, identity and audit doubles): CPU ${((c.cpu.user + c.cpu.system) / 1000 / calls).toFixed(2)} ms, event loop busy ${(c.elu.active / calls).toFixed(2)} ms per AddEntry (${(100 * c.elu.utilization).toFixed(0)}% of the time)`,
    'time per AddEntry (wall, under the same concurrency; nested steps overlap their parents):',
  ];
  for (const [key, s] of ports.stats) lines.push(`  ${key.padEnd(44)} ${per(s.ms)} ms  x${per(s.calls)}`);
  return lines;
}
