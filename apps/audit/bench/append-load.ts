// Load generator for the Append benchmark, run as its own process so the client's work does not
// share the server's CPU. It encodes one AppendRequest of 500 events once, then for every call
// rewrites the event ids in place (same length), so each call appends 500 new events while the
// client spends almost nothing: the benchmark measures the server. Prints the events appended and
// each call's latency in ms, as JSON.
import * as grpc from '@grpc/grpc-js';
import { auditV1 } from '@gatehouse/contracts';
import { createClientCredentials, loadTlsMaterial, serviceAuthority } from '@gatehouse/pki';
import { CLIENT_CHANNEL_OPTIONS } from '@gatehouse/service-kit';
import { event } from '../src/test-support/harness.js';

const [address, pkiDir, seconds, startAt] = process.argv.slice(2);
const material = { ...(await loadTlsMaterial(pkiDir ?? '', 'identity')), expectedServerName: 'audit' };
const client = new grpc.Client(address ?? '', createClientCredentials(material), {
  ...CLIENT_CHANNEL_OPTIONS,
  'grpc.ssl_target_name_override': serviceAuthority('audit'),
});

const ID_LEN = 32;
const tag = `${process.pid}`.padStart(7, '0');
const idAt = (n: number) => `b${tag}-${n.toString(36).padStart(ID_LEN - 9, '0')}`;
let counter = 0;
const template = auditV1.AppendRequest.encode({
  events: Array.from({ length: 500 }, () => event({ eventId: idAt(counter++), details: { reason: 'bench', count: '1' } })),
}).finish();
const request = Buffer.from(template);
const offsets: number[] = [];
for (let i = 0; i < 500; i++) offsets.push(request.indexOf(idAt(i), 0, 'latin1'));
if (offsets.some((o) => o < 0)) throw new Error('could not locate the event ids in the encoded request');

const send = (body: Buffer) =>
  new Promise<number>((resolve, reject) => {
    client.makeUnaryRequest(
      '/gatehouse.audit.v1.AuditService/Append',
      (b: Buffer) => b,
      (b: Buffer) => auditV1.AppendResponse.decode(b),
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + 30_000 },
      (err, res) => (err ? reject(err) : resolve(res?.results.filter((r) => !r.duplicate).length ?? 0)),
    );
  });

// Every load process starts at the same instant, after all of them have loaded (tsx compiles on start).
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
const until = Date.now() + Number(seconds) * 1000;
let appended = 0;
const latencies: number[] = [];
while (Date.now() < until) {
  for (const o of offsets) request.write(idAt(counter++), o, 'latin1');
  const t0 = performance.now();
  appended += await send(Buffer.from(request));
  latencies.push(performance.now() - t0);
}
client.close();
process.stdout.write(`${JSON.stringify({ appended, latencies })}\n`);
