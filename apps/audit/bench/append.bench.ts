// `nx run audit:bench` (part 1): Append throughput through gRPC (mTLS, validation, HMAC,
// LeafData encoding, Merkle nodes, checkpoints, one SQLite transaction per batch) against the
// raw insert of the same rows into the same kind of store, measured in the same run.
//
// The baseline is the least work a tamper-evident append must do, and it writes every row the
// real log writes for the same events: the audit_log rows with all their columns and indexes
// (leaf bytes and leaf hash included), the stored Merkle nodes (level >= MIN_STORED_NODE_LEVEL),
// the tree size, and a checkpoint row every GATEHOUSE_AUDIT_CHECKPOINT_EVERY entries (the
// service's default cadence, which the server under test also runs with). All of it is built
// before the clock starts, so the baseline pays only the inserts and the fsynced commit. It does
// not read (the log's duplicate check by event id is part of what Append is measured doing).
// Then a breakdown of one batch (append-breakdown.ts) says where the rest of the time goes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { auditV1 } from '@gatehouse/contracts';
import { openSqlite } from '@gatehouse/storage';
import { benchLine, goalLine, latencyText, throughput } from '@gatehouse/testing';
import { contentHashOf } from '../src/domain/audit-log.js';
import { CompactRange, leafHash } from '@gatehouse/merkle';
import { MIN_STORED_NODE_LEVEL } from '../src/domain/ports.js';
import { appendBreakdown } from './append-breakdown.js';
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

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return 0;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}
/** The service's default checkpoint cadence (GATEHOUSE_AUDIT_CHECKPOINT_EVERY), used by both sides. */
const CHECKPOINT_EVERY = 1000;

