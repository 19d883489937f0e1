import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { UnimplementedError } from '@gatehouse/core';
import { createServerCredentials, type ServerTlsMaterial } from '@gatehouse/pki';
import type { Logger } from './logger.js';
import { adaptServerStream, adaptUnary, CallTracker, type AdapterRuntime, type Handler } from './handler.js';
import { RpcMetrics, serveMetrics } from './metrics.js';
import { callers, gatekeeper, type CallerRule, type MethodEntry } from './policy.js';
import { RateLimiter } from './rate-limit.js';
import { isLoopbackHost, type RateLimitConfig } from './config.js';
import { WireChecker } from './strict-decode.js';

/**
 * One gRPC service a process serves: its generated definition, its handlers by RPC name, the
 * caller rule of every RPC, and for RPCs a later issue builds, the capability they await.
 */
export interface ServiceBinding {
  /** Fully-qualified service name, e.g. gatehouse.audit.v1.AuditService. */
  name: string;
  definition: grpc.ServiceDefinition;
  handlers: Readonly<Record<string, Handler>>;
  policy: Readonly<Record<string, CallerRule>>;
  /** The capability RPCs without a handler await; they answer UNIMPLEMENTED naming it. */
  pending?: string;
}

/** Transport security: mTLS from the Gatehouse CA, or plaintext on loopback behind an explicit flag. */
export type TransportSecurity = { mode: 'mtls'; material: ServerTlsMaterial } | { mode: 'insecure-loopback' };

/** grpc-js limits set explicitly rather than inherited (REQUIREMENTS.md "Hostile input"). */
export interface ServerLimits {
  maxReceiveBytes: number;
  maxSendBytes: number;
  maxConcurrentStreams: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  deadlineCapMs: number;
  shutdownGraceMs: number;
  /** How long a call may wait for its request message after its headers (slow or stalled streams). */
  requestArrivalMs: number;
  /** Open connections one client IP may hold; more are closed at once. */
  maxConnectionsPerIp: number;
  /** A connection is told to go away (GOAWAY) after this long, so no stream or client holds one forever. */
  maxConnectionAgeMs: number;
  /** How long calls in flight on a connection told to go away may still finish. */
  maxConnectionAgeGraceMs: number;
}

/** Defaults used when a caller does not give limits (tests, tools). */
export const DEFAULT_LIMITS: ServerLimits = {
  maxReceiveBytes: 4 * 1024 * 1024,
  maxSendBytes: 16 * 1024 * 1024,
  maxConcurrentStreams: 100,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  deadlineCapMs: 15_000,
  shutdownGraceMs: 10_000,
  requestArrivalMs: 10_000,
  maxConnectionsPerIp: 256,
  maxConnectionAgeMs: 30 * 60_000,
  maxConnectionAgeGraceMs: 60_000,
};

/** Everything {@link startServer} needs; `main.ts` fills it from config. */
export interface ServerOptions {
  /** Short service name (identity, audit, ...), used in logs, metrics and headers. */
  service: string;
  version: string;
  host: string;
  port: number;
  /** Side port for /metrics; undefined disables it. */
  metricsPort?: number | undefined;
  security: TransportSecurity;
  services: ServiceBinding[];
  /** FileDescriptorSet of the contracts, for server reflection. */
  descriptorSet: Buffer;
  log: Logger;
  limits?: Partial<ServerLimits>;
  rateLimits?: RateLimitConfig | undefined;
  /** Run after the server stopped (close stores, stop relays), in order. */
  onShutdown?: Array<() => Promise<void> | void>;
  /**
   * Maps an error a handler threw before it becomes a status: the host turns a store that
   * cannot write into UNAVAILABLE (and health NOT_SERVING) instead of INTERNAL.
   */
  classifyError?: (err: unknown) => unknown;
}

/** A started server. */
export interface RunningServer {
  readonly port: number;
  readonly address: string;
  readonly metricsPort: number | undefined;
  readonly metrics: RpcMetrics;
  setServing(status: ServingStatus): void;
  /**
   * Health as the sum of named conditions (the store can write, the log is intact, ...): the
   * service reports SERVING only while every condition holds.
   */
  setCondition(name: string, ok: boolean): void;
  /** Drains in-flight calls (up to the grace period), then stops. Idempotent. */
  shutdown(reason?: string): Promise<void>;
}

