// The floors of secrets' two critical writes (issue 14 item 7), shared by redeem.bench.ts and
// put-secret.bench.ts. A critical action cannot beat the least durable work it must do: one mTLS
// round trip to a server that makes ONE fsynced commit of the rows the action's unit of work
// commits. The floor server is a bare kit RPC (startBareRpc) with secrets' own binding name,
// definition and caller policy (secretsPolicy: the same mTLS, the same gatekeeper a bare RPC gets
// from the kit) whose handlers await that commit (openCommitFloor: the same SqliteStore with WAL,
// synchronous=FULL and group commit) and answer a canned response of the real size.
//
// A second, informative floor for RedeemRelease ("floor + confirm"): a confirmed action must also
// wait for audit to confirm its intent before its unit, so its handler first makes one bare mTLS
// Append round trip (secrets' own client certificate) to a bare AuditService whose Append commits
// one row in a store of its own, then the unit's commit. The goal lines use the strict floor.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SERVICE_NAMES, SecretsServiceService, auditEventV1, auditV1, commonV1, secretsV1 } from '@gatehouse/contracts';
import { call, unary, type RunningServer } from '@gatehouse/service-kit';
import type { SqliteStore } from '@gatehouse/storage';
import { openCommitFloor, probeStore, startAuditFloor, startBareRpc, type CommitFloor, type LoadRun } from '@gatehouse/testing';
import { secretsPolicy } from '../src/rpc/secrets-rpc.js';

/**
 * Rows RedeemRelease commits in its unit (Secrets.redeemInTurn): the release's compare-and-set
 * UPDATE and its REDEEM outcome event in the outbox. (The confirmed intent is written and shipped
 * before the unit: the "floor + confirm" figure accounts for it.)
 */
export const REDEEM_ROWS = 2;
/** Rows PutSecret commits in its unit (Secrets.putSecret): the version insert, the head upsert and the secret_put event in the outbox. */
export const PUT_ROWS = 3;
/** Bytes per floor row: about a release row or an encoded audit event; a 256-byte value's version row is about 500. */
export const REDEEM_ROW_BYTES = 400;
export const PUT_ROW_BYTES = 450;

/** The running floors: where the load process sends its floor calls. */
export interface SecretsFloors {
  /** The strict floor: bare RPC + one fsynced commit of the unit's rows. */
  address: string;
  /** RedeemRelease's floor plus one confirmed Append round trip to a bare audit that commits one row, before the commit. */
  confirmAddress: string;
  /** The strict floor's store, for its commit count. */
  floor: CommitFloor;
  close(): Promise<void>;
}

/**
 * A canned RedeemRelease answer: a READY-then-REDEEMED release with `secrets` values of the given
 * sizes, so the floor's answer is as large as the real bundle.
 */
function cannedBundle(secrets: ReadonlyArray<readonly [string, number]>): secretsV1.RedeemReleaseResponse {
  return secretsV1.RedeemReleaseResponse.fromPartial({
    releaseId: 'rel_floorfloorfloorf',
    environment: commonV1.Environment.ENVIRONMENT_LIVE,
    app: 'bench-floor',
    deploymentRef: 'bench-floor',
    secrets: secrets.map(([name, bytes]) => ({ name, version: 1, value: randomBytes(bytes) })),
  });
}

const cannedPut = secretsV1.PutSecretResponse.fromPartial({
  secret: { environment: commonV1.Environment.ENVIRONMENT_LIVE, app: 'bench-floor', name: 'FLOOR', version: 1, createdAt: new Date(), updatedAt: new Date() },
});

