import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { DeadlineExceededError, InvalidArgumentError, UnavailableError } from '@gatehouse/core';
import type { Logger } from './logger.js';
import { bearerFrom, peerIpOf, requestIdFrom, type RequestContext } from './context.js';
import { callerOf } from './policy.js';
import { REQUEST_ID_HEADER, toServiceError } from './status.js';
import { MalformedRequest } from './strict-decode.js';

/** A unary handler: translate the request, call the domain, translate the answer. */
export type UnaryFn<Req, Res> = (req: Req, ctx: RequestContext) => Promise<Res>;
/** A server-streaming handler; `send` resolves when the transport can take more (backpressure). */
export type StreamFn<Req, Res> = (req: Req, ctx: RequestContext, send: (res: Res) => Promise<void>) => Promise<void>;

/** A handler as services declare it; the kit turns it into a grpc-js handler. */
export type Handler =
  | { readonly kind: 'unary'; readonly fn: UnaryFn<never, unknown> }
  | { readonly kind: 'server-stream'; readonly fn: StreamFn<never, unknown> };

/** Declares a unary RPC handler. */
export function unary<Req, Res>(fn: UnaryFn<Req, Res>): Handler {
  return { kind: 'unary', fn: fn as UnaryFn<never, unknown> };
}

/** Declares a server-streaming RPC handler. */
export function serverStream<Req, Res>(fn: StreamFn<Req, Res>): Handler {
  return { kind: 'server-stream', fn: fn as StreamFn<never, unknown> };
}

/**
 * The request, or INVALID_ARGUMENT naming what is wrong with its bytes: the strict deserialiser
 * returns a MalformedRequest rather than throwing, so this runs only once the gatekeeper has
 * admitted the caller, and a bad payload is the caller's error, not INTERNAL.
 */
function wellFormed(request: unknown, rpc: string): never {
  if (request instanceof MalformedRequest) throw new InvalidArgumentError('request', `malformed ${rpc} request: ${request.problem}`);
  return request as never;
}

/**
 * A call's abort signal, made only when a handler asks for it: most unary calls never look, and
 * an AbortController per call was a measurable share of a hot-path Check (issue 17's goal).
 * An abort before the signal exists is remembered and delivered when it is made.
 */
class CallAbort {
  private controller: AbortController | undefined;
  private reason: unknown;
  private done = false;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/** Calls in flight, so shutdown can wait for unary calls and end streams. */
export class CallTracker {
  readonly unary = new Set<Promise<unknown>>();
  readonly streams = new Set<CallAbort>();
  private closing = false;

  get isClosing(): boolean {
    return this.closing;
  }