const HEALTH_PATH_PREFIX = '/grpc.health.v1.Health/';
const REFLECTION_PATHS = [
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
];

function rpcNameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Starts a service: health and reflection, the gatekeeper interceptor (mTLS caller policy, rate
 * limits, metrics), explicit limits, and the handlers. It refuses to start if an RPC has no
 * caller rule or a handler names an RPC the contract lacks, so a typo cannot open a hole.
 */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const insecure = opts.security.mode === 'insecure-loopback';
  if (insecure && !isLoopbackHost(opts.host)) {
    throw new Error(`plaintext is allowed only on loopback; refusing to listen on ${opts.host}`);
  }
  const metrics = new RpcMetrics(opts.service);
  const tracker = new CallTracker();
  const rt: AdapterRuntime = { log: opts.log, deadlineCapMs: limits.deadlineCapMs, tracker, classifyError: opts.classifyError };
  const methods = new Map<string, MethodEntry>();
  for (const p of ['Check', 'Watch', 'List']) {
    // Health is public (probes carry no certificate), so it sits under the per-IP limit (issue 17 item 4).
    methods.set(`${HEALTH_PATH_PREFIX}${p}`, { service: 'grpc.health.v1.Health', rpc: p, rule: callers.public, rateLimited: true });
  }
  for (const p of REFLECTION_PATHS) {
    methods.set(p, { service: 'grpc.reflection', rpc: 'ServerReflectionInfo', rule: callers.anyAuthenticated, rateLimited: true });
  }

  const server = new grpc.Server({
    'grpc.max_receive_message_length': limits.maxReceiveBytes,
    'grpc.max_send_message_length': limits.maxSendBytes,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    'grpc.max_metadata_size': 16 * 1024,
    'grpc.max_connection_idle_ms': 10 * 60_000,
    'grpc.max_connection_age_ms': limits.maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': limits.maxConnectionAgeGraceMs,
    interceptors: [
      gatekeeper({
        service: opts.service,
        version: opts.version,
        methods,
        limiter: new RateLimiter(opts.rateLimits),
        metrics,
        insecure,
        requestArrivalMs: limits.requestArrivalMs,
      }),
    ],
  });

  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  const descriptors = protoLoader.loadFileDescriptorSetFromBuffer(opts.descriptorSet, { keepCase: true, enums: String, longs: String });
  new ReflectionService(descriptors, { services: opts.services.map((s) => s.name) }).addToServer(server);
  const wire = new WireChecker(descriptors);

  for (const binding of opts.services) {
    const impl: grpc.UntypedServiceImplementation = {};
    const known = new Set<string>();
    for (const [key, def] of Object.entries(binding.definition)) {
      const rpc = rpcNameOf(def.path);
      known.add(rpc);
      const rule = binding.policy[rpc];
      if (!rule) throw new Error(`${binding.name}/${rpc} has no caller rule; every RPC must name who may call it`);
      methods.set(def.path, { service: binding.name, rpc, rule, rateLimited: true });
      if (def.requestStream) throw new Error(`${binding.name}/${rpc}: client streaming is not supported by the service kit`);
      const handler: Handler =
        binding.handlers[rpc] ??
        pendingHandler(def.responseStream, `${binding.name}/${rpc} is not implemented yet: it awaits ${binding.pending ?? 'a later release'}`);
      if ((handler.kind === 'server-stream') !== def.responseStream) {
        throw new Error(`${binding.name}/${rpc}: handler kind ${handler.kind} does not match the contract`);
      }
      impl[key] =
        handler.kind === 'unary' ? adaptUnary(handler.fn, rt, def.path, rpc) : adaptServerStream(handler.fn, rt, def.path, rpc);
    }
    for (const name of Object.keys(binding.handlers)) {
      if (!known.has(name)) throw new Error(`${binding.name} has a handler for ${name}, which the contract does not define`);
    }
    for (const name of Object.keys(binding.policy)) {
      if (!known.has(name)) throw new Error(`${binding.name} has a caller rule for ${name}, which the contract does not define`);
    }
    server.addService(wire.wrap(binding.name, binding.definition), impl);
  }

  const creds = opts.security.mode === 'mtls' ? createServerCredentials(opts.security.material) : grpc.ServerCredentials.createInsecure();
  const { listener, port } = await listenWithConnectionCap(server, creds, opts.host.replace(/^\[|\]$/g, ''), opts.port, limits.maxConnectionsPerIp, (ip) =>
    opts.log.warn({ ip, max: limits.maxConnectionsPerIp }, 'connection refused: too many open connections from this IP'),
  );
  const metricsServer = opts.metricsPort === undefined ? undefined : await serveMetrics(metrics, opts.host, opts.metricsPort);

  const setServing = (status: ServingStatus) => {
    health.setStatus('', status);
    for (const s of opts.services) health.setStatus(s.name, status);
  };
  const failing = new Set<string>();
  let draining = false;
  const setCondition = (name: string, ok: boolean) => {
    if (ok) failing.delete(name);
    else failing.add(name);
    if (!draining) setServing(failing.size === 0 ? 'SERVING' : 'NOT_SERVING');
  };
  setServing('SERVING');
  if (insecure) opts.log.warn({ host: opts.host, port }, 'PLAINTEXT mode: no mTLS, caller policy NOT enforced (loopback dev only)');

  let stopping: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown') => {
    stopping ??= (async () => {
      opts.log.info({ reason }, 'draining');
      draining = true;
      setServing('NOT_SERVING');
      listener.close();
      const closed = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const drained = tracker.drain();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), limits.shutdownGraceMs);
      });
      const result = await Promise.race([Promise.all([closed, drained]).then(() => 'drained' as const), grace]);
      clearTimeout(timer);
      if (result === 'timeout') {
        opts.log.warn({ graceMs: limits.shutdownGraceMs }, 'grace period over; forcing shutdown');
        server.forceShutdown();
      }
      await metricsServer?.close();
      for (const fn of opts.onShutdown ?? []) {
        try {
          await fn();
        } catch (err) {
          opts.log.error({ err }, 'shutdown hook failed');
        }
      }
      opts.log.info('stopped');
    })();
    return stopping;
  };

  opts.log.info({ host: opts.host, port, metricsPort: metricsServer?.port, security: opts.security.mode }, 'serving');
  return { port, address: `${opts.host}:${port}`, metricsPort: metricsServer?.port, metrics, setServing, setCondition, shutdown };
}

