import { pino, type Logger, type DestinationStream } from 'pino';

/** Field names whose values never reach a log line (ASVS 16.2.5): they are replaced, not hashed. */
export const REDACTED_KEYS = [
  'password',
  'passphrase',
  'secret',
  'secrets',
  'value',
  'token',
  'idToken',
  'id_token',
  'accessToken',
  'refreshToken',
  'sessionToken',
  'releaseToken',
  'impersonationToken',
  'bootstrapToken',
  'authorization',
  'cookie',
  'otp',
  'code',
  'smsCode',
  'seed',
  'share',
  'shares',
  'privateKey',
  'key',
  'keyPem',
  'masterKey',
  'dataKey',
  'ciphertext',
] as const;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const k of REDACTED_KEYS) {
    paths.push(k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`);
  }
  paths.push('req.metadata.authorization', 'metadata.authorization', 'err.config', 'err.request');
  return paths;
}

/** Options for {@link createLogger}; `destination` lets tests capture output. */
export interface LoggerOptions {
  service: string;
  level?: string;
  destination?: DestinationStream;
}

/**
 * pino JSON logs in UTC (ASVS 16.2.2) with secret-bearing fields censored at every depth we
 * log at, so a handler that logs a request by mistake still leaks nothing.
 */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: opts.service,
      level: opts.level ?? process.env['GATEHOUSE_LOG_LEVEL'] ?? 'info',
      base: { service: opts.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths(), censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination,
  );
}

export type { Logger };
