import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  createCa,
  createClientCredentials,
  createServerCredentials,
  issueCertificate,
  peerIdentity,
  type CertificateAndKey,
} from './index.js';

const pingService: grpc.ServiceDefinition<grpc.UntypedServiceImplementation> = {
  ping: {
    path: '/test.Ping/Ping',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

const ping: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
  const identity = peerIdentity(call);
  if (!identity) {
    callback({ code: grpc.status.UNAUTHENTICATED, details: 'a client certificate from the Gatehouse CA is required' });
    return;
  }
  callback(null, Buffer.from(`${identity.kind}:${identity.name}`));
};

const pem = (pair: CertificateAndKey) => ({ cert: Buffer.from(pair.certPem), key: Buffer.from(pair.keyPem) });

let ca: CertificateAndKey;
let otherCa: CertificateAndKey;
let server: grpc.Server;
let address: string;
let backendServer: grpc.Server | undefined;
const clients: grpc.Client[] = [];

before(async () => {
  ca = await createCa();
  otherCa = await createCa({ commonName: 'Somebody Else CA' });
  const audit = await issueCertificate(ca, { name: 'audit', kind: 'service' });
  server = new grpc.Server();
  server.addService(pingService, { ping });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', createServerCredentials({ ca: Buffer.from(ca.certPem), ...pem(audit) }), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  address = `127.0.0.1:${port}`;
});

after(() => {
  for (const client of clients) client.close();
  server?.forceShutdown();
  backendServer?.forceShutdown();
});

/** One unary Ping over a fresh channel; resolves with the reply text or the gRPC error. */
async function callPing(credentials: grpc.ChannelCredentials, target = address): Promise<{ reply?: string; error?: grpc.ServiceError }> {
  const client = new grpc.Client(target, credentials, {
    // A private subchannel pool: each case gets its own TLS connection and handshake.
    'grpc.use_local_subchannel_pool': 1,
    // Dial 127.0.0.1 but send SNI and check the host name as `localhost`: Node warns (DEP0123)
    // when SNI is set to an IP address, which grpc-js does for an IP target.
    'grpc.ssl_target_name_override': 'localhost',
  });
  clients.push(client);
  return new Promise((resolve) => {
    client.makeUnaryRequest<Buffer, Buffer>(
      '/test.Ping/Ping',
      (b) => b,
      (b) => b,
      Buffer.from('ping'),
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (error, reply) => resolve(error ? { error } : { reply: reply?.toString() }),
    );
  });
}

test('a backend with a Gatehouse certificate is identified by its SAN URI', async () => {
  const backend = await issueCertificate(ca, { name: 'shop-backend', kind: 'backend' });
  const result = await callPing(createClientCredentials({ ca: Buffer.from(ca.certPem), ...pem(backend) }));
  assert.deepEqual(result, { reply: 'backend:shop-backend' });
});

test('a service may call another service with its own certificate', async () => {
  const identity = await issueCertificate(ca, { name: 'identity', kind: 'service' });
  const result = await callPing(createClientCredentials({ ca: Buffer.from(ca.certPem), ...pem(identity), expectedServerName: 'audit' }));
  assert.deepEqual(result, { reply: 'service:identity' });
});

test('a client without a certificate gets UNAUTHENTICATED, not a handshake failure', async () => {
  const result = await callPing(createClientCredentials({ ca: Buffer.from(ca.certPem) }));
  assert.equal(result.error?.code, grpc.status.UNAUTHENTICATED, result.error?.message);
  assert.match(result.error?.details ?? '', /client certificate/);
});

test('a client whose certificate comes from another CA gets UNAUTHENTICATED', async () => {
  const impostor = await issueCertificate(otherCa, { name: 'audit', kind: 'service' });
  // createClientCredentials refuses this pairing up front, so build it the way an impostor would.
  const credentials = grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(impostor.keyPem), Buffer.from(impostor.certPem));
  const result = await callPing(credentials);
  assert.equal(result.error?.code, grpc.status.UNAUTHENTICATED, result.error?.message);
  assert.match(result.error?.details ?? '', /client certificate/, 'answered by the handler, after a completed handshake');
});

