import * as grpc from '@grpc/grpc-js';

/** A command failed for a reason the user must read (a refused RPC, a missing file): printed as is, exit code 1. */
export class CommandFailed extends Error {}

/** Trailer that carries the retry hint of RESOURCE_EXHAUSTED (service-kit's RETRY_AFTER_HEADER). */
const RETRY_AFTER = 'retry-after-ms';

/** True for an error that came back from a gRPC call (it has a numeric status code and metadata). */
export function isRpcError(err: unknown): err is grpc.ServiceError {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as Partial<grpc.ServiceError>;
  return typeof e.code === 'number' && e.metadata instanceof grpc.Metadata;
}

/** The server's retry hint in milliseconds, when the error carries one. */
export function retryAfterMs(err: grpc.ServiceError): number | undefined {
  const raw = err.metadata.get(RETRY_AFTER)[0];
  const ms = Number(typeof raw === 'string' ? raw : raw?.toString());
  return raw !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** "STATUS_NAME: server message", plus the retry hint for RESOURCE_EXHAUSTED. */
export function describeRpcError(err: grpc.ServiceError): string {
  const name = grpc.status[err.code] ?? `status ${err.code}`;
  const details = err.details || err.message;
  let text = `${name}: ${details}`;
  if (err.code === grpc.status.RESOURCE_EXHAUSTED) {
    const ms = retryAfterMs(err);
    if (ms !== undefined) text += ` (retry in ${Math.max(1, Math.ceil(ms / 1000))} s)`;
  }
  return text;
}

/**
 * Awaits one RPC and turns a gRPC error into a {@link CommandFailed} naming the RPC, the status
 * and the server's message (which is written to be shown); `hint` adds what to do next.
 */
export async function rpc<T>(name: string, pending: Promise<T>, hint?: (err: grpc.ServiceError) => string | undefined): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    if (!isRpcError(err)) throw err;
    const extra = hint?.(err);
    throw new CommandFailed(`${name}: ${describeRpcError(err)}${extra ? `\n${extra}` : ''}`, { cause: err });
  }
}
