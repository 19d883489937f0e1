import { z } from 'zod';

/**
 * Configuration comes from the environment and is validated once, at start. A bad value stops
 * the process with a message naming the variable, what was expected and what was found, so an
 * operator never has to guess (DESIGN.md §7).
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const intIn = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, { error: `expected an integer between ${min} and ${max}` })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: `expected at least ${min}` }).max(max, { error: `expected at most ${max}` }));

/** Building blocks for service-specific schemas, so every service reads values the same way. */
export const env = {
  bool,
  int: intIn,
  port: () => intIn(0, 65535),
  string: () => z.string().min(1, { error: 'must not be empty' }),
  enum: <const T extends readonly [string, ...string[]]>(values: T) =>
    z.enum(values, { error: `expected one of ${values.join(', ')}` }),
  /** A comma-separated list whose items each match `item` (a regex source), read as string[]; absent: []. */
  list: (item: string, what: string) =>
    z
      .string()
      .regex(new RegExp(`^(?:${item})(?:,(?:${item}))*$`), { error: `expected ${what}, comma-separated` })
      .optional()
      .transform((v) => (v ? v.split(',') : [])),
  /** A JSON document validated by `schema`; errors name the path inside it. */
  json: <T extends z.ZodType>(schema: T) =>
    z
      .string()
      .transform((s, ctx) => {
        try {
          return JSON.parse(s) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'expected valid JSON' });
          return z.NEVER;
        }
      })
      .pipe(schema),
};

const rateRule = z.strictObject({
  ratePerSec: z.number().positive(),
  burst: z.number().int().positive(),
});

/** Per-RPC token-bucket limits; `methods` keys are RPC names (`VerifyOtp`) or full paths. */
export const rateLimitSchema = z.strictObject({
  perCaller: rateRule.optional(),
  perIp: rateRule.optional(),
  methods: z.record(z.string(), z.strictObject({ perCaller: rateRule.optional(), perIp: rateRule.optional() })).optional(),
});
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;

/** The variables every service understands. Service schemas extend this shape. */
export const baseConfigShape = {
  GATEHOUSE_ENV: env.enum(['production', 'dev']).default('production'),
  GATEHOUSE_HOST: env.string().default('127.0.0.1'),
  GATEHOUSE_PORT: env.port().optional(),
  GATEHOUSE_METRICS_PORT: env.port().optional(),
  GATEHOUSE_STORE: env.enum(['sqlite', 'mongodb']).default('sqlite'),
  GATEHOUSE_DATA_DIR: env.string().default('.gatehouse/data'),
  MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, { error: 'expected a mongodb:// or mongodb+srv:// URL' }).optional(),
  /** The service's MongoDB database (default `gatehouse_<service>`): several stacks can share one cluster. */
  GATEHOUSE_MONGO_DB: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, { error: 'expected 1-63 characters of A-Z a-z 0-9 _ -' }).optional(),
  GATEHOUSE_TLS_DIR: env.string().default('.gatehouse/pki'),
  GATEHOUSE_INSECURE_PLAINTEXT: bool.default(false),
  GATEHOUSE_LOG_LEVEL: env.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GATEHOUSE_MAX_RECV_BYTES: intIn(1024, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  GATEHOUSE_MAX_SEND_BYTES: intIn(1024, 256 * 1024 * 1024).default(16 * 1024 * 1024),
  GATEHOUSE_MAX_CONCURRENT_STREAMS: intIn(1, 10_000).default(100),
  GATEHOUSE_KEEPALIVE_TIME_MS: intIn(1_000, 3_600_000).default(60_000),
  GATEHOUSE_KEEPALIVE_TIMEOUT_MS: intIn(1_000, 600_000).default(20_000),
  GATEHOUSE_DEADLINE_CAP_MS: intIn(10, 600_000).default(15_000),
  GATEHOUSE_SHUTDOWN_GRACE_MS: intIn(0, 600_000).default(10_000),
  /** How long a call may wait for its request message after its headers; a stalled stream is ended. */
  GATEHOUSE_REQUEST_ARRIVAL_MS: intIn(100, 600_000).default(10_000),
  /** Open connections one client IP may hold; further ones are closed at once. */
  GATEHOUSE_MAX_CONNECTIONS_PER_IP: intIn(1, 100_000).default(256),
  /** Connections get GOAWAY after this long (clients reconnect; streams resume), then a grace to finish. */
  GATEHOUSE_MAX_CONNECTION_AGE_MS: intIn(10_000, 86_400_000).default(1_800_000),
  GATEHOUSE_MAX_CONNECTION_AGE_GRACE_MS: intIn(0, 3_600_000).default(60_000),
  GATEHOUSE_RATE_LIMITS: env.json(rateLimitSchema).optional(),
  GATEHOUSE_AUDIT_ADDR: env.string().default('127.0.0.1:7105'),
  GATEHOUSE_VERSION: env.string().optional(),
};

/** The shape `loadConfig` returns for the base variables. */
export type BaseConfig = z.infer<z.ZodObject<typeof baseConfigShape>>;

/**
 * Validates `source` (normally process.env) against a schema built from `baseConfigShape` plus
 * service-specific keys. Every problem is reported at once, each naming its variable.
 */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  source: Record<string, string | undefined> = process.env,
  refine?: (cfg: z.infer<z.ZodObject<S>>) => string[],
): z.infer<z.ZodObject<S>> {
  const schema = z.object(shape);
  const input: Record<string, string> = {};
  for (const key of Object.keys(shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const problems: string[] = [];
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [name, ...rest] = issue.path.map(String);
      const where = rest.length > 0 ? `${name} (at ${rest.join('.')})` : name;
      const got = name !== undefined && input[name] !== undefined ? `, got ${JSON.stringify(truncate(input[name]))}` : '';
      problems.push(`${where}: ${issue.message}${got}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const cfg = (parsed as { data: z.infer<z.ZodObject<S>> }).data;
  const more = refine?.(cfg) ?? [];
  if (more.length > 0) throw new ConfigError(more);
  return cfg;
}

/**
 * GATEHOUSE_* variables the schema does not know. Mains log them as a warning: a typo must not
 * silently fall back to a default, but a launcher's own variables must not stop a service.
 */
export function unknownVariables(shape: z.ZodRawShape, source: Record<string, string | undefined> = process.env): string[] {
  return Object.keys(source).filter((k) => k.startsWith('GATEHOUSE_') && !(k in shape) && !k.startsWith('GATEHOUSE_TEST_'));
}

function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 61)}...` : s;
}

/** Cross-field checks shared by every service (plaintext only on loopback, MONGO_URL with mongodb). */
export function checkBaseConfig(cfg: BaseConfig): string[] {
  const problems: string[] = [];
  if (cfg.GATEHOUSE_STORE === 'mongodb' && !cfg.MONGO_URL) {
    problems.push('MONGO_URL: required when GATEHOUSE_STORE=mongodb');
  }
  if (cfg.GATEHOUSE_INSECURE_PLAINTEXT && !isLoopbackHost(cfg.GATEHOUSE_HOST)) {
    problems.push(
      `GATEHOUSE_INSECURE_PLAINTEXT: plaintext is allowed only on loopback, but GATEHOUSE_HOST is ${JSON.stringify(cfg.GATEHOUSE_HOST)}`,
    );
  }
  return problems;
}

/** True for 127.0.0.0/8, ::1 and localhost: the only places plaintext may listen. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