/** Starts both floors with the harness's PKI (`pkiDir`); `secrets` shapes RedeemRelease's canned bundle. */
export async function startSecretsFloors(pkiDir: string, secrets: ReadonlyArray<readonly [string, number]>): Promise<SecretsFloors> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-floor-'));
  const floor = openCommitFloor(path.join(dir, 'secrets'));
  const audit = await startAuditFloor({ pkiDir, dir: path.join(dir, 'audit'), clientName: 'secrets', rowBytes: REDEEM_ROW_BYTES });
  const servers: RunningServer[] = [];
  const bundle = cannedBundle(secrets);
  // An intent of the real shape: a release_redeem ATTEMPTED event of the deployer on a LIVE release.
  const intent = auditV1.AppendRequest.fromPartial({
    events: [
      {
        eventId: '00000000-0000-4000-8000-000000000000',
        service: auditEventV1.Service.SERVICE_SECRETS,
        action: auditEventV1.Action.ACTION_SECRETS_RELEASE_REDEEM,
        outcome: auditEventV1.Outcome.OUTCOME_ATTEMPTED,
        actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_SERVICE, id: 'backend:deployer' },
        subject: { kind: auditEventV1.SubjectKind.SUBJECT_KIND_RELEASE, id: 'rel_floorfloorfloorf' },
        sourceIp: '127.0.0.1',
        requestId: '00000000-0000-4000-8000-000000000001',
        environment: commonV1.Environment.ENVIRONMENT_LIVE,
        details: { app: 'bench-floor', deployment_ref: 'bench-floor', entries: '3', client_identity: 'backend:deployer' },
        occurredAt: new Date(),
      },
    ],
  });
  const sealStatus = unary<secretsV1.SealStatusRequest, secretsV1.SealStatusResponse>(async () => ({}));
  const binding = (redeem: () => Promise<void>) => ({
    name: SERVICE_NAMES.secrets,
    definition: SecretsServiceService,
    policy: secretsPolicy,
    handlers: {
      // The load process's warm-up call (connection, TLS, JIT): changes nothing.
      SealStatus: sealStatus,
      RedeemRelease: unary<secretsV1.RedeemReleaseRequest, secretsV1.RedeemReleaseResponse>(async () => {
        await redeem();
        return bundle;
      }),
      PutSecret: unary<secretsV1.PutSecretRequest, secretsV1.PutSecretResponse>(async () => {
        await floor.commit(PUT_ROWS, PUT_ROW_BYTES);
        return cannedPut;
      }),
    },
  });
  const strict = await startBareRpc({ service: 'secrets', pkiDir, binding: binding(() => floor.commit(REDEEM_ROWS, REDEEM_ROW_BYTES)) });
  servers.push(strict);
  const confirmed = await startBareRpc({
    service: 'secrets',
    pkiDir,
    binding: binding(async () => {
      await call(audit.client, audit.client.append, intent);
      await floor.commit(REDEEM_ROWS, REDEEM_ROW_BYTES);
    }),
  });
  servers.push(confirmed);
  return {
    address: `127.0.0.1:${strict.port}`,
    confirmAddress: `127.0.0.1:${confirmed.port}`,
    floor,
    close: async () => {
      for (const s of servers) await s.shutdown('bench over');
      await audit.close();
      await floor.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What a SqliteStore made durable while a {@link countFsyncs} was attached. */
export interface FsyncCounts {
  /** Units of work (run() that wrote): group commit may carry several in one COMMIT. */
  units: number;
  /** COMMITs of group-commit batches: one fsync each. */
  batches: number;
  /** Writes outside a unit (exec without a tx: its own transaction, one fsync each; the relay's markShipped). */
  ownWrites: number;
  /** Reads outside a unit: each one first commits an open batch (a read never sees a batch not yet durable). */
  reads: number;
  /** This process's CPU time (user + system) meanwhile: the service's (or the floor's) server side, the in-process audit double's included. */
  cpuMs: number;
}

/**
 * Counts the fsyncs a SqliteStore pays while attached: the COMMITs of its group-commit batches and
 * its writes outside a unit, besides the units themselves (so units per COMMIT says how well group
 * commit batched). `stop()` detaches and answers the counts.
 */
export function countFsyncs(store: SqliteStore): { stop(): FsyncCounts } {
  const probe = probeStore(store, (kind) => kind);
  const db = store.db as unknown as { exec: (sql: string) => unknown };
  const exec = db.exec.bind(store.db);
  let batches = 0;
  const cpu0 = process.cpuUsage();
  db.exec = (sql: string) => {
    if (sql === 'COMMIT') batches++;
    return exec(sql);
  };
  return {
    stop() {
      const cpu = process.cpuUsage(cpu0);
      probe.detach();
      delete (db as { exec?: unknown }).exec;
      const run = probe.byClass.get('run');
      const own = probe.byClass.get('exec');
      return { units: run?.commits ?? 0, batches, ownWrites: own?.commits ?? 0, reads: (own?.calls ?? 0) - (own?.commits ?? 0), cpuMs: (cpu.user + cpu.system) / 1000 };
    },
  };
}

/** `2.01 fsyncs per call (0.98 group COMMITs carrying 1.00 units, i.e. 1.0 per COMMIT; 1.03 own writes); 4.0 reads outside a unit`. */
export function fsyncText(c: FsyncCounts, calls: number): string {
  const per = (x: number) => (x / calls).toFixed(2);
  return (
    `${per(c.batches + c.ownWrites)} fsyncs per call (${per(c.batches)} group COMMITs carrying ${per(c.units)} units, ` +
    `${c.batches > 0 ? (c.units / c.batches).toFixed(1) : '-'} per COMMIT; ${per(c.ownWrites)} writes outside a unit); ${per(c.reads)} reads outside a unit; ` +
    `server process CPU ${(c.cpuMs / calls).toFixed(3)} ms per call`
  );
}

/** The counts of two phases together. */
export function sumFsyncs(a: FsyncCounts, b: FsyncCounts): FsyncCounts {
  return { units: a.units + b.units, batches: a.batches + b.batches, ownWrites: a.ownWrites + b.ownWrites, reads: a.reads + b.reads, cpuMs: a.cpuMs + b.cpuMs };
}

/** One timed phase: the load run and what the store it drove made durable meanwhile. */
export interface CountedPhase {
  run: LoadRun;
  fsyncs: FsyncCounts;
}

/**
 * The breakdown lines of a real-vs-floor comparison (two phases of each): what the service's
 * store and the floor's made durable per call, and the load process's CPU per call of each.
 */
export function phaseBreakdown(perWhat: string, r1: CountedPhase, r2: CountedPhase, f1: CountedPhase, f2: CountedPhase): string[] {
  const calls = (a: CountedPhase, b: CountedPhase) => a.run.calls + b.run.calls;
  const cpu = (a: CountedPhase, b: CountedPhase) => ((a.run.cpuMs + b.run.cpuMs) / calls(a, b)).toFixed(3);
  return [
    `    service store per ${perWhat}: ${fsyncText(sumFsyncs(r1.fsyncs, r2.fsyncs), calls(r1, r2))}`,
    `    floor store per call: ${fsyncText(sumFsyncs(f1.fsyncs, f2.fsyncs), calls(f1, f2))}`,
    `    CPU per ${perWhat}: load process ${cpu(r1, r2)} ms; per floor call ${cpu(f1, f2)} ms (the same client work: what differs is the server)`,
  ];
}

/** calls/s of several runs of one phase kind, as one figure. */
export function rateOf(runs: readonly LoadRun[]): number {
  return (runs.reduce((n, r) => n + r.calls, 0) / runs.reduce((n, r) => n + r.elapsedMs, 0)) * 1000;
}

/** Every latency of several runs. */
export function latenciesOf(runs: readonly LoadRun[]): number[] {
  return runs.flatMap((r) => r.latencies);
}

/** Throws naming the phase when a run of it had failed calls. */
export function requireClean(what: string, ...runs: LoadRun[]): void {
  const bad = runs.filter((r) => r.errorCount > 0);
  if (bad.length > 0) throw new Error(`${what}: ${bad.reduce((n, r) => n + r.errorCount, 0)} calls failed: ${bad.flatMap((r) => r.errors).join('; ')}`);
}
