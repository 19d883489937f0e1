// `nx run audit:bench` (part 1): Append throughput through gRPC (mTLS, validation, HMAC,
// LeafData encoding, Merkle nodes, one SQLite transaction per batch) against the raw insert of
// the same rows into the same kind of store, measured in the same run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqlite } from '@gatehouse/storage';
import { benchLine, goalLine, latencyText, throughput } from '@gatehouse/testing';
import { contentHashOf } from '../src/domain/audit-log.js';
import { leafHash } from '@gatehouse/merkle';
import { eventFromProto, protoLeafCodec } from '../src/rpc/convert.js';
import { auditSchema } from '../src/store/schema.js';
import { event, startAudit } from '../src/test-support/harness.js';

const BATCH = 500;
const LOAD_PROCESSES = 2;
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);

function batch(): ReturnType<typeof event>[] {
  return Array.from({ length: BATCH }, () => event({ details: { reason: 'bench', count: '1' } }));
}

const GOAL = 0.6;

/** The floor line, its goal, the p99 line of the Append calls, and the line as it was before. */
export async function appendBench(): Promise<string[]> {
  // Baseline: the same rows (fully built) inserted with the plain prepared INSERT, in
  // transactions of BATCH, into a fresh store of the same schema and pragmas.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-bench-'));
  const raw = openSqlite({ file: path.join(dir, 'raw.db'), migrations: [...auditSchema.sqliteMigrations] });
  let seq = 0;
  const rows = () =>
    batch().map((e) => {
      const ev = eventFromProto(e);
      const leafInput = protoLeafCodec.encode({ sequence: seq, appendedAt: new Date(), submittedBy: 'service:identity', event: ev });
      return { seq: seq++, ev, leafInput, hash: leafHash(leafInput), content: contentHashOf(ev) };
    });
  const pre = Array.from({ length: 40 }, rows);
  let next = 0;
  const insert = raw.db.prepare(`INSERT INTO audit_log (seq, event_id, content_hash, occurred_at, appended_at, service, action, outcome,
    actor_id, subject_kind, subject_id, customer_domain, source_ip, environment, request_id, submitted_by, leaf_input, leaf_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  let offset = 0;
  const rawLatencies: number[] = [];
  const baseline = await throughput(async () => {
    const b = pre[next++ % pre.length]!;
    if (next % pre.length === 0) offset += 1_000_000;
    const t0 = performance.now();
    await raw.run(async () => {
      for (const r of b) {
        const e = r.ev;
        insert.run(r.seq + offset, `${e.eventId}-${offset}`, r.content, e.occurredAt.getTime(), Date.now(), e.service, e.action, e.outcome, e.actor.id,
          e.subject?.kind ?? null, e.subject?.id ?? null, e.customerDomain, e.sourceIp, e.environment, e.requestId, 'service:identity', r.leafInput, r.hash);
      }
    });
    rawLatencies.push(performance.now() - t0);
    return b.length;
  }, SECONDS * 1000);
  await raw.close();

  const h = await startAudit({ GATEHOUSE_AUDIT_CHECKPOINT_EVERY: '100000' });
  // The server runs in this process, so the load must not block it (spawn, not spawnSync), and it
  // runs in other processes so its encoding does not share the server's CPU. One call in flight
  // per process: grpc-js clients slow down with several large messages in flight on one process.
  const startAt = Date.now() + 5_000;
  const runs = Array.from({ length: LOAD_PROCESSES }, () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'append-load.ts'), h.address, path.join(h.dir, 'pki'), String(SECONDS), String(startAt)]);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise<{ appended: number; latencies: number[] }>((resolve, reject) =>
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout.trim())) : reject(new Error(`load generator failed: ${stderr}`)))),
    );
  });
  const loads = await Promise.all(runs);
  const appended = loads.reduce((a, b) => a + b.appended, 0);
  const latencies = loads.flatMap((l) => l.latencies);
  const value = appended / SECONDS;
  await h.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(h.dir, { recursive: true, force: true });
  const floor = { name: 'audit-append-floor', value, unit: `events/s (Append with batching, ${BATCH} per call, ${LOAD_PROCESSES} in flight)`, baseline, baselineUnit: `raw batched inserts/s (the same rows, same SQLite schema, ${BATCH} per transaction)` };
  return [
    goalLine('audit-append vs raw batched inserts of the same rows', value / baseline, GOAL),
    benchLine(floor),
    `latency audit-append: Append of ${BATCH} events ${latencyText(latencies)}; raw batched insert of ${BATCH} rows ${latencyText(rawLatencies)}`,
    // The line as it was before, so history stays comparable.
    benchLine({ name: 'audit-append', value, unit: 'events/s', baseline, baselineUnit: 'raw inserts/s' }),
  ];
}
