import * as grpc from '@grpc/grpc-js';

/**
 * A tiny JSON-over-gRPC service the kit's own tests (and tools) use, so the kit is tested
 * without depending on any generated contract.
 */
export interface EchoRequest {
  text: string;
  delayMs?: number;
  fail?: 'domain' | 'internal' | 'late-signal';
  count?: number;
}
/** Answer of the echo service. */
export interface EchoResponse {
  text: string;
  caller?: string;
  peerIp?: string;
  requestId?: string;
}

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString('utf8')) as never,
};

function method(name: string, responseStream: boolean) {
  return {
    path: `/gatehouse.test.v1.EchoService/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
    originalName: name,
  };
}

/** Service definition with a unary Echo, an Admin RPC for policy tests, and a streaming Ticks. */
export const echoServiceDefinition = {
  echo: method('Echo', false),
  admin: method('Admin', false),
  ticks: method('Ticks', true),
} as const satisfies grpc.ServiceDefinition;

/** Generated-style client constructor for the echo service. */
export const EchoClient = grpc.makeGenericClientConstructor(echoServiceDefinition, 'EchoService') as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ChannelOptions>,
) => grpc.Client & {
  echo: (
    req: EchoRequest,
    md: grpc.Metadata,
    opts: Partial<grpc.CallOptions>,
    cb: (err: grpc.ServiceError | null, res?: EchoResponse) => void,
  ) => grpc.ClientUnaryCall;
  admin: (
    req: EchoRequest,
    md: grpc.Metadata,
    opts: Partial<grpc.CallOptions>,
    cb: (err: grpc.ServiceError | null, res?: EchoResponse) => void,
  ) => grpc.ClientUnaryCall;
  ticks: (req: EchoRequest, md: grpc.Metadata, opts: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<EchoResponse>;
};
