export { runService, main, writeReadyFile, watchParentProcess, BUILD_VERSION, type ServiceSpec, type WireContext, type Wired, type HostedService, type HostConfig, type RunOptions } from './run-service.js';
export { registerRelayMetrics, RELAY_METRICS } from './relay-metrics.js';
