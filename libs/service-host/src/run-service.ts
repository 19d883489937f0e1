import fs from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import type * as grpc from '@grpc/grpc-js';
import { armedFaultPoint, systemClock, UnavailableError, type Clock } from '@gatehouse/core';
import { AuditServiceClient } from '@gatehouse/contracts';
import { descriptorSet } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import {
  balancedChannelOptions,
  baseConfigShape,
  checkBaseConfig,
  ConfigError,
  createLogger,
  dial,
  env as envVar,
  isLoopbackHost,
  loadConfig,
  startServer,
  stopOnSignals,
  unknownVariables,
  type ClientSecurity,
  type Logger,
  type RunningServer,
  type ServiceBinding,
  type TransportSecurity,
} from '@gatehouse/service-kit';
import { openStore, storeUnavailableReason, type MongoIndexSpec, type MongoMigration, type OpenedStore, type SqliteMigration } from '@gatehouse/storage';
import {
  AuditEmitter,
  AuditRelay,
  grpcAuditSender,
  MongoOutboxRepository,
  outboxMongoIndexes,
  outboxSqliteMigrations,
  SqliteOutboxRepository,
  type OutboxRepository,
} from '@gatehouse/audit-client';
import type { Registry } from 'prom-client';
import { registerRelayMetrics } from './relay-metrics.js';

declare const __GATEHOUSE_VERSION__: string | undefined;

/** The build's version (esbuild defines it); tests and tsx runs report a dev version. */
export const BUILD_VERSION: string = typeof __GATEHOUSE_VERSION__ === 'string' ? __GATEHOUSE_VERSION__ : '0.1.0-dev';

/** Variables only the host reads, on top of the service kit's base ones. */
const hostShape = {
  ...baseConfigShape,
  GATEHOUSE_READY_FILE: envVar.string().optional(),
  GATEHOUSE_PARENT_PID: envVar.int(1, 2 ** 31 - 1).optional(),
  /** Where the other services listen, for the services that call them (launchers set all of them). */
  GATEHOUSE_IDENTITY_ADDR: envVar.string().default('127.0.0.1:7101'),
  GATEHOUSE_ALLOWLIST_ADDR: envVar.string().default('127.0.0.1:7102'),
  GATEHOUSE_SECRETS_ADDR: envVar.string().default('127.0.0.1:7103'),
  GATEHOUSE_IMPERSONATION_ADDR: envVar.string().default('127.0.0.1:7104'),
  /** Backends (certificate names) trusted to name the end user's IP (x-gatehouse-client-ip, x-forwarded-for). */
  GATEHOUSE_TRUSTED_PROXIES: envVar.list('[a-z][a-z0-9-]{0,62}', 'backend certificate names'),
};

/** The validated configuration a service's wiring receives: base variables plus its own. */
export type HostConfig<S extends z.ZodRawShape> = z.infer<z.ZodObject<typeof hostShape>> & z.infer<z.ZodObject<S>>;

/** What `wire` gets to build the domain and its handlers. */
export interface WireContext<S extends z.ZodRawShape> {
  cfg: HostConfig<S>;
  log: Logger;
  clock: Clock;
  store: OpenedStore;
  /** Stages events in the outbox (in a state-change transaction) or confirms critical ones. */
  audit: AuditEmitter | undefined;
  /** A client for another Gatehouse service, with this service's mTLS identity, pinned to `service`. */
  dialService<C extends grpc.Client>(Ctor: new (address: string, creds: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>) => C, service: string, address: string): C;
  /** Registers something to close when the service stops (after the server drained). */
  onShutdown(fn: () => Promise<void> | void): void;
  /**
   * Sets a named health condition (e.g. the audit log is intact): health is SERVING only while
   * every condition holds. Usable during wiring; it applies once the server starts.
   */
  setCondition(name: string, ok: boolean): void;
}

/** What `wire` returns: the bindings to serve and anything to close on shutdown. */
export interface Wired {
  services: ServiceBinding[];
  onShutdown?: Array<() => Promise<void> | void>;
  /**
   * Registers the service's own gauges (read from its domain at each scrape) on the server's
   * /metrics registry, which exists only once the server is built: called then, once.
   */
  registerMetrics?: (registry: Registry) => void;
}

