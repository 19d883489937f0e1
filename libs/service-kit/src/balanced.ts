import net from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import { dial, type ClientSecurity } from './client.js';

/** A method a retry policy covers: `service` is the full proto service name (package included). */
export interface RetryableMethod {
  service: string;
  method: string;
}

/** gRPC's retryPolicy (A6), as grpc-js reads it from the service config. */
export interface RetryPolicy {
  maxAttempts: number;
  initialBackoff: string;
  maxBackoff: string;
  backoffMultiplier: number;
  retryableStatusCodes: string[];
}

/** The service config a balanced client carries (`grpc.service_config`). */
export interface BalancedServiceConfig {
  loadBalancingConfig: Array<{ round_robin: Record<string, never> }>;
  methodConfig: Array<{ name: RetryableMethod[]; retryPolicy: RetryPolicy }>;
}

/**
 * The methods that may be sent again after UNAVAILABLE because a second copy changes nothing:
 * reads that decide (VerifySession, Check, VerifyImpersonationToken) and writes keyed by the
 * caller's id (Append dedups by event id, RecordAccess by report id; see their proto docs).
 * Anything else (StartImpersonation, VerifyOtp, RedeemRelease, ...) is never retried by the channel:
 * a copy could act twice or burn a single-use code.
 */
export const IDEMPOTENT_METHODS: readonly RetryableMethod[] = [
  { service: 'gatehouse.identity.v1.IdentityService', method: 'VerifySession' },
  { service: 'gatehouse.allowlist.v1.AllowlistService', method: 'Check' },
  { service: 'gatehouse.impersonation.v1.ImpersonationService', method: 'VerifyImpersonationToken' },
  { service: 'gatehouse.impersonation.v1.ImpersonationService', method: 'RecordAccess' },
  { service: 'gatehouse.audit.v1.AuditService', method: 'Append' },
];

/** Retry of UNAVAILABLE only: 5 attempts, 50 ms growing to 1 s, enough to ride over one replica's drain. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  initialBackoff: '0.05s',
  maxBackoff: '1s',
  backoffMultiplier: 2,
  retryableStatusCodes: ['UNAVAILABLE'],
};

/**
 * One gRPC target over a static list of replicas (`host:port` each): `ipv4:a:p1,b:p2` or
 * `ipv6:[a]:p1,[b]:p2` for IP literals, which grpc-js resolves to every address at once (round
 * robin then spreads calls over all of them). A single host name becomes `dns:host:port`, so
 * a name that resolves to every replica (a headless Kubernetes Service) balances too.
 */
export function balancedTarget(addresses: readonly string[]): string {
  if (addresses.length === 0) throw new Error('balancedTarget needs at least one address');
  const parsed = addresses.map((a) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(a.trim());
    const host = m?.[1] ?? m?.[2];
    const port = Number(m?.[3]);
    if (!m || !host || !(port > 0 && port < 65536)) throw new Error(`"${a}" is not host:port`);
    return { host, port, family: net.isIP(host) };
  });
  const families = new Set(parsed.map((p) => p.family));
  if (families.size > 1) throw new Error(`balancedTarget cannot mix ${[...families].map((f) => (f === 0 ? 'host names' : `IPv${f}`)).join(' and ')}: ${addresses.join(', ')}`);
  const family = parsed[0]?.family ?? 0;
  if (family === 0) {
    if (parsed.length > 1) throw new Error(`balancedTarget takes one host name (that resolves to every replica) or IP literals, not ${addresses.join(', ')}`);
    return `dns:${parsed[0]?.host}:${parsed[0]?.port}`;
  }
  if (family === 4) return `ipv4:${parsed.map((p) => `${p.host}:${p.port}`).join(',')}`;
  return `ipv6:${parsed.map((p) => `[${p.host}]:${p.port}`).join(',')}`;
}

/**
 * The service config for a client of a service with several replicas: round robin over every
 * address, and a retry of UNAVAILABLE (a draining or stopped replica) for `methods` only, which
 * must be idempotent (see {@link IDEMPOTENT_METHODS}).
 */
export function retryServiceConfig(methods: readonly RetryableMethod[], policy: RetryPolicy = DEFAULT_RETRY_POLICY): BalancedServiceConfig {
  if (policy.maxAttempts < 2) throw new Error('a retry policy needs maxAttempts >= 2');
  return {
    loadBalancingConfig: [{ round_robin: {} }],
    methodConfig: methods.length === 0 ? [] : [{ name: methods.map((m) => ({ service: m.service, method: m.method })), retryPolicy: { ...policy, retryableStatusCodes: [...policy.retryableStatusCodes] } }],
  };
}

/**
 * The channel options that carry {@link retryServiceConfig}: retries on (the kit's default is
 * off), and reconnects within 1 s, so a replica back from a restart takes calls again before
 * the next one drains (the kit's 5 s backoff could leave a rolling restart with no replica ready).
 */
export function balancedChannelOptions(methods: readonly RetryableMethod[] = IDEMPOTENT_METHODS, policy?: RetryPolicy): Partial<grpc.ChannelOptions> {
  return {
    'grpc.enable_retries': 1,
    'grpc.service_config': JSON.stringify(retryServiceConfig(methods, policy)),
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 1000,
  };
}

type ClientCtor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>) => C;

/**
 * A client of every replica of one service through one channel: {@link balancedTarget} plus
 * {@link balancedChannelOptions}, with the kit's mTLS (the server name check does not depend on
 * which address answered).
 */
export function dialBalanced<C extends grpc.Client>(
  Ctor: ClientCtor<C>,
  addresses: readonly string[],
  security: ClientSecurity,
  methods: readonly RetryableMethod[] = IDEMPOTENT_METHODS,
  policy?: RetryPolicy,
): C {
  return dial(Ctor, balancedTarget(addresses), security, balancedChannelOptions(methods, policy));
}
