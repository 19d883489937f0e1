import * as grpc from '@grpc/grpc-js';
import { createClientCredentials, serviceAuthority, type ClientTlsMaterial } from '@gatehouse/pki';

/** How a client reaches a Gatehouse service: mTLS (normal) or plaintext on loopback (explicit dev flag). */
export type ClientSecurity = { mode: 'mtls'; material: ClientTlsMaterial } | { mode: 'insecure-loopback' };

/** Channel options every Gatehouse client uses: bounded messages and keepalive. */
export const CLIENT_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.enable_retries': 0,
  // Reconnect promptly after a peer restarts: grpc-js's default backoff grows to 120 s, which
  // would keep an audit relay or a verifier away from a service long after it is back.
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5_000,
};

type ClientCtor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>) => C;

/**
 * Creates a generated client for `address` with the right credentials and options; `extra`
 * options go on top of the kit's (a balanced client's service config, see balanced.ts).
 */
export function dial<C extends grpc.Client>(Ctor: ClientCtor<C>, address: string, security: ClientSecurity, extra: Partial<grpc.ChannelOptions> = {}): C {
  const base = { ...CLIENT_CHANNEL_OPTIONS, ...extra };
  if (security.mode === 'insecure-loopback') return new Ctor(address, grpc.credentials.createInsecure(), base);
  const creds = createClientCredentials(security.material);
  const expected = security.material.expectedServerName;
  return new Ctor(address, creds, expected === undefined ? base : { ...base, 'grpc.ssl_target_name_override': serviceAuthority(expected) });
}

/** Per-call options: a deadline always (gRPC has none by default), and optional metadata. */
export interface CallOptions {
  deadlineMs?: number;
  metadata?: grpc.Metadata;
  /** An employee's session token, sent as `authorization: Bearer …`. */
  bearer?: string;
  signal?: AbortSignal;
  /** Wait (within the deadline) for the channel to connect instead of failing fast: for callers that retry anyway. */
  waitForReady?: boolean;
}

type UnaryMethod<Req, Res> = (
  req: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

function metadataOf(opts: CallOptions): grpc.Metadata {
  const md = opts.metadata?.clone() ?? new grpc.Metadata();
  if (opts.bearer) md.set('authorization', `Bearer ${opts.bearer}`);
  return md;
}

/** Promise form of a generated unary method, with a deadline (default 10 s). */
export function call<Req, Res>(client: grpc.Client, method: UnaryMethod<Req, Res>, req: Req, opts: CallOptions = {}): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const c = method.call(
      client,
      req,
      metadataOf(opts),
      { deadline: Date.now() + (opts.deadlineMs ?? 10_000), ...(opts.waitForReady ? { waitForReady: true } : {}) },
      (err, res) => (err ? reject(err) : resolve(res as Res)),
    );
    opts.signal?.addEventListener('abort', () => c.cancel(), { once: true });
  });
}

type StreamMethod<Req, Res> = (req: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<Res>;

/** Starts a server stream; iterate it with `for await`. No deadline unless given. */
export function stream<Req, Res>(client: grpc.Client, method: StreamMethod<Req, Res>, req: Req, opts: CallOptions = {}): grpc.ClientReadableStream<Res> {
  const options: Partial<grpc.CallOptions> = opts.deadlineMs === undefined ? {} : { deadline: Date.now() + opts.deadlineMs };
  const s = method.call(client, req, metadataOf(opts), options);
  opts.signal?.addEventListener('abort', () => s.cancel(), { once: true });
  return s;
}

/** True if `err` is a gRPC error with this status code. */
export function isStatus(err: unknown, code: grpc.status): err is grpc.ServiceError {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

const HealthClient = grpc.makeGenericClientConstructor(
  {
    check: {
      path: '/grpc.health.v1.Health/Check',
      requestStream: false,
      responseStream: false,
      // grpc.health.v1.HealthCheckRequest { string service = 1; } / HealthCheckResponse { ServingStatus status = 1; }
      requestSerialize: (req: { service?: string }) => encodeHealthRequest(req.service ?? ''),
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => decodeHealthResponse(b),
    },
  },
  'Health',
);

function encodeHealthRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  if (s.length === 0) return Buffer.alloc(0);
  if (s.length > 127) throw new Error('service name too long');
  return Buffer.concat([Buffer.from([0x0a, s.length]), s]);
}

const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

function decodeHealthResponse(b: Buffer): { status: string } {
  // Field 1, varint. An empty message means status 0 (UNKNOWN).
  if (b.length >= 2 && b[0] === 0x08) return { status: SERVING_STATUS[b[1] ?? 0] ?? `STATUS_${b[1]}` };
  return { status: 'UNKNOWN' };
}

/** What `gatehouse status` and the dev stack show for one service. */
export interface HealthReport {
  address: string;
  status: string;
  service?: string | undefined;
  version?: string | undefined;
  error?: string | undefined;
}

/**
 * Asks a service's grpc.health.v1 endpoint, reading its version and name from the response
 * headers the gatekeeper stamps. Never throws: failures come back in `error`.
 */
export function checkHealth(address: string, security: ClientSecurity, deadlineMs = 2_000): Promise<HealthReport> {
  const client = dial(HealthClient as unknown as ClientCtor<grpc.Client>, address, security);
  return new Promise<HealthReport>((resolve) => {
    const report: HealthReport = { address, status: 'UNREACHABLE' };
    const c = (client as unknown as { check: UnaryMethod<{ service?: string }, { status: string }> }).check(
      {},
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, res) => {
        client.close();
        if (err) resolve({ ...report, error: err.details || err.message });
        else resolve({ ...report, status: res?.status ?? 'UNKNOWN' });
      },
    );
    c.on('metadata', (md) => {
      report.version = md.get('gatehouse-version')[0]?.toString();
      report.service = md.get('gatehouse-service')[0]?.toString();
    });
  });
}