/** A service, as its main.ts describes it to the host. */
export interface ServiceSpec<S extends z.ZodRawShape> {
  /** identity, allowlist, secrets, impersonation or audit. */
  name: string;
  defaultPort: number;
  /** Service-specific variables (names must start with GATEHOUSE_). */
  configShape: S;
  storage: {
    sqliteMigrations: readonly SqliteMigration[];
    mongoMigrations: readonly MongoMigration[];
    mongoIndexes: readonly MongoIndexSpec[];
  };
  /** False for the audit service itself, which writes its own log directly. */
  shipsAuditEvents: boolean;
  wire(ctx: WireContext<S>): Promise<Wired> | Wired;
}

/** A started service (tests use this handle to drain it). */
export interface HostedService {
  server: RunningServer;
  store: OpenedStore;
  relay: AuditRelay | undefined;
  shutdown(reason?: string): Promise<void>;
}

/** Options a test or launcher may pass instead of process-level behaviour. */
export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Install SIGTERM/SIGINT handlers and exit the process when stopped (true in main.ts). */
  handleSignals?: boolean;
  /** The service's clock (tests pass a ManualClock to travel in time); default the system clock. */
  clock?: Clock;
  /** Where log lines go (tests capture them to scan for leaks); default stdout. */
  logDestination?: { write(line: string): void };
}

/**
 * The one composition every service's main.ts calls: config → logger → TLS → store (with the
 * audit outbox) → audit relay → domain and handlers (`wire`) → server, then readiness and signal
 * handling. It keeps the mains to pure wiring and identical in shape.
 */
