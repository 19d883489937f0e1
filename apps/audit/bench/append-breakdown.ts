// `nx run audit:bench` (part 1b): where one Append batch's time goes, so a miss of the floor goal
// can be explained with figures. It runs the log's own code in this process (no gRPC transport,
// no load processes competing for the 2 cores): a real AuditLog on a real SQLite store with the
// service's schema, pragmas and default checkpoint cadence, whose repository, codec and signer
// are wrapped in timers, plus the steps that run inline in the append (decode, validation,
// hashing, the Merkle update, the alert rules) timed on the same rows. Figures are ms per batch.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auditV1 } from '@gatehouse/contracts';
import { systemClock } from '@gatehouse/core';
import { CompactRange, leafHash } from '@gatehouse/merkle';
import { openSqlite } from '@gatehouse/storage';
import { validateBatch } from '@gatehouse/audit-client';
import { AuditLog, contentHashOf, hmacForm } from '../src/domain/audit-log.js';
import { AlertEngine, builtInRules } from '../src/domain/alerts/index.js';
import type { AuditEventData, LogRecord } from '../src/domain/event.js';
import type { AppendTx, CheckpointSigner, LogRepository } from '../src/domain/ports.js';
import { eventFromProto, protoLeafCodec } from '../src/rpc/convert.js';
import { auditSchema } from '../src/store/schema.js';
import { SqliteLogRepository } from '../src/store/sqlite-log-repository.js';
import { loadOrCreateHmacKey, loadOrCreateSigningKey } from '../src/store/key-files.js';
import { event } from '../src/test-support/harness.js';

/**
 * Wall ms and CPU ms (this process's user+system time: what a busy machine's other processes do
 * not inflate) per named step, per batch; the median of the batches is reported.
 */