/**
 * Accepts TCP connections ourselves and hands them to grpc-js (a connection injector), so that
 * one client IP can hold at most `maxPerIp` connections (issue 17 item 4): a flood of idle or
 * header-only connections from one address is cut off before TLS, and other clients are served.
 */
async function listenWithConnectionCap(
  server: grpc.Server,
  creds: grpc.ServerCredentials,
  host: string,
  port: number,
  maxPerIp: number,
  onRefused: (ip: string) => void,
): Promise<{ listener: net.Server; port: number }> {
  const injector = server.createConnectionInjector(creds);
  const open = new Map<string, number>();
  let warnedAt = 0;
  const listener = net.createServer((socket) => {
    const ip = socket.remoteAddress ?? '';
    const n = (open.get(ip) ?? 0) + 1;
    if (n > maxPerIp) {
      socket.destroy();
      if (Date.now() - warnedAt > 10_000) {
        warnedAt = Date.now();
        onRefused(ip);
      }
      return;
    }
    open.set(ip, n);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left <= 0) open.delete(ip);
      else open.set(ip, left);
    });
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(port, host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  return { listener, port: (listener.address() as net.AddressInfo).port };
}

function pendingHandler(stream: boolean, message: string): Handler {
  const fail = async (): Promise<never> => {
    throw new UnimplementedError(message);
  };
  return stream ? { kind: 'server-stream', fn: fail } : { kind: 'unary', fn: fail };
}

/**
 * Stops the server on SIGTERM/SIGINT, draining first; a second signal forces exit. Returns a
 * function that removes the handlers (tests).
 */
export function stopOnSignals(running: RunningServer, log: Logger, exit: (code: number) => void = (c) => process.exit(c)): () => void {
  let count = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    count += 1;
    if (count > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    void running.shutdown(signal).then(
      () => exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
