import * as grpc from '@grpc/grpc-js';
import { AllowlistServiceClient, AuditServiceClient, IdentityServiceClient, ImpersonationServiceClient } from '@gatehouse/contracts';
import type { ClientTlsMaterial } from '@gatehouse/pki';
import { CLIENT_IP_HEADER, call, dialBalanced, stream } from '@gatehouse/service-kit';
import { ApiRefusal } from './http/http-kit.js';

/** Who a call is made for: the employee's session (if any) and the browser's IP the console saw. */
export interface Caller {
  token?: string;
  clientIp: string;
}

/** The four services the console calls, each through one balanced target over its replicas. */
export interface Backends {
  identity: IdentityServiceClient;
  allowlist: AllowlistServiceClient;
  impersonation: ImpersonationServiceClient;
  audit: AuditServiceClient;
  close(): void;
}

type Material = (server: 'identity' | 'allowlist' | 'impersonation' | 'audit') => ClientTlsMaterial;

/** Dials the services with the console's backend certificate. */
export function dialBackends(addr: { identity: string; allowlist: string; impersonation: string; audit: string }, material: Material): Backends {
  const d = <C extends grpc.Client>(Ctor: new (a: string, c: grpc.ChannelCredentials, o?: Partial<grpc.ChannelOptions>) => C, name: Parameters<Material>[0]) =>
    dialBalanced(Ctor, addr[name].split(','), { mode: 'mtls', material: material(name) });
  const b = {
    identity: d(IdentityServiceClient, 'identity'),
    allowlist: d(AllowlistServiceClient, 'allowlist'),
    impersonation: d(ImpersonationServiceClient, 'impersonation'),
    audit: d(AuditServiceClient, 'audit'),
  };
  return { ...b, close: () => Object.values(b).forEach((c) => c.close()) };
}

function metadataFor(caller: Caller): grpc.Metadata {
  const md = new grpc.Metadata();
  // The services honour this header only from backends named in GATEHOUSE_TRUSTED_PROXIES.
  md.set(CLIENT_IP_HEADER, caller.clientIp);
  return md;
}

type UnaryMethod<Req, Res> = (req: Req, md: grpc.Metadata, o: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall;

/**
 * One call for the browser: the session as bearer, the browser's IP relayed, a 10 s deadline.
 * A service's refusal becomes an ApiRefusal with its status and its own message (the services
 * never put secrets in messages); anything else is rethrown for the one INTERNAL mapping.
 */
export async function rpc<Req, Res>(client: grpc.Client, method: UnaryMethod<Req, Res>, req: Req, caller: Caller): Promise<Res> {
  try {
    return await call(client, method, req, { metadata: metadataFor(caller), ...(caller.token ? { bearer: caller.token } : {}) });
  } catch (err) {
    throw refusalOf(err);
  }
}

/** A server stream for the browser (SSE), with the same metadata. */
export function rpcStream<Req, Res>(
  client: grpc.Client,
  method: (req: Req, md: grpc.Metadata, o: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<Res>,
  req: Req,
  caller: Caller,
  signal: AbortSignal,
): grpc.ClientReadableStream<Res> {
  return stream(client, method, req, { metadata: metadataFor(caller), signal, ...(caller.token ? { bearer: caller.token } : {}) });
}

/** The anomaly a burst refusal names (impersonation's FAILED_PRECONDITION message). */
const ANOMALY_IN_MESSAGE = /anomaly ([A-Za-z0-9_-]{4,80}) (?:is open|\()/;

/** Translates a gRPC error; non-gRPC errors pass through unchanged. */
export function refusalOf(err: unknown): unknown {
  if (typeof err !== 'object' || err === null || typeof (err as { code?: unknown }).code !== 'number' || !('details' in err)) return err;
  const e = err as grpc.ServiceError;
  const code = grpc.status[e.code] ?? 'UNKNOWN';
  const message = e.details || code.toLowerCase().replace(/_/g, ' ');
  if (code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED') return new ApiRefusal(code, `a Gatehouse service did not answer (${message}); try again`);
  const anomaly = code === 'FAILED_PRECONDITION' ? ANOMALY_IN_MESSAGE.exec(message)?.[1] : undefined;
  return new ApiRefusal(code, message, anomaly);
}