class Timers {
  private current = new Map<string, number>();
  private readonly batches: Array<Map<string, number>> = [];
  add(name: string, ms: number, cpuMs: number): void {
    this.current.set(name, (this.current.get(name) ?? 0) + ms);
    this.current.set(`cpu:${name}`, (this.current.get(`cpu:${name}`) ?? 0) + cpuMs);
  }
  time<T>(name: string, fn: () => T): T {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    try {
      return fn();
    } finally {
      this.add(name, performance.now() - t0, cpuMs(c0));
    }
  }
  async timeAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    try {
      return await fn();
    } finally {
      this.add(name, performance.now() - t0, cpuMs(c0));
    }
  }
  /** Ends a batch; `keep` false drops it (warm-up). */
  endBatch(keep: boolean): void {
    if (keep) this.batches.push(this.current);
    this.current = new Map();
  }
  names(): string[] {
    return [...new Set(this.batches.flatMap((b) => [...b.keys()]))].filter((k) => !k.startsWith('cpu:'));
  }
  /** Median over the kept batches of a step's ms (0 in a batch that did not run it). */
  median(name: string): number {
    const v = this.batches.map((b) => b.get(name) ?? 0).sort((a, b) => a - b);
    if (v.length === 0) return 0;
    const m = v.length >> 1;
    return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
  }
  /** Mean over the kept batches (for steps that run every few batches, like checkpoint signing). */
  mean(name: string): number {
    return this.batches.reduce((a, b) => a + (b.get(name) ?? 0), 0) / Math.max(1, this.batches.length);
  }
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** The log repository with each call the append makes timed; the commit is what appendTransaction takes beyond its callback. */
function timedRepo(inner: LogRepository, t: Timers): LogRepository {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'appendTransaction') {
        return <T>(fn: (tx: AppendTx) => Promise<T>) => {
          let inside = 0;
          let insideCpu = 0;
          const t0 = performance.now();
          const c0 = process.cpuUsage();
          return target
            .appendTransaction(async (tx) => {
              const t1 = performance.now();
              const c1 = process.cpuUsage();
              const wrapped: AppendTx = {
                tx: tx.tx,
                treeSize: () => t.timeAsync('tree size read', () => tx.treeSize()),
                node: (l, i) => t.timeAsync('tree re-read', () => tx.node(l, i)),
                existing: (ids) => t.timeAsync('dedupe read', () => tx.existing(ids)),
                insert: (r, n, s) => t.timeAsync('sqlite insert', () => tx.insert(r, n, s)),
                putCheckpoint: (cp) => t.timeAsync('checkpoint row (in the append)', () => tx.putCheckpoint(cp)),
              };
              try {
                return await fn(wrapped);
              } finally {
                inside = performance.now() - t1;
                insideCpu = cpuMs(c1);
              }
            })
            .finally(() => t.add('sqlite begin+commit (fsync)', performance.now() - t0 - inside, cpuMs(c0) - insideCpu));
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const name = `repo.${String(prop)} (checkpoint)`;
      return (...args: unknown[]) => t.timeAsync(name, () => (v as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
}

/** Breakdown lines for batches of `batchSize`, the mean of `batches` batches after a warm-up. */
export async function appendBreakdown(batchSize: number, batches: number, measured: { msPerBatch: number; rawMsPerBatch: number }): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-breakdown-'));
  const store = openSqlite({ file: path.join(dir, 'audit.db'), migrations: [...auditSchema.sqliteMigrations] });
  const t = new Timers();
  const key = loadOrCreateSigningKey(path.join(dir, 'signing.pem'));
  const signer: CheckpointSigner = { keyId: key.keyId, publicKey: key.publicKey, sign: (text) => t.time('checkpoint signing (Ed25519)', () => key.sign(text)) };
  const hmacKey = loadOrCreateHmacKey(path.join(dir, 'hmac.key'));
  const engine = new AlertEngine(builtInRules({}));
  const checkpointEvery = 1000; // the service's default (GATEHOUSE_AUDIT_CHECKPOINT_EVERY)
  const log = new AuditLog({
    repo: timedRepo(new SqliteLogRepository(store, protoLeafCodec), t),
    codec: protoLeafCodec,
    signer,
    clock: systemClock,
    hmacKey,
    origin: 'bench.gatehouse',
    checkpointEvery,
    onAppended: (records: LogRecord[]) => t.time('alert rules', () => { for (const r of records) engine.observe(r); }),
  });
  await log.init();
  const caller = { kind: 'service', name: 'identity' };
  const requests = Array.from({ length: batches + 2 }, () =>
    Buffer.from(auditV1.AppendRequest.encode({ events: Array.from({ length: batchSize }, () => event({ details: { reason: 'bench', count: '1' } })) }).finish()),
  );
  let frontier = CompactRange.empty();
  for (const [n, bytes] of requests.entries()) {
    const tt = t;
    const req = tt.time('gRPC request decode', () => auditV1.AppendRequest.decode(bytes));
    const events = tt.time('proto → domain events', () => req.events.map(eventFromProto));
    // The steps append() runs inline, timed on the same events (the log repeats them below).
    const now = new Date();
    tt.time('validation', () => validateBatch(events, caller, now));
    const prepared = tt.time('HMAC + content hash', () =>
      events.map((e): AuditEventData => {
        const hashed: Record<string, string> = {};
        for (const [k, v] of Object.entries(e.hashedDetails)) hashed[k] = hmacForm(hmacKey, v);
        const p = { ...e, hashedDetails: hashed };
        contentHashOf(p);
        return p;
      }),
    );
    const leaves = tt.time('leaf encode (LeafData)', () => prepared.map((e, i) => protoLeafCodec.encode({ sequence: i, appendedAt: now, submittedBy: 'service:identity', event: e })));
    const hashes = tt.time('leaf hash (SHA-256)', () => leaves.map((l) => leafHash(l)));
    tt.time('Merkle tree update', () => {
      const f = frontier.clone();
      const nodes: unknown[] = [];
      for (const h of hashes) f.append(h, (level, index, hash) => level > 0 && nodes.push({ level, index, hash }));
      frontier = f;
    });
    const outcomes = await tt.timeAsync('AuditLog.append (whole, in-process)', () => log.append(events, caller));
    tt.time('gRPC response encode', () =>
      auditV1.AppendResponse.encode({ results: outcomes.map((r) => ({ eventId: r.eventId, sequence: r.sequence, duplicate: r.duplicate, appendedAt: r.appendedAt })) }).finish(),
    );
    t.endBatch(n >= 2); // two warm-up batches, not counted
  }
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });

  // Steps that run every few batches (the checkpoint) are averaged; the rest are medians.
  const amortised = (name: string) => name.includes('checkpoint');
  const per = (name: string) => (amortised(name) ? t.mean(name) : t.median(name));
  const cpu = (name: string) => per(`cpu:${name}`);
  const f = (ms: number) => ms.toFixed(2);
  const inLog = ['tree size read', 'tree re-read', 'dedupe read', 'sqlite insert', 'sqlite begin+commit (fsync)', 'alert rules', 'checkpoint row (in the append)', 'checkpoint signing (Ed25519)'];
  const checkpointRepo = t.names().filter((k) => k.startsWith('repo.'));
  const logTotal = per('AuditLog.append (whole, in-process)');
  const inlineTotal = ['validation', 'HMAC + content hash', 'leaf encode (LeafData)', 'leaf hash (SHA-256)', 'Merkle tree update'].reduce((a, k) => a + per(k), 0);
  const named = [...inLog, ...checkpointRepo].reduce((a, k) => a + per(k), 0);
  const grpcCodec = per('gRPC request decode') + per('proto → domain events') + per('gRPC response encode');
  const steps = [
    'gRPC request decode',
    'proto → domain events',
    'validation',
    'HMAC + content hash',
    'leaf encode (LeafData)',
    'leaf hash (SHA-256)',
    'Merkle tree update',
    'tree size read',
    'tree re-read',
    'dedupe read',
    'sqlite insert',
    'sqlite begin+commit (fsync)',
    ...checkpointRepo,
    'checkpoint row (in the append)',
    'checkpoint signing (Ed25519)',
    'alert rules',
    'gRPC response encode',
  ];
  const inProcess = logTotal + grpcCodec;
  return [
    `breakdown audit-append: one batch of ${batchSize} events, in-process, ms per batch: median of ${batches} batches (checkpoint steps: mean, as one in ${checkpointEvery / batchSize} batches signs at the default cadence of ${checkpointEvery} events):`,
    `  ${'step'.padEnd(36)} ${'wall'.padStart(7)} ${'cpu'.padStart(7)}`,
    ...steps.map((k) => `  ${k.padEnd(36)} ${f(per(k)).padStart(7)} ${f(cpu(k)).padStart(7)}`),
    `  ${'AuditLog.append, whole'.padEnd(36)} ${f(logTotal).padStart(7)} ${f(cpu('AuditLog.append (whole, in-process)')).padStart(7)}  (validation, HMAC, leaf encoding, hashing and the Merkle update inline: ${f(inlineTotal)}; timed steps: ${f(named)}; rest ${f(Math.max(0, logTotal - inlineTotal - named))})`,
    `  ${'in-process total (+ proto codec)'.padEnd(36)} ${f(inProcess).padStart(7)}  => at most ${Math.round((batchSize * 1000) / inProcess)} events/s on one core`,
    `  ${'raw batched insert (bench baseline)'.padEnd(36)} ${f(measured.rawMsPerBatch).padStart(7)}`,
    `  ${'Append over gRPC (bench, wall/batch)'.padEnd(36)} ${f(measured.msPerBatch).padStart(7)}  (beyond the in-process total: ${f(Math.max(0, measured.msPerBatch - inProcess))} = mTLS/HTTP2 transport, grpc-js framing, and the load processes sharing the 2 cores)`,
  ];
}
