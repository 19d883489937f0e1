export { loadConfig, unknownVariables, checkBaseConfig, isLoopbackHost, baseConfigShape, env, ConfigError, rateLimitSchema } from './config.js';
export type { BaseConfig, RateLimitConfig } from './config.js';
export { createLogger, REDACTED_KEYS, type Logger, type LoggerOptions } from './logger.js';
export { STATUS_OF_KIND, toServiceError, RETRY_AFTER_HEADER, REQUEST_ID_HEADER } from './status.js';
export { peerIpOf, clientIpOf, relayedClientIpOf, CLIENT_IP_HEADER, type RequestContext } from './context.js';
export { unary, serverStream, type Handler, type UnaryFn, type StreamFn } from './handler.js';
export { callers, ruleAllows, sameRuleForAll, type CallerRule } from './policy.js';
export { RateLimiter, DEFAULT_RATE_RULE, type RateRule } from './rate-limit.js';
export { RpcMetrics } from './metrics.js';
export {
  startServer,
  stopOnSignals,
  DEFAULT_LIMITS,
  type ServerOptions,
  type RunningServer,
  type ServiceBinding,
  type TransportSecurity,
  type ServerLimits,
} from './server.js';
export {
  balancedTarget,
  retryServiceConfig,
  balancedChannelOptions,
  dialBalanced,
  IDEMPOTENT_METHODS,
  DEFAULT_RETRY_POLICY,
  type RetryableMethod,
  type RetryPolicy,
  type BalancedServiceConfig,
} from './balanced.js';
export { dial, call, stream, isStatus, checkHealth, CLIENT_CHANNEL_OPTIONS, type ClientSecurity, type CallOptions, type HealthReport } from './client.js';
export { environmentFromProto, environmentToProto, type DataEnvironment } from './environment.js';
export { rolesToProto, rolesFromProto } from './roles.js';
export { allowlistChecker, type AllowlistChecker, type AllowlistCheckerOptions } from './allowlist-checker.js';
