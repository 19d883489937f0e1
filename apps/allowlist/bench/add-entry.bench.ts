// `nx run allowlist:bench` (part 3, issue 14 item 7): AddEntry, the officer's critical write,
// against its floor. A critical action cannot beat the least durable work it must do: one mTLS
// round trip to a server that makes one fsynced commit of the same rows (the entry, the change
// version and the audit event in the outbox: 3 rows). The floor is a bare kit RPC with the
// allowlist's binding and policy whose AddEntry awaits that commit (libs/testing openCommitFloor,
// the same SqliteStore with group commit) and returns a canned answer. Both are driven from this
// process by the same closed loop, 16 and 100 calls in flight, in the order floor, real, real,
// floor. The raw-operation line (a bare commit of the 3 rows, no RPC) is kept as a second line.
// While the AddEntry phases run, breakdown.ts measures on the service where the time goes (commits
// per call, reads outside a unit, the identity VerifySession round trip, the domain's steps, CPU
// and event-loop time per call) and the bench prints it under each figure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AllowlistServiceClient, AllowlistServiceService, SERVICE_NAMES, allowlistV1 } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { call, dial, unary } from '@gatehouse/service-kit';
import { benchLine, closedLoop, harnessTarget, latencyText, openCommitFloor, startBareRpc, type LoopRun } from '@gatehouse/testing';
import { allowlistPolicy } from '../src/rpc/allowlist-rpc.js';
import { startAllowlist } from '../src/test-support/harness.js';
import { envNumber, goalLine } from './bench-support.js';
import { probeAddEntry } from './breakdown.js';

const SECONDS = envNumber('BENCH_SECONDS', 6);
const GOAL = 0.5;
const ROWS = 3;

/** A distinct /32 per call (no two AddEntry calls collide on the active key). */
const cidrOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`;

const rate = (r: LoopRun) => (r.calls / r.ms) * 1000;
const merged = (a: LoopRun, b: LoopRun): LoopRun => ({ calls: a.calls + b.calls, ms: a.ms + b.ms, latencies: [...a.latencies, ...b.latencies], busyMs: a.busyMs + b.busyMs });

export async function addEntryBench(log: (line: string) => void): Promise<string[]> {
  const h = await startAllowlist({ GATEHOUSE_ALLOWLIST_STATIC_CIDRS: '127.0.0.1/32' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allowlist-floor-'));
  const floor = openCommitFloor(dir);
  const { pkiDir } = harnessTarget(h);
  const canned = allowlistV1.AddEntryResponse.fromPartial({
    entry: { entryId: 'ent_floorfloorfloorfl', cidr: '10.0.0.1/32', label: 'bench', scope: allowlistV1.EntryScope.ENTRY_SCOPE_ALL, reason: 'bench' },
  });
  const bare = await startBareRpc({
    service: 'allowlist',
    pkiDir,
    binding: {
      name: SERVICE_NAMES.allowlist,
      definition: AllowlistServiceService,
      policy: allowlistPolicy,
      handlers: {
        AddEntry: unary<allowlistV1.AddEntryRequest, allowlistV1.AddEntryResponse>(async () => {
          await floor.commit(ROWS, 300);
          return canned;
        }),
      },
    },
  });
  const lines: string[] = [];
  try {
    const officer = h.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'olga@bank.example' });
    const real = await h.client('cli');
    const floorClient = dial(AllowlistServiceClient, `127.0.0.1:${bare.port}`, { mode: 'mtls', material: { ...(await loadTlsMaterial(pkiDir, 'cli')), expectedServerName: 'allowlist' } });
    const probe = await probeAddEntry(h, real, officer);
    let next = 0;
    const add = (c: AllowlistServiceClient) => async () => {
      const i = next++;
      await call(c, c.addEntry, allowlistV1.AddEntryRequest.fromPartial({ cidr: cidrOf(i), scope: allowlistV1.EntryScope.ENTRY_SCOPE_ALL, label: 'bench', reason: 'bench' }), { bearer: officer });
    };
    const rawCommit = await closedLoop(SECONDS / 2, 16, () => floor.commit(ROWS, 300));
    for (const inFlight of [16, 100]) {
      const f1 = await closedLoop(SECONDS / 4, inFlight, add(floorClient));
      probe.measuring = true;
      const r1 = await closedLoop(SECONDS / 4, inFlight, add(real));
      const r2 = await closedLoop(SECONDS / 4, inFlight, add(real));
      probe.measuring = false;
      const f2 = await closedLoop(SECONDS / 4, inFlight, add(floorClient));
      const r = merged(r1, r2);
      const f = merged(f1, f2);
      log(`  AddEntry at ${inFlight} in flight: ${rate(r).toFixed(0)}/s (${latencyText(r.latencies)}); floor (mTLS RPC + one fsynced commit of ${ROWS} rows) ${rate(f).toFixed(0)}/s (${latencyText(f.latencies)})`);
      log(`    phases in order: floor ${rate(f1).toFixed(0)}, AddEntry ${rate(r1).toFixed(0)}, AddEntry ${rate(r2).toFixed(0)}, floor ${rate(f2).toFixed(0)} calls/s`);
      log(`    this process's event loop busy per call: AddEntry ${(r.busyMs / r.calls).toFixed(2)} ms, floor ${(f.busyMs / f.calls).toFixed(2)} ms`);
      log(`    breakdown of the AddEntry phases at ${inFlight} in flight (breakdown.ts):`);
      for (const l of probe.lines(r.calls)) log(`      ${l}`);
      const ratio = rate(r) / rate(f);
      if (inFlight === 16) lines.push(goalLine('allowlist-add-entry-vs-floor', ratio, GOAL));
      lines.push(benchLine({ name: `allowlist-add-entry-vs-floor-${inFlight}`, value: rate(r), unit: 'AddEntry/s', baseline: rate(f), baselineUnit: 'floor calls/s' }));
      lines.push(`latency allowlist-add-entry-${inFlight}: ${latencyText(r.latencies)}; floor ${latencyText(f.latencies)}`);
      if (inFlight === 16) {
        lines.push(benchLine({ name: 'allowlist-add-entry-vs-raw-commit', value: rate(r), unit: 'AddEntry/s', baseline: rate(rawCommit), baselineUnit: `raw ${ROWS}-row commits/s` }));
      }
    }
    probe.restore();
    floorClient.close();
  } finally {
    await bare.shutdown('bench over');
    await floor.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await h.stop();
  }
  return lines;
}
