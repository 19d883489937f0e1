import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Per-RPC metrics every service exposes (DESIGN.md §7), one registry per server instance. */
export class RpcMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'service' | 'method' | 'code'>;
  readonly duration: Histogram<'service' | 'method' | 'code'>;
  readonly rateLimited: Counter<'service' | 'method' | 'by'>;

  constructor(service: string, opts: { defaultMetrics?: boolean } = {}) {
    this.registry.setDefaultLabels({ gatehouse_service: service });
    this.requests = new Counter({
      name: 'gatehouse_rpc_requests_total',
      help: 'RPCs handled, by method and final gRPC status code',
      labelNames: ['service', 'method', 'code'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'gatehouse_rpc_duration_seconds',
      help: 'RPC latency from first metadata to status, by method and code',
      labelNames: ['service', 'method', 'code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.rateLimited = new Counter({
      name: 'gatehouse_rpc_rate_limited_total',
      help: 'RPCs refused by the rate limiter, by method and which bucket ran dry',
      labelNames: ['service', 'method', 'by'],
      registers: [this.registry],
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}

/** Serves /metrics for Prometheus on a side port (never the gRPC port). */
export async function serveMetrics(metrics: RpcMetrics, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        })
        .catch(() => {
          res.writeHead(500).end();
        });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