export async function runService<S extends z.ZodRawShape>(spec: ServiceSpec<S>, opts: RunOptions = {}): Promise<HostedService> {
  const env = opts.env ?? process.env;
  const shape = { ...hostShape, ...spec.configShape };
  const cfg = loadConfig(shape, env, (c) => checkBaseConfig(c as never)) as unknown as HostConfig<S>;
  const log = createLogger({ service: spec.name, level: cfg.GATEHOUSE_LOG_LEVEL, ...(opts.logDestination ? { destination: opts.logDestination } : {}) });
  const fault = armedFaultPoint();
  if (fault !== undefined) {
    // A crash-test hook (issue 14 item 5): only ever on a loopback test stack.
    if (!isLoopbackHost(cfg.GATEHOUSE_HOST)) throw new Error(`GATEHOUSE_TEST_FAULT_POINT is a crash-test hook; refusing to start on ${cfg.GATEHOUSE_HOST} with it set`);
    log.warn({ faultPoint: fault }, 'CRASH TEST: this process kills itself at the armed fault point');
  }
  const unknown = unknownVariables(shape, env);
  if (unknown.length > 0) log.warn({ variables: unknown }, 'ignoring unknown GATEHOUSE_ variables (check the spelling)');

  const tls = cfg.GATEHOUSE_INSECURE_PLAINTEXT ? undefined : await loadTlsMaterial(cfg.GATEHOUSE_TLS_DIR, spec.name);
  const security: TransportSecurity = tls ? { mode: 'mtls', material: tls } : { mode: 'insecure-loopback' };
  const clientSecurity: ClientSecurity = tls
    ? { mode: 'mtls', material: { ...tls, expectedServerName: 'audit' } }
    : { mode: 'insecure-loopback' };

  const store = await openStore({
    backend: cfg.GATEHOUSE_STORE,
    dataDir: cfg.GATEHOUSE_DATA_DIR,
    serviceName: spec.name,
    mongoUrl: cfg.MONGO_URL,
    mongoDbName: cfg.GATEHOUSE_MONGO_DB,
    sqliteMigrations: [...outboxSqliteMigrations, ...spec.storage.sqliteMigrations],
    mongoMigrations: spec.storage.mongoMigrations,
    mongoIndexes: [...outboxMongoIndexes, ...spec.storage.mongoIndexes],
    defaultMaxTimeMS: cfg.GATEHOUSE_DEADLINE_CAP_MS,
  });
  const closers: Array<() => Promise<void> | void> = [];

  let relay: AuditRelay | undefined;
  let audit: AuditEmitter | undefined;
  let outbox: OutboxRepository | undefined;
  if (spec.shipsAuditEvents) {
    outbox = store.backend === 'sqlite' ? new SqliteOutboxRepository(store.store) : new MongoOutboxRepository(store.store);
    // Peers may run several replicas behind one target (an ipv4:a,b list, or a name resolving to
    // each): round robin over them, and a retry of UNAVAILABLE for the idempotent methods only.
    const client = dial(AuditServiceClient, cfg.GATEHOUSE_AUDIT_ADDR, clientSecurity, balancedChannelOptions());
    const sender = grpcAuditSender(client);
    relay = new AuditRelay({ outbox, send: sender, log: log.child({ component: 'audit-relay' }), ...(opts.clock ? { clock: opts.clock } : {}) });
    audit = new AuditEmitter({ outbox, relay, source: spec.name, ...(opts.clock ? { clock: opts.clock } : {}) });
    relay.start();
    const r = relay;
    closers.push(() => r.stop(), () => client.close());
  }

  const dialService: WireContext<S>['dialService'] = (Ctor, service, address) => {
    const client = dial(Ctor, address, tls ? { mode: 'mtls', material: { ...tls, expectedServerName: service } } : { mode: 'insecure-loopback' }, balancedChannelOptions());
    closers.push(() => client.close());
    return client;
  };
  // Conditions set while wiring wait for the server; afterwards they go straight to it.
  const conditions = new Map<string, boolean>();
  const started: { server?: RunningServer } = {};
  const setCondition = (name: string, ok: boolean) => (started.server ? started.server.setCondition(name, ok) : conditions.set(name, ok));
  // A start that fails after this point (a configuration error found while wiring, a port in use)
  // closes what is already open, so no relay keeps polling and no client or store stays open.
  const closeOnFailure = async (err: unknown): Promise<never> => {
    for (const fn of [...closers, () => store.store.close()]) await Promise.resolve().then(fn).catch(() => undefined);
    throw err;
  };
  const wired = await Promise.resolve()
    .then(() => spec.wire({ cfg, log, clock: opts.clock ?? systemClock, store, audit, dialService, onShutdown: (fn) => closers.unshift(fn), setCondition }))
    .catch(closeOnFailure);
  const storeHealth = watchStoreHealth(store, log, (ok) => server.setCondition('store', ok));
  closers.push(() => storeHealth.stop());
  const server: RunningServer = await startServer({
    classifyError: storeHealth.classify,
    service: spec.name,
    version: cfg.GATEHOUSE_VERSION ?? BUILD_VERSION,
    host: cfg.GATEHOUSE_HOST,
    port: cfg.GATEHOUSE_PORT ?? spec.defaultPort,
    metricsPort: cfg.GATEHOUSE_METRICS_PORT ?? (cfg.GATEHOUSE_PORT === 0 ? 0 : (cfg.GATEHOUSE_PORT ?? spec.defaultPort) + 2000),
    security,
    services: wired.services,
    descriptorSet: descriptorSet(),
    log,
    limits: {
      maxReceiveBytes: cfg.GATEHOUSE_MAX_RECV_BYTES,
      maxSendBytes: cfg.GATEHOUSE_MAX_SEND_BYTES,
      maxConcurrentStreams: cfg.GATEHOUSE_MAX_CONCURRENT_STREAMS,
      keepaliveTimeMs: cfg.GATEHOUSE_KEEPALIVE_TIME_MS,
      keepaliveTimeoutMs: cfg.GATEHOUSE_KEEPALIVE_TIMEOUT_MS,
      deadlineCapMs: cfg.GATEHOUSE_DEADLINE_CAP_MS,
      shutdownGraceMs: cfg.GATEHOUSE_SHUTDOWN_GRACE_MS,
      requestArrivalMs: cfg.GATEHOUSE_REQUEST_ARRIVAL_MS,
      maxConnectionsPerIp: cfg.GATEHOUSE_MAX_CONNECTIONS_PER_IP,
      maxConnectionAgeMs: cfg.GATEHOUSE_MAX_CONNECTION_AGE_MS,
      maxConnectionAgeGraceMs: cfg.GATEHOUSE_MAX_CONNECTION_AGE_GRACE_MS,
    },
    rateLimits: cfg.GATEHOUSE_RATE_LIMITS,
    onShutdown: [...(wired.onShutdown ?? []), ...closers, () => store.store.close()],
  }).catch(closeOnFailure);

  started.server = server;
  for (const [name, ok] of conditions) server.setCondition(name, ok);
  if (outbox) registerRelayMetrics(server.metrics.registry, outbox, opts.clock ?? systemClock);
  wired.registerMetrics?.(server.metrics.registry);
  if (cfg.GATEHOUSE_READY_FILE) writeReadyFile(cfg.GATEHOUSE_READY_FILE, { port: server.port, metricsPort: server.metricsPort, pid: process.pid });
  const unwatch = cfg.GATEHOUSE_PARENT_PID ? watchParent(cfg.GATEHOUSE_PARENT_PID, server, log) : undefined;
  if (opts.handleSignals) stopOnSignals(server, log);
  return {
    server,
    store,
    relay,
    shutdown: async (reason) => {
      unwatch?.();
      await server.shutdown(reason);
    },
  };
}

