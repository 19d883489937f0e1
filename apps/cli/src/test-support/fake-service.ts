import { after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import { SERVICE_NAMES } from '@gatehouse/contracts';
import { ensurePki, loadTlsMaterial, type CallerKind } from '@gatehouse/pki';
import { unary, type RunningServer } from '@gatehouse/service-kit';
import { startFakeService, tempDir, type TempDir } from '@gatehouse/testing';
import { run } from '../cli.js';
import type { Prompt } from '../prompt.js';
import type { ServiceName } from '../settings.js';

type Env = Record<string, string | undefined>;

/** One call the fake service received: the request, the session sent and the certificate that made it. */
export interface RecordedCall {
  rpc: string;
  req: unknown;
  /** The Bearer token of the `authorization` metadata, if any. */
  bearer: string | undefined;
  /** Every `authorization` metadata value sent (empty: no session was sent). */
  authorization: unknown[];
  /** The client certificate as `kind:name`. */
  caller: string | undefined;
}

/** A fake RPC: gets the decoded request, returns the response (or throws a domain error). */
export type FakeRpc = (req: never) => unknown;

/** What one `gatehouse` run printed and returned. */
export interface CliRun {
  code: number;
  out: string[];
  err: string[];
  /** stdout and stderr, one line each. */
  all(): string;
}

/** A fake Gatehouse service over real mTLS and the `gatehouse` CLI pointed at it. */
export interface FakeServiceBench {
  /** The calls the fake received in the current test, in order. */
  readonly calls: RecordedCall[];
  /** Each RPC's behaviour: reset to the defaults before each test; replace an entry to change one. */
  readonly impl: Record<string, FakeRpc>;
  /** Puts every RPC back to its default behaviour (within a test). */
  restoreDefaults(): void;
  /** The suite's temporary folder; emptied (but for the PKI) before each test. */
  readonly dir: string;
  rpcs(): string[];
  /** The first call of `rpc` (the test fails if there is none). */
  callOf<T>(rpc: string): RecordedCall & { req: T };
  /** The environment for the CLI: the fake's address, the dev PKI, a private config folder; no session. */
  env(extra?: Env): Env;
  /** As env(), with the session token in GATEHOUSE_SESSION_TOKEN. */
  withSession(extra?: Env): Env;
  /** Runs the CLI; `prompt` answers questions (none expected by default), `stdin` is what --from-stdin reads. */
  gatehouse(argv: string[], env?: Env, opts?: { prompt?: Prompt; stdin?: NodeJS.ReadableStream }): Promise<CliRun>;
  /** A path in the temporary folder; with `content`, a 0600 file holding it. */
  file(name: string, content?: string | Buffer): string;
  /** A file's permission bits. */
  mode(file: string): number;
  /** Fails if `text` holds any canary but those in `except`. */
  assertNoSecrets(text: string, except?: readonly string[]): void;
}

/**
 * Serves `definition` as a fake `service` over mutual TLS with a dev PKI (the CLI presents its
 * `cli` operator certificate and pins the service's), recording each call. Call it inside
 * `describe`: it starts the fake before the suite, stops it after, and resets the recorded calls,
 * the RPC behaviour and the temporary folder before each test.
 */
export function useFakeService(opts: {
  service: ServiceName;
  definition: grpc.ServiceDefinition;
  /** Each RPC (by its contract name, e.g. StartImpersonation) with its default behaviour; only these are served. */
  defaults: () => Record<string, FakeRpc>;
  /** The session token withSession() sets. */
  sessionToken: string;
  /** Secrets the CLI must never print (assertNoSecrets). */
  canaries: readonly string[];
  /** Client certificates besides `cli` (operator). */
  clients?: ReadonlyArray<{ name: string; kind: CallerKind }>;
}): FakeServiceBench {
  let server: RunningServer | undefined;
  let tmp: TempDir | undefined;
  const calls: RecordedCall[] = [];
  const impl: Record<string, FakeRpc> = {};
  const restoreDefaults = () => {
    for (const key of Object.keys(impl)) delete impl[key];
    Object.assign(impl, opts.defaults());
  };
  const dirPath = () => {
    assert.ok(tmp, 'the suite has started');
    return tmp.path;
  };
  const handlers = Object.fromEntries(
    Object.keys(opts.defaults()).map((name) => [
      name,
      unary<unknown, unknown>(async (req, ctx) => {
        calls.push({
          rpc: name,
          req,
          bearer: ctx.bearerToken(),
          authorization: ctx.metadata.get('authorization'),
          caller: ctx.caller ? `${ctx.caller.kind}:${ctx.caller.name}` : undefined,
        });
        const fn = impl[name];
        assert.ok(fn, `no fake for ${name}`);
        return fn(req as never);
      }),
    ]),
  );

  before(async () => {
    tmp = await tempDir(`cli-${opts.service}`);
    const pkiDir = path.join(tmp.path, 'pki');
    await ensurePki(pkiDir, { services: [opts.service], clients: [{ name: 'cli', kind: 'operator' }, ...(opts.clients ?? [])] });
    server = await startFakeService({
      name: SERVICE_NAMES[opts.service],
      definition: opts.definition,
      security: { mode: 'mtls', material: await loadTlsMaterial(pkiDir, opts.service) },
      handlers,
    });
  });
  after(async () => {
    await server?.shutdown();
    await tmp?.cleanup();
  });
  beforeEach(() => {
    calls.length = 0;
    restoreDefaults();
    const dir = dirPath();
    for (const entry of fs.readdirSync(dir)) if (entry !== 'pki') fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  });

  const env = (extra: Env = {}): Env => {
    assert.ok(server, 'the fake service is running');
    return {
      GATEHOUSE_TLS_DIR: path.join(dirPath(), 'pki'),
      [`GATEHOUSE_${opts.service.toUpperCase()}_ADDR`]: `127.0.0.1:${server.port}`,
      GATEHOUSE_CONFIG_DIR: path.join(dirPath(), 'config'),
      HOME: dirPath(),
      ...extra,
    };
  };
  return {
    calls,
    impl,
    restoreDefaults,
    get dir() {
      return dirPath();
    },
    rpcs: () => calls.map((c) => c.rpc),
    callOf: <T>(rpc: string) => {
      const c = calls.find((x) => x.rpc === rpc);
      assert.ok(c, `${rpc} was called`);
      return c as RecordedCall & { req: T };
    },
    env,
    withSession: (extra: Env = {}) => env({ GATEHOUSE_SESSION_TOKEN: opts.sessionToken, ...extra }),
    gatehouse: async (argv, e = env({ GATEHOUSE_SESSION_TOKEN: opts.sessionToken }), o = {}) => {
      const out: string[] = [];
      const err: string[] = [];
      const noPrompt: Prompt = async (q) => assert.fail(`unexpected question ${JSON.stringify(q)}`);
      const code = await run(argv, e, (l) => out.push(l), (l) => err.push(l), undefined, o.prompt ?? noPrompt, o.stdin ?? Readable.from([]));
      return { code, out, err, all: () => [...out, ...err].join('\n') };
    },
    file: (name, content) => {
      const p = path.join(dirPath(), name);
      if (content !== undefined) fs.writeFileSync(p, content, { mode: 0o600 });
      return p;
    },
    mode: (p) => fs.statSync(p).mode & 0o777,
    assertNoSecrets: (text, except = []) => {
      for (const secret of opts.canaries) if (!except.includes(secret)) assert.ok(!text.includes(secret), `output must not contain ${JSON.stringify(secret)}`);
    },
  };
}
