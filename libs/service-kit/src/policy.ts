import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { peerIdentity, type AuthContextSource, type CallerIdentity, type CallerKind } from '@gatehouse/pki';
import type { RateLimiter } from './rate-limit.js';
import type { RpcMetrics } from './metrics.js';
import { peerIpOf } from './context.js';
import { RETRY_AFTER_HEADER } from './status.js';

/**
 * Who may call one RPC. Every RPC of every service names its callers (DESIGN.md §3); a method
 * without a rule refuses to start, so nothing is open by omission.
 */
export interface CallerRule {
  /** Certificate kinds allowed (service, backend, operator). */
  kinds?: readonly CallerKind[];
  /** Specific callers allowed, as `<kind>:<name>`. */
  names?: readonly string[];
  /** No client certificate needed (health checks only). */
  public?: boolean;
}

/** Common rules, so policies read like sentences. */
export const callers = {
  public: { public: true },
  services: { kinds: ['service'] },
  servicesAndBackends: { kinds: ['service', 'backend'] },
  operators: { kinds: ['operator'] },
  anyAuthenticated: { kinds: ['service', 'backend', 'operator'] },
  operatorsAndBackends: { kinds: ['operator', 'backend'] },
  operatorsAndServices: { kinds: ['operator', 'service'] },
  /**
   * Officer and employee actions the web console performs for a signed-in person: the operator
   * certificate (the CLI) or the console's own backend certificate (CONSOLE_CALLER). The session
   * still decides who may act; the certificate only says through which front end.
   */
  operatorsAndConsole: { kinds: ['operator'], names: ['backend:console'] },
  only: (...names: string[]): CallerRule => ({ names }),
} as const satisfies Record<string, CallerRule | ((...a: string[]) => CallerRule)>;

/** The same rule for every RPC of a definition: for test doubles and fakes, never for a real service. */
export function sameRuleForAll(definition: grpc.ServiceDefinition, rule: CallerRule): Record<string, CallerRule> {
  return Object.fromEntries(Object.values(definition).map((m) => [m.path.slice(m.path.lastIndexOf('/') + 1), rule]));
}

/** Whether a rule admits this caller. */
export function ruleAllows(rule: CallerRule, caller: CallerIdentity | undefined): boolean {
  if (rule.public) return true;
  if (!caller) return false;
  if (rule.kinds?.includes(caller.kind)) return true;
  return rule.names?.includes(`${caller.kind}:${caller.name}`) ?? false;
}

const identityCache = new Map<string, CallerIdentity | undefined>();
/** The identity of each TLS connection, found once per connection (HTTP/2 forbids renegotiation). */
const bySession = new WeakMap<object, CallerIdentity | undefined>();

/**
 * The HTTP/2 session under a grpc-js call (the handler's call wraps the interceptor's, which
 * wraps the base call that holds the stream), or undefined if grpc-js hides it.
 */
function sessionOf(call: unknown): object | undefined {
  let c = call as { call?: unknown; nextCall?: unknown; stream?: { session?: object } } | undefined;
  for (let depth = 0; c && depth < 4; depth++) {
    if (c.stream?.session) return c.stream.session;
    c = (c.call ?? c.nextCall) as typeof c;
  }
  return undefined;
}

/**
 * The caller's identity from its client certificate. TLS's getPeerCertificate() builds the whole
 * certificate object on every call and was the largest cost of a hot-path call, so the identity
 * is kept per connection (the session), and certificates are parsed once by fingerprint.
 */
export function callerOf(call: AuthContextSource): CallerIdentity | undefined {
  const session = sessionOf(call);
  if (session && bySession.has(session)) return bySession.get(session);
  const cert = call.getAuthContext().sslPeerCertificate as { fingerprint256?: string } | undefined;
  let id: CallerIdentity | undefined;
  if (cert?.fingerprint256) {
    if (identityCache.has(cert.fingerprint256)) id = identityCache.get(cert.fingerprint256);
    else {
      id = peerIdentity(call);
      if (identityCache.size > 10_000) identityCache.clear();
      identityCache.set(cert.fingerprint256, id);
    }
  }
  if (session) bySession.set(session, id);
  return id;
}

/**
 * Resets the HTTP/2 stream once the status is out. grpc-js ends its own side only, so a client
 * that never half-closes would keep the stream (and its slot under max_concurrent_streams) open
 * until the connection dies. The stream is the base call's (grpc-js 1.14 keeps it as `stream`);
 * if a later grpc-js hides it this does nothing, and the slow-stream test says so.
 */