/** Atomically writes the ready file, so a reader never sees half a document. */
/** Writes the ready file atomically (a watcher never reads half of it). */
export function writeReadyFile(file: string, info: object): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(info));
  fs.renameSync(tmp, file);
}

/** A supervised service stops itself when its launcher disappears, so nothing is left orphaned. */
/**
 * A store that cannot write (read-only or immutable file, full disk, I/O error, lost primary)
 * makes a call fail with UNAVAILABLE, which is retryable, rather than INTERNAL, and the service
 * reports NOT_SERVING so balancers and probes move away (issue 17 item 8). It then probes with a
 * small durable write every second and reports SERVING again once one succeeds.
 */
function watchStoreHealth(store: OpenedStore, log: Logger, setOk: (ok: boolean) => void): { classify: (err: unknown) => unknown; stop: () => void } {
  let probe: NodeJS.Timeout | undefined;
  let stopped = false;
  const classify = (err: unknown): unknown => {
    const reason = storeUnavailableReason(err);
    if (reason === undefined) return undefined;
    if (probe === undefined && !stopped) {
      log.error({ err, reason }, 'the store cannot write: reporting NOT_SERVING until a write succeeds again');
      setOk(false);
      probe = setInterval(() => {
        store.store.probeWrite().then(
          () => {
            clearInterval(probe);
            probe = undefined;
            log.warn('the store can write again: reporting SERVING');
            setOk(true);
          },
          () => undefined,
        );
      }, 1000);
      probe.unref();
    }
    return new UnavailableError(`${reason}; retry later`);
  };
  return {
    classify,
    stop: () => {
      stopped = true;
      clearInterval(probe);
    },
  };
}

function watchParent(pid: number, server: RunningServer, log: Logger): () => void {
  return watchParentProcess(pid, log, () => server.shutdown('parent exited'));
}

/** Calls `stop` (then exits) once the launcher `pid` is gone, so a supervised process is never orphaned. */
export function watchParentProcess(pid: number, log: Logger, stop: () => Promise<void>): () => void {
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch {
      log.warn({ parentPid: pid }, 'launcher is gone; shutting down');
      clearInterval(timer);
      void stop().then(() => process.exit(0));
    }
  }, 1_000);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * main.ts's entry: runs the service with signal handling, and turns a configuration error into
 * its message and exit code 2 instead of a stack trace.
 */
export function main<S extends z.ZodRawShape>(spec: ServiceSpec<S>): void {
  runService(spec, { handleSignals: true }).catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${spec.name}: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${spec.name}: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
