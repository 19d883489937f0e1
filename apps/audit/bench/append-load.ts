// Load generator for the Append benchmark, run as its own process so the client's encoding does
// not share the server's CPU. Prints the number of events appended.
import { AuditServiceClient } from '@gatehouse/contracts';
import { createClientCredentials, loadTlsMaterial, serviceAuthority } from '@gatehouse/pki';
import { call, CLIENT_CHANNEL_OPTIONS } from '@gatehouse/service-kit';
import { event } from '../src/test-support/harness.js';

const [address, pkiDir, seconds, pipelines] = process.argv.slice(2);
const material = { ...(await loadTlsMaterial(pkiDir ?? '', 'identity')), expectedServerName: 'audit' };
const clients = Array.from({ length: Number(pipelines) }, (_, i) => new AuditServiceClient(address ?? '', createClientCredentials(material), { ...CLIENT_CHANNEL_OPTIONS, 'grpc.ssl_target_name_override': serviceAuthority('audit'), 'grpc.bench_channel': i }));
const until = Date.now() + Number(seconds) * 1000;
let appended = 0;
await Promise.all(
  clients.map(async (c) => {
    while (Date.now() < until) {
      const events = Array.from({ length: 500 }, () => event({ details: { reason: 'bench', count: '1' } }));
      appended += (await call(c, c.append, { events }, { deadlineMs: 30_000 })).results.length;
    }
    c.close();
  }),
);
process.stdout.write(`${appended}\n`);