/** The floor line, its goal, the p99 line of the Append calls, and the line as it was before. */
export async function appendBench(): Promise<string[]> {
  // Baseline: the same rows (fully built) inserted with plain prepared INSERTs, in transactions
  // of BATCH, into a fresh store of the same schema and pragmas: entries, stored Merkle nodes,
  // the tree size, and the checkpoint row when one is due.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-bench-'));
  const raw = openSqlite({ file: path.join(dir, 'raw.db'), migrations: [...auditSchema.sqliteMigrations] });
  let seq = 0;
  const tree = CompactRange.empty();
  const signature = Buffer.alloc(64, 7);
  const rows = () => {
    const nodes: Array<{ level: number; index: number; hash: Uint8Array }> = [];
    const entries = batch().map((e) => {
      const ev = eventFromProto(e);
      const leafInput = protoLeafCodec.encode({ sequence: seq, appendedAt: new Date(), submittedBy: 'service:identity', event: ev });
      const hash = leafHash(leafInput);
      tree.append(hash, (level, index, h) => level >= MIN_STORED_NODE_LEVEL && nodes.push({ level, index, hash: h }));
      return { seq: seq++, ev, leafInput, hash, content: contentHashOf(ev) };
    });
    const checkpoint = Math.floor(seq / CHECKPOINT_EVERY) > Math.floor((seq - entries.length) / CHECKPOINT_EVERY) ? tree.root() : undefined;
    return { entries, nodes, size: seq, checkpoint };
  };
  // 40 batches = 20,000 leaves, replayed at offsets of 2^20 so that every node index shifts whole.
  const pre = Array.from({ length: 40 }, rows);
  let next = 0;
  const insert = raw.db.prepare(`INSERT INTO audit_log (seq, event_id, content_hash, occurred_at, appended_at, service, action, outcome,
    actor_id, subject_kind, subject_id, customer_domain, source_ip, environment, request_id, submitted_by, leaf_input, leaf_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertNode = raw.db.prepare('INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)');
  const setSize = raw.db.prepare('UPDATE audit_tree SET size = ? WHERE id = 1');
  const insertCheckpoint = raw.db.prepare('INSERT INTO audit_checkpoints (tree_size, origin, root_hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)');
  let offset = 0;
  const rawLatencies: number[] = [];
  const baseline = await throughput(async () => {
    const b = pre[next++ % pre.length]!;
    if (next % pre.length === 0) offset += 2 ** 20;
    const t0 = performance.now();
    await raw.run(async () => {
      for (const r of b.entries) {
        const e = r.ev;
        insert.run(r.seq + offset, `${e.eventId}-${offset}`, r.content, e.occurredAt.getTime(), Date.now(), e.service, e.action, e.outcome, e.actor.id,
          e.subject?.kind ?? null, e.subject?.id ?? null, e.customerDomain, e.sourceIp, e.environment, e.requestId, 'service:identity', r.leafInput, r.hash);
      }
      for (const n of b.nodes) insertNode.run(n.level, n.index + offset / 2 ** n.level, n.hash);
      setSize.run(b.size + offset);
      if (b.checkpoint) insertCheckpoint.run(b.size + offset, 'bench.gatehouse', b.checkpoint, Date.now(), 'bench-key', signature);
    });
    rawLatencies.push(performance.now() - t0);
    return b.entries.length;
  }, SECONDS * 1000);
  await raw.close();

  const h = await startAudit({ GATEHOUSE_AUDIT_CHECKPOINT_EVERY: String(CHECKPOINT_EVERY) });
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
  // The same stack without the write: an Append whose 500 events are all already stored pays
  // mTLS, HTTP/2, decoding, validation, HMAC and content hashes and the duplicate read, then
  // commits nothing. One call at a time from this process, after the load processes exited.
  const client = await h.client('identity');
  const body = Buffer.from(auditV1.AppendRequest.encode({ events: batch() }).finish());
  const rawCall = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      client.makeUnaryRequest('/gatehouse.audit.v1.AuditService/Append', (b: Buffer) => b, (b: Buffer) => b, body, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err) =>
        err ? reject(err) : resolve(performance.now() - t0),
      );
    });
  await rawCall(); // appends them; every later call finds them stored
  const dupLatencies: number[] = [];
  for (const until = Date.now() + 1_500; Date.now() < until; ) dupLatencies.push(await rawCall());
  await h.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(h.dir, { recursive: true, force: true });
  const calls = latencies.length;
  const breakdown = await appendBreakdown(BATCH, Number(process.env['BENCH_BREAKDOWN_BATCHES'] ?? 30), {
    msPerBatch: calls > 0 ? (SECONDS * 1000) / calls : 0, // wall time per batch at the measured throughput
    rawMsPerBatch: rawLatencies.reduce((a, b) => a + b, 0) / Math.max(1, rawLatencies.length),
  });
  const floor = { name: 'audit-append-floor', value, unit: `events/s (Append with batching, ${BATCH} per call, ${LOAD_PROCESSES} in flight)`, baseline, baselineUnit: `raw batched inserts/s (the same rows: entries, Merkle nodes, tree size, a checkpoint every ${CHECKPOINT_EVERY}; same SQLite schema, ${BATCH} per transaction)` };
  return [
    goalLine('audit-append vs raw batched inserts of the same rows', value / baseline, GOAL),
    benchLine(floor),
    `latency audit-append: Append of ${BATCH} events ${latencyText(latencies)}; raw batched insert of ${BATCH} rows ${latencyText(rawLatencies)}`,
    // The line as it was before, so history stays comparable.
    benchLine({ name: 'audit-append', value, unit: 'events/s', baseline, baselineUnit: 'raw inserts/s' }),
    ...breakdown,
    `latency audit-append, nothing to write: Append over gRPC of ${BATCH} events all already stored (transport, checks, duplicate read; no insert, no fsync), 1 in flight from this process: ${latencyText(dupLatencies)}`,
    // The server's one thread does both halves of every Append (the better-sqlite3 commit blocks
    // it, so another call's transport cannot run meanwhile): the ratio is at most raw / (raw + that).
    `ceiling audit-append: an Append is at least the nothing-to-write call (p50 ${median(dupLatencies).toFixed(2)} ms) plus the raw batched insert (p50 ${median(rawLatencies).toFixed(2)} ms) on one thread, so its ratio vs the raw insert is at most ${(median(rawLatencies) / (median(rawLatencies) + median(dupLatencies))).toFixed(2)} (goal ${GOAL})`,
  ];
}
