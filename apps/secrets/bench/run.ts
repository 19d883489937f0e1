// `nx run secrets:bench`: the secrets service's two write paths, each against a baseline measured
// in the same run on the same machine (DESIGN.md §8), printed as `bench …; baseline …; ratio …`
// lines (last); the goal lines (ratio >= 0.5 at 16 in flight) are against each action's floor (3.).
//
// The service: startSecrets() (service.ts as production wires it: SQLite default store, mTLS on
// loopback, the recording audit double and test session keys in-process), initialised and
// unsealed with a passphrase. Two settings differ from the test harness and are the production
// defaults instead: log level info (the harness logs every RPC at debug into memory) and the
// expiry scan every 10 s (the harness scans every 100 ms). The load comes from a forked process
// (load.ts) over one mTLS channel, requests encoded before the timed section.
//
// The audit double (like every test double) is not rate limited: each confirmed redemption is
// one Append call to it, and what is measured is the secrets service.
//
// 1. RedeemRelease: RELEASES (1,000) READY releases of one app with 3 secrets, created over gRPC
//    before the timed section; then IN_FLIGHT (100) concurrent redeemers redeem distinct tokens
//    until each release is redeemed once. Checked: every call returned a bundle, the bundles name
//    exactly the created releases, the store holds 1,000 REDEEMED releases, audit confirmed 1,000
//    release_redeem events (a redemption waits for audit's confirmation: part of the cost).
//    Throughput and p50/p99 latency.
//    Baseline: the redemption's own atomic step on the same kind of rows:
//    SqliteReleaseRepository.redeem (one conditional UPDATE guarded by token hash, READY and
//    expiry, then the read back) on copies of the same 1,000 release rows in a separate SQLite
//    file with the service's schema, opened like the service's store (WAL, synchronous=FULL),
//    100 in flight; half before and half after the service's run, so a drift cancels out.
//    The ratio says what the rest of a redemption costs on top of its one necessary write: gRPC
//    and TLS, the token lookup, the snapshot's reads and decryption, the confirmed audit event.
// 2. PutSecret: PUTS (2,000) fresh names (each a version 1, 256-byte random values), IN_FLIGHT
//    (16) in flight, as a manager on LIVE. Checked: every answer is version 1, the store holds the
//    versions, audit received one secret_put event each.
//    Baseline: SqliteSecretRepository.putVersion (version insert + head upsert in one commit) of
//    rows of the same shape with a made-up envelope of the real sizes, in the same separate file,
//    16 in flight, half before and half after. The ratio says what encryption, the session check,
//    the head reads, the audit outbox write and its relay, and gRPC cost on top of the insert.
//
// 3. Both against their floors (issue 14 item 7, floor.ts): a bare kit RPC with secrets' binding
//    and caller policy whose handler awaits ONE fsynced commit of the rows the action's unit of
//    work commits (RedeemRelease 2: the compare-and-set and its REDEEM outcome; PutSecret 3: the
//    version, the head and the secret_put event), same group-committed SqliteStore, canned answer
//    of the real size. Driven by the same load process and closed loop as the real calls, at 16
//    and at 100 in flight, in the order floor, real, real, floor (RedeemRelease: floor+confirm
//    first and last as well), FLOOR_CALLS calls per phase, each real redemption on a fresh READY
//    release made before any timing. Printed: `goal secrets-<action>-vs-floor` (16 in flight),
//    `bench secrets-<action>-vs-floor-16|100`, `latency secrets-<action>-16|100` (p50/p99), and
//    the raw-operation lines of 1. and 2. kept second. RedeemRelease must wait for audit to confirm
//    its intent before its unit, so an `info …-vs-floor-confirm-…` line also gives it against the
//    floor plus one confirmed Append round trip to a bare audit that commits one row (not a goal).
//    Per phase: fsyncs per call of the service's store and the floor's (group COMMITs, units per
//    COMMIT, writes and reads outside a unit) and the server process's CPU per call.
//
// Each figure also prints the CPU per call of the service and load processes, what the
// service's store did per call (store calls, commits, time holding and waiting for its lock) and
// how busy the service process's event loop was (better-sqlite3 is synchronous: a commit's fsync
// blocks it). Then, untimed, a breakdown of one call at a time: over gRPC, and in-process on the
// service's own Secrets object (breakdown.ts) with the repositories and the audit sink timed.
//
// Sizes: BENCH_RELEASES (1000), BENCH_REDEEM_IN_FLIGHT (100), BENCH_PUTS (2000),
// BENCH_PUT_IN_FLIGHT (16), BENCH_PUT_VALUE_BYTES (256), BENCH_BREAKDOWN (50 calls one at a time
// per way, per figure), BENCH_FLOOR_CALLS (800 calls per phase against the floor, per action and
// concurrency: RedeemRelease makes 4 x that many READY releases in its setup).
// Loopback only.
import type { HostedService } from '@gatehouse/service-host';
import { call } from '@gatehouse/service-kit';
import { harnessTarget } from '@gatehouse/testing';
import { secretsV1 } from '@gatehouse/contracts';
import { startSecrets, TEST_PASSPHRASE } from '../src/test-support/harness.js';
import { openBaselineStore, startLoadDriver } from './bench-support.js';
import { startSecretsFloors } from './floor.js';
import { putSecretBench } from './put-secret.bench.js';
import { REDEEM_SECRETS, redeemBench } from './redeem.bench.js';

const t0 = performance.now();
const log = (line: string) => console.log(line);
const driver = await startLoadDriver();
const h = await startSecrets({ GATEHOUSE_LOG_LEVEL: 'info', GATEHOUSE_SECRETS_EXPIRY_SCAN_MS: '10000' });
const lines: string[] = [];
const baseline = openBaselineStore(h.dir);
const floors = await startSecretsFloors(harnessTarget(h).pkiDir, REDEEM_SECRETS);
try {
  const opened = (h.replicas[0] as HostedService).store;
  if (opened.backend !== 'sqlite') throw new Error('the secrets bench measures the SQLite default store');
  const store = opened.store;
  const cli = await h.client('cli');
  const u0 = performance.now();
  await call(cli, cli.initialize, { passphrase: { passphrase: TEST_PASSPHRASE, keyDerivation: secretsV1.KeyDerivation.KEY_DERIVATION_UNSPECIFIED } });
  const unsealed = await call(cli, cli.unseal, { passphrase: TEST_PASSPHRASE });
  if (unsealed.seal?.state !== secretsV1.SealState.SEAL_STATE_UNSEALED) throw new Error('the service did not unseal');
  log(`secrets initialised and unsealed (passphrase) in ${((performance.now() - u0) / 1000).toFixed(1)} s; store ${store.file}`);
  const manager = () => h.token({ roles: ['manager'], accountId: 'acc-bench-manager', email: 'bench-manager@example.com' });

  log('secrets RedeemRelease:');
  lines.push(...(await redeemBench({ h, driver, store, baseline, cli, manager, log, floors })));
  log('secrets PutSecret:');
  lines.push(...(await putSecretBench({ h, driver, store, baseline, cli, log, floors })));
} finally {
  await driver.stop();
  await floors.close();
  await baseline.close();
  await h.stop();
}
log(`(took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
for (const l of lines) log(l);