  /** Stops streams (they would otherwise never end) and returns when unary calls have finished. */
  async drain(): Promise<void> {
    this.closing = true;
    for (const s of this.streams) s.abort(new UnavailableError('server is shutting down; reconnect to resume'));
    await Promise.allSettled([...this.unary]);
  }
}

/** Shared state the adapters need. */
export interface AdapterRuntime {
  log: Logger;
  deadlineCapMs: number;
  tracker: CallTracker;
  /** Turns a known infrastructure error (a store that cannot write) into a domain error; undefined leaves it as is. */
  classifyError?: ((err: unknown) => unknown) | undefined;
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

function makeContext(call: AnyCall, rt: AdapterRuntime, path: string, rpc: string, capMs: number | undefined) {
  const requestId = requestIdFrom(call.metadata, randomUUID);
  const controller = new CallAbort();
  const clientDeadline = call.getDeadline();
  const clientMs =
    clientDeadline instanceof Date ? clientDeadline.getTime() : Number.isFinite(clientDeadline) ? Number(clientDeadline) : Infinity;
  const capAt = capMs === undefined ? Infinity : Date.now() + capMs;
  const deadlineMs = Math.min(clientMs, capAt);
  const caller = callerOf(call);
  const peerIp = peerIpOf(call.getPeer());
  // The per-call child logger is made only when something logs: building one on every call was
  // a measurable share of a hot-path Check (issue 17's throughput goal).
  let child: Logger | undefined;
  const log = (): Logger => (child ??= rt.log.child({ requestId, rpc, caller: caller ? `${caller.kind}:${caller.name}` : undefined, peerIp }));
  const ctx: RequestContext = {
    method: path,
    rpc,
    requestId,
    peerIp,
    caller,
    deadline: new Date(Number.isFinite(deadlineMs) ? deadlineMs : 8.64e15),
    get signal() {
      return controller.signal;
    },
    metadata: call.metadata,
    get log() {
      return log();
    },
    bearerToken: () => bearerFrom(call.metadata),
  };
  return { ctx, controller, deadlineMs, capAt, requestId, log };
}

/**
 * The one async adapter for unary RPCs. It guarantees the grpc-js callback runs exactly once:
 * on the handler's result, its error (mapped in one place), the server's deadline cap, or not
 * at all if the client already cancelled.
 */
export function adaptUnary(fn: UnaryFn<never, unknown>, rt: AdapterRuntime, path: string, rpc: string): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const { ctx, controller, deadlineMs, capAt, requestId, log } = makeContext(call, rt, path, rpc, rt.deadlineCapMs);
    let settled = false;
    const started = performance.now();
    const trailer = new grpc.Metadata();
    trailer.set(REQUEST_ID_HEADER, requestId);
    const settle = (err: Partial<grpc.StatusObject> | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The access log (P10): status and the message the client got, never the request itself.
      if (rt.log.isLevelEnabled('debug')) log().debug({ code: err?.code ?? grpc.status.OK, details: err?.details, ms: Math.round(performance.now() - started) }, 'rpc');
      if (err) callback(err, null);
      else callback(null, value, trailer);
    };
    const timer = setTimeout(
      () => {
        const byCap = capAt <= deadlineMs;
        const err = new DeadlineExceededError(
          byCap ? `${rpc}: server deadline cap of ${rt.deadlineCapMs} ms exceeded` : `${rpc}: deadline exceeded`,
        );
        controller.abort(err);
        settle(toServiceError(err, log(), requestId));
      },
      Math.max(0, Math.min(deadlineMs - Date.now(), 2_147_483_647)),
    );
    // grpc-js reports every stream close as 'cancelled', also after the status went out: only a
    // cancel before the answer is one (building its error on every call cost ~15 µs).
    call.on('cancelled', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      controller.abort(new DeadlineExceededError(`${rpc}: cancelled by the client`));
    });
    const work = (async () => fn(wellFormed(call.request, rpc), ctx))().then(
      (value) => settle(null, value),
      (err: unknown) => settle(toServiceError(rt.classifyError?.(err) ?? err, log(), requestId)),
    );
    rt.tracker.unary.add(work);
    void work.finally(() => rt.tracker.unary.delete(work));
  };
}

/**
 * The adapter for server-streaming RPCs. Streams are long-lived (Watch), so the deadline cap
 * does not apply; the client's own deadline and cancellation do, and shutdown ends them with
 * UNAVAILABLE so clients resume elsewhere.
 */
export function adaptServerStream(
  fn: StreamFn<never, unknown>,
  rt: AdapterRuntime,
  path: string,
  rpc: string,
): grpc.handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    const { ctx, controller, deadlineMs, requestId, log } = makeContext(call, rt, path, rpc, undefined);
    let settled = false;
    rt.tracker.streams.add(controller);
    const finish = (err: Partial<grpc.StatusObject> | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rt.tracker.streams.delete(controller);
      if (err) call.emit('error', err);
      else {
        const trailer = new grpc.Metadata();
        trailer.set(REQUEST_ID_HEADER, requestId);
        call.end(trailer);
      }
    };
    const timer = Number.isFinite(deadlineMs)
      ? setTimeout(() => controller.abort(new DeadlineExceededError(`${rpc}: deadline exceeded`)), Math.min(deadlineMs - Date.now(), 2_147_483_647))
      : undefined;
    call.on('cancelled', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rt.tracker.streams.delete(controller);
      controller.abort(new DeadlineExceededError(`${rpc}: cancelled by the client`));
    });
    if (rt.tracker.isClosing) controller.abort(new UnavailableError('server is shutting down; reconnect to resume'));
    const send = async (msg: unknown) => {
      if (settled) throw controller.signal.reason ?? new UnavailableError('stream closed');
      if (!call.write(msg)) await once(call, 'drain', { signal: controller.signal });
    };
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => reject(controller.signal.reason);
      if (controller.signal.aborted) onAbort();
      else controller.signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    Promise.race([(async () => fn(wellFormed(call.request, rpc), ctx, send))(), aborted]).then(
      () => finish(null),
      (err: unknown) => finish(toServiceError(rt.classifyError?.(err) ?? err, log(), requestId)),
    );
  };
}