function resetAfterStatus(call: unknown): void {
  const stream = (call as { stream?: { closed?: boolean; close?: (code: number) => void } }).stream;
  if (!stream || typeof stream.close !== 'function') return;
  setImmediate(() => {
    if (!stream.closed) stream.close?.(http2.constants.NGHTTP2_NO_ERROR);
  });
}

/** One method's place in the policy table. */
export interface MethodEntry {
  service: string;
  rpc: string;
  rule: CallerRule;
  rateLimited: boolean;
}

/** Options for {@link gatekeeper}. */
export interface GatekeeperOptions {
  service: string;
  version: string;
  methods: ReadonlyMap<string, MethodEntry>;
  limiter: RateLimiter;
  metrics: RpcMetrics;
  /** Plaintext on loopback: there is no certificate, so the caller policy cannot apply. */
  insecure: boolean;
  /**
   * How long a call may wait for its request message after its headers (issue 17 item 4): a
   * stream whose request never arrives is ended, certificate or not. Default 10 s.
   */
  requestArrivalMs?: number;
}

/**
 * A grpc-js server interceptor that runs before any message is parsed: it authenticates the
 * caller (mTLS), applies the per-RPC caller policy, applies rate limits, stamps the version
 * header, and records per-RPC metrics. Rejections cost no deserialisation.
 */
export function gatekeeper(opts: GatekeeperOptions): grpc.ServerInterceptor {
  return (descriptor, call) => {
    const path = descriptor.path;
    const entry = opts.methods.get(path);
    const rpc = entry?.rpc ?? path.slice(path.lastIndexOf('/') + 1);
    const started = performance.now();
    const record = (code: grpc.status) => {
      const labels = { service: entry?.service ?? 'unknown', method: rpc, code: grpc.status[code] ?? String(code) };
      opts.metrics.requests.inc(labels);
      opts.metrics.duration.observe(labels, (performance.now() - started) / 1000);
    };
    const reject = (code: grpc.status, details: string, metadata?: grpc.Metadata) => {
      record(code);
      call.sendStatus({ code, details, metadata: metadata ?? new grpc.Metadata() });
    };
    let arrival: NodeJS.Timeout | undefined;
    const arrived = () => {
      clearTimeout(arrival);
      arrival = undefined;
    };
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => {
        const listener = new grpc.ServerListenerBuilder()
          .withOnReceiveMessage((message, nextMessage) => {
            arrived();
            nextMessage(message);
          })
          .withOnCancel(() => arrived())
          .withOnReceiveMetadata((metadata, nextMetadata) => {
            const arrivalMs = opts.requestArrivalMs ?? 10_000;
            arrival = setTimeout(() => {
              arrival = undefined;
              reject(grpc.status.DEADLINE_EXCEEDED, `${rpc}: the request message did not arrive within ${arrivalMs} ms of the call's headers`);
              resetAfterStatus(call);
            }, arrivalMs);
            arrival.unref();
            if (!entry) {
              nextMetadata(metadata);
              return;
            }
            const caller = callerOf(call);
            if (!opts.insecure && !entry.rule.public && !caller) {
              reject(
                grpc.status.UNAUTHENTICATED,
                `${rpc}: a client certificate issued by the Gatehouse CA is required (none was presented, or it did not verify)`,
              );
              return;
            }
            if (!opts.insecure && !ruleAllows(entry.rule, caller)) {
              reject(
                grpc.status.PERMISSION_DENIED,
                `${rpc}: caller ${caller ? `${caller.kind}:${caller.name}` : 'unknown'} is not allowed to call ${entry.service}/${rpc}`,
              );
              return;
            }
            if (entry.rateLimited) {
              const ip = peerIpOf(call.getPeer());
              const taken = opts.limiter.take(rpc, path, caller ? `${caller.kind}:${caller.name}` : undefined, ip);
              if (!taken.allowed) {
                opts.metrics.rateLimited.inc({ service: entry.service, method: rpc, by: taken.limitedBy });
                const md = new grpc.Metadata();
                md.set(RETRY_AFTER_HEADER, String(taken.retryAfterMs));
                reject(
                  grpc.status.RESOURCE_EXHAUSTED,
                  `${rpc}: rate limit exceeded for this ${taken.limitedBy === 'caller' ? 'caller' : 'IP address'}; retry after ${taken.retryAfterMs} ms`,
                  md,
                );
                return;
              }
            }
            nextMetadata(metadata);
          })
          .build();
        next(listener);
      })
      .withSendMetadata((metadata, next) => {
        metadata.set('gatehouse-service', opts.service);
        metadata.set('gatehouse-version', opts.version);
        next(metadata);
      })
      .withSendStatus((status, next) => {
        arrived();
        record(status.code);
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
