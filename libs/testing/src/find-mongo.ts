import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import type * as Testcontainers from 'testcontainers';

/**
 * MongoDB capabilities a contract case may depend on. jongodb, the last-resort test server,
 * lacks all of them (TOOLCHAIN.md), so a case that needs one declares it and is skipped there
 * with a reason instead of failing or, worse, passing for the wrong reason.
 */
export type MongoFeature =
  | 'ttl'
  | 'change-streams'
  | 'array-update-operators'
  | 'projection'
  | 'write-conflicts'
  | 'list-collections';

/** Every MongoFeature, for servers that lack them all. */
export const MONGO_FEATURES: readonly MongoFeature[] = [
  'ttl',
  'change-streams',
  'array-update-operators',
  'projection',
  'write-conflicts',
  'list-collections',
];

const FEATURE_NAMES: Record<MongoFeature, string> = {
  ttl: 'TTL expiry',
  'change-streams': 'change streams',
  'array-update-operators': '$push/$pull/$min/$max',
  projection: 'projections',
  'write-conflicts': 'write-conflict detection',
  'list-collections': 'listCollections',
};

/** A feature's name as it appears in skip reasons ("jongodb lacks change streams"). */
export function describeMongoFeature(feature: MongoFeature): string {
  return FEATURE_NAMES[feature];
}

/** Where the MongoDB came from, in DESIGN.md §4's order. */
export type MongoFlavour = 'env' | 'testcontainers' | 'jongodb';

/** A MongoDB tests can use. */
export interface FoundMongo {
  /** Loopback URL (unless MONGO_URL says otherwise). Use a fresh database name per test. */
  readonly url: string;
  readonly flavour: MongoFlavour;
  /** What this server cannot do; empty for a real MongoDB. */
  readonly lacks: ReadonlySet<MongoFeature>;
  /** Stops a server we started (no-op for MONGO_URL). The next findMongo() starts a new one. */
  stop(): Promise<void>;
}

/** No MongoDB could be had; `skipped` says why, for skip messages. */
export interface NoMongo {
  readonly skipped: string;
}

/** The answer of findMongo(). */
export type MongoLookup = FoundMongo | NoMongo;

const PACKAGE = '@jongodb/memory-server-bin-linux-x64-gnu';
const RUNTIME_PROBE_MS = 2_000;
const JONGODB_START_MS = 15_000;

let cached: Promise<MongoLookup> | undefined;

/**
 * Finds a MongoDB for this test process, once (DESIGN.md §4): `MONGO_URL`; else a
 * testcontainers replica set when a container runtime answers (probed first: it rejects in
 * milliseconds when there is none); else the jongodb binary on 127.0.0.1 with a random port.
 * `GATEHOUSE_TEST_MONGO=off` skips MongoDB on purpose. Servers we start listen on loopback only
 * and are killed when the process exits.
 */
export function findMongo(): Promise<MongoLookup> {
  cached ??= locate();
  return cached;
}

async function locate(): Promise<MongoLookup> {
  if (process.env['GATEHOUSE_TEST_MONGO'] === 'off') return { skipped: 'no MongoDB: disabled by GATEHOUSE_TEST_MONGO=off' };
  const url = process.env['MONGO_URL']?.trim();
  if (url) return { url, flavour: 'env', lacks: new Set(), stop: async () => undefined };
  const notes = ['MONGO_URL unset'];
  const container = await fromTestcontainers();
  if ('url' in container) return container;
  notes.push(container.skipped);
  const jongodb = await startJongodb();
  if ('url' in jongodb) return jongodb;
  notes.push(jongodb.skipped);
  return { skipped: `no MongoDB: ${notes.join(', ')}` };
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function fromTestcontainers(): Promise<MongoLookup> {
  let tc: typeof Testcontainers;
  try {
    tc = await import('testcontainers');
  } catch (err) {
    return { skipped: `testcontainers not loadable (${message(err)})` };
  }
  try {
    await withTimeout(tc.getContainerRuntimeClient(), RUNTIME_PROBE_MS, 'the container runtime');
  } catch {
    return { skipped: 'no container runtime' };
  }
  try {
    const { MongoDBContainer } = await import('@testcontainers/mongodb');
    /** Publishes the port on 127.0.0.1 only: test databases must not be reachable from the network. */
    class LoopbackMongoDBContainer extends MongoDBContainer {
      constructor(image: string) {
        super(image);
        this.hostConfig.PortBindings = { '27017/tcp': [{ HostIp: '127.0.0.1', HostPort: '0' }] };
      }
    }
    const image = process.env['GATEHOUSE_MONGO_IMAGE'] ?? 'mongo:8.0';
    const started = await new LoopbackMongoDBContainer(image).start();
    const url = `${started.getConnectionString()}/?directConnection=true`;
    let stopped = false;
    return {
      url,
      flavour: 'testcontainers',
      lacks: new Set(),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        cached = undefined;
        await started.stop();
      },
    };
  } catch (err) {
    return { skipped: `container runtime found but the MongoDB container failed (${message(err)})` };
  }
}

/** Where the jongodb launcher is installed, or undefined when its package is missing. */
export function jongodbBinary(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`);
    const bin = path.join(path.dirname(pkg), 'bin', 'jongodb');
    return fs.existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a private jongodb on 127.0.0.1 and a random port and reads its `JONGODB_URI=` line.
 * Exported for the harness's own tests; use findMongo(), which caches one per process.
 */
export async function startJongodb(binary: string | undefined = jongodbBinary()): Promise<MongoLookup> {
  if (!binary) return { skipped: `jongodb binary missing (${PACKAGE} not installed)` };
  const child = spawn(binary, ['--host=127.0.0.1', '--port=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-2_000);
  });
  const killNow = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (signal: NodeJS.Signals) => {
    killNow();
    // Keep the default behaviour (exit) unless someone else handles the signal.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const detach = () => {
    process.off('exit', killNow);
    for (const signal of signals) process.off(signal, onSignal);
  };
  process.once('exit', killNow);
  for (const signal of signals) process.once(signal, onSignal);

  let uri: string;
  try {
    uri = await withTimeout(readUri(child), JONGODB_START_MS, 'jongodb');
    const host = new URL(uri).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost') throw new Error(`jongodb listens on ${host}, not loopback`);
  } catch (err) {
    killNow();
    detach();
    const detail = stderrTail.trim().split('\n').slice(-1)[0];
    return { skipped: `jongodb did not start (${message(err)}${detail ? `; ${detail}` : ''})` };
  }
  // Keep draining its output (a full pipe would block it) without keeping this process alive.
  child.stdout?.resume();
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  const found: FoundMongo = {
    url: uri,
    flavour: 'jongodb',
    lacks: new Set(MONGO_FEATURES),
    stop: async () => {
      detach();
      if (cached && (await cached) === found) cached = undefined;
      await stopChild(child);
    },
  };
  return found;
}

function readUri(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) return reject(new Error('no stdout'));
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = /^JONGODB_URI=(\S+)/.exec(line.trim());
      if (match?.[1]) {
        lines.removeAllListeners('line');
        resolve(match[1]);
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`exited (${signal ?? code}) before printing JONGODB_URI`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
  await exited;
  clearTimeout(timer);
}
