/**
 * The container probe (issue 15 items 2 and 4): asks this container's own service over
 * grpc.health.v1, through TLS with the Gatehouse CA and the service pinned by its certificate
 * identity. Kubernetes' native `grpc:` probe speaks plaintext only and every Gatehouse port is
 * TLS, so Dockerfiles (HEALTHCHECK) and manifests (exec probes) run this instead. Health is
 * public (no client certificate), so the probe needs only the CA.
 *
 * Usage: node health-probe.mjs <service> [--live]
 *   exit 0: SERVING (with --live: the server answered at all, SERVING or NOT_SERVING)
 *   exit 1: anything else, with one line on stderr saying what.
 * --live is for liveness probes: a NOT_SERVING replica (store down, sealed, draining) is alive
 * and must be taken out of the balancer by readiness, not restarted.
 * Reads GATEHOUSE_PORT (required: the images set it), GATEHOUSE_TLS_DIR and
 * GATEHOUSE_INSECURE_PLAINTEXT, the variables the service itself reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkHealth, type ClientSecurity } from '@gatehouse/service-kit';

const [service, ...flags] = process.argv.slice(2);
const live = flags.includes('--live');
const port = process.env['GATEHOUSE_PORT'];
if (!service || !/^[a-z][a-z0-9-]*$/.test(service) || flags.some((f) => f !== '--live')) {
  console.error('usage: health-probe <service> [--live]');
  process.exit(2);
}
if (!port || !/^\d+$/.test(port) || port === '0') {
  console.error('health-probe: GATEHOUSE_PORT must name the service port (the image sets it)');
  process.exit(2);
}
let security: ClientSecurity;
if (/^(true|1|yes)$/.test(process.env['GATEHOUSE_INSECURE_PLAINTEXT'] ?? '')) security = { mode: 'insecure-loopback' };
else {
  const caFile = path.join(process.env['GATEHOUSE_TLS_DIR'] ?? '.gatehouse/pki', 'ca.pem');
  security = { mode: 'mtls', material: { ca: fs.readFileSync(caFile), expectedServerName: service } };
}
const report = await checkHealth(`127.0.0.1:${port}`, security, 3_000);
const answered = report.status === 'SERVING' || report.status === 'NOT_SERVING';
if (report.status === 'SERVING' || (live && answered)) process.exit(0);
console.error(`health-probe: ${service} on port ${port} is ${report.status}${report.error ? ` (${report.error})` : ''}`);
process.exit(1);