test('a client whose certificate has expired gets UNAUTHENTICATED', async () => {
  const expired = await issueCertificate(ca, {
    name: 'shop-backend',
    kind: 'backend',
    validityDays: 1,
    now: new Date(Date.now() - 3 * 24 * 60 * 60 * 1000),
  });
  const result = await callPing(createClientCredentials({ ca: Buffer.from(ca.certPem), ...pem(expired) }));
  assert.equal(result.error?.code, grpc.status.UNAUTHENTICATED, result.error?.message);
  assert.match(result.error?.details ?? '', /client certificate/);
});

test('a client that does not trust the server’s CA cannot connect (UNAVAILABLE)', async () => {
  const backend = await issueCertificate(otherCa, { name: 'shop-backend', kind: 'backend' });
  const result = await callPing(createClientCredentials({ ca: Buffer.from(otherCa.certPem), ...pem(backend) }));
  assert.equal(result.error?.code, grpc.status.UNAVAILABLE, result.error?.message);
  assert.match(result.error?.details ?? '', /certificate/);
});

test('TLS clients refuse a backend certificate (clientAuth only) presented by a server', async () => {
  const backend = await issueCertificate(ca, { name: 'shop-backend', kind: 'backend' });
  // createServerCredentials refuses such a certificate, so serve it through grpc-js directly.
  backendServer = new grpc.Server();
  backendServer.addService(pingService, { ping });
  const server = backendServer;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      '127.0.0.1:0',
      grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ private_key: pem(backend).key, cert_chain: pem(backend).cert }]),
      (err, p) => (err ? reject(err) : resolve(p)),
    );
  });
  const identity = await issueCertificate(ca, { name: 'identity', kind: 'service' });
  const result = await callPing(createClientCredentials({ ca: Buffer.from(ca.certPem), ...pem(identity) }), `127.0.0.1:${port}`);
  assert.equal(result.error?.code, grpc.status.UNAVAILABLE, result.error?.message);
  assert.match(result.error?.details ?? '', /unsuitable certificate purpose/);
});

test('a client expecting another Gatehouse service refuses this one (UNAVAILABLE)', async () => {
  const backend = await issueCertificate(ca, { name: 'shop-backend', kind: 'backend' });
  const result = await callPing(createClientCredentials({ ca: Buffer.from(ca.certPem), ...pem(backend), expectedServerName: 'secrets' }));
  assert.equal(result.error?.code, grpc.status.UNAVAILABLE, result.error?.message);
});

test('credentials refuse mismatched material up front', async () => {
  const backend = await issueCertificate(ca, { name: 'shop-backend', kind: 'backend' });
  const audit = await issueCertificate(ca, { name: 'audit', kind: 'service' });
  const caPem = Buffer.from(ca.certPem);
  assert.throws(() => createServerCredentials({ ca: caPem, ...pem(backend) }), /serverAuth/);
  assert.throws(() => createServerCredentials({ ca: Buffer.from(otherCa.certPem), ...pem(audit) }), /not issued by the CA/);
  assert.throws(() => createServerCredentials({ ca: caPem, cert: pem(audit).cert, key: pem(backend).key }), /does not belong/);
  assert.throws(() => createClientCredentials({ ca: caPem, cert: pem(backend).cert }), /together/);
  assert.throws(() => createClientCredentials({ ca: Buffer.from(otherCa.certPem), ...pem(backend) }), /not issued by the CA/);
  assert.throws(() => createClientCredentials({ ca: Buffer.from('nope') }), /no PEM certificate/);
  assert.throws(() => createClientCredentials({ ca: caPem, expectedServerName: 'Audit' }), /invalid Gatehouse caller name/);
});

test('server credentials compare by their material', async () => {
  const audit = await issueCertificate(ca, { name: 'audit', kind: 'service' });
  const material = { ca: Buffer.from(ca.certPem), ...pem(audit) };
  const a = createServerCredentials(material);
  assert.equal(a._equals(createServerCredentials({ ...material })), true);
  assert.equal(a._equals(grpc.ServerCredentials.createInsecure()), false);
  const other = await issueCertificate(ca, { name: 'audit', kind: 'service' });
  assert.equal(a._equals(createServerCredentials({ ca: material.ca, ...pem(other) })), false);
});
