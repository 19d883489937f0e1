import { after, describe, it } from 'node:test';
import { describeMongoFeature, findMongo, type MongoFeature, type MongoLookup } from './find-mongo.js';
import { tempDir } from './temp-dir.js';
import { uniqueDbName } from './unique-db-name.js';

/** The two store backends every repository has an adapter for (DESIGN.md §4). */
export type Backend = 'sqlite' | 'mongodb';

/**
 * How to build the repository under test ("Ctx": the repository plus whatever the cases need,
 * usually its store) on each backend, and how to tear it down. Each call gets fresh storage.
 */
export interface ContractFactories<Ctx> {
  /** `dir` is a fresh private folder for this case; put the SQLite file in it. */
  sqlite(dir: string): Promise<Ctx>;
  /** A MongoDB URL and a database name no other case uses. */
  mongodb(url: string, dbName: string): Promise<Ctx>;
  /** Closes what the factory opened (called once per opened ctx). */
  close(ctx: Ctx): Promise<void> | void;
}

/** Per-case options. */
export interface CaseOptions {
  /** MongoDB features the case depends on; it is skipped, with the reason, where they are lacking. */
  readonly requires?: readonly MongoFeature[];
  /** Milliseconds before the case fails as hung. Default 30000. */
  readonly timeout?: number;
}

/** What a case knows about where it runs. */
export interface CaseEnv<Ctx> {
  readonly backend: Backend;
  /** `sqlite`, or `mongodb/<flavour>`. */
  readonly label: string;
  /** The case's private folder (the SQLite file lives here); removed after the case. */
  readonly dir: string;
  /** The MongoDB URL and database name, on the mongodb backend. */
  readonly mongo: { readonly url: string; readonly dbName: string } | undefined;
  /**
   * Closes the current ctx and opens a new one on the same storage (same file, same database):
   * how durability cases simulate a restart. Returns the new ctx; the harness closes it.
   */
  reopen(): Promise<Ctx>;
}

/** A contract case: gets a fresh ctx. */
export type CaseFn<Ctx> = (ctx: Ctx, env: CaseEnv<Ctx>) => Promise<void>;

/** What the suite body uses to register its cases, once per backend. */
export interface BackendHandle<Ctx> {
  readonly name: Backend;
  readonly label: string;
  /** What this backend lacks (always empty for SQLite); for cases that adapt instead of skipping. */
  readonly lacks: ReadonlySet<MongoFeature>;
  test(caseName: string, fn: CaseFn<Ctx>): void;
  test(caseName: string, options: CaseOptions, fn: CaseFn<Ctx>): void;
}

/** One skipped case (or a whole skipped backend), with why. */
export interface SkippedCase {
  readonly label: string;
  readonly caseName: string;
  readonly reason: string;
}

/**
 * What the harness did, filled in while the suite runs: a skipped backend must never look like a
 * passing one, so the counts and reasons end up in a summary line on stdout.
 */
export class ContractReport {
  /** Cases run per backend label, in registration order of the labels. */
  readonly ran = new Map<string, number>();
  readonly skipped: SkippedCase[] = [];
  constructor(readonly name: string) {}

  /** `storage harness [outbox]: ran sqlite (12 cases), mongodb/jongodb (11 cases); skipped on …` */
  summary(): string {
    const ran = [...this.ran].filter(([, n]) => n > 0).map(([label, n]) => `${label} (${n} case${n === 1 ? '' : 's'})`);
    const byLabel = new Map<string, SkippedCase[]>();
    for (const skip of this.skipped) byLabel.set(skip.label, [...(byLabel.get(skip.label) ?? []), skip]);
    const skipped = [...byLabel].map(([label, skips]) => {
      const reasons = new Set(skips.map((s) => s.reason));
      if (this.ran.get(label) === 0 && reasons.size === 1) {
        return `skipped ${label} entirely (${skips.length} cases): ${[...reasons][0]}`;
      }
      return `skipped on ${label}: ${skips.map((s) => `"${s.caseName}" (${s.reason})`).join(', ')}`;
    });
    return `storage harness [${this.name}]: ran ${ran.length > 0 ? ran.join(', ') : 'nothing'}${skipped.length > 0 ? `; ${skipped.join('; ')}` : ''}`;
  }
}

/**
 * Runs one repository contract suite against both adapters, as ory/keto's ManagerTest does:
 * SQLite always, MongoDB whenever findMongo() finds one. `body` registers the cases through
 * `backend.test(...)`; it is called once per backend. Every case gets fresh storage (a new SQLite
 * file in a temp dir, a new MongoDB database name). A backend or case that cannot run is
 * reported with `t.skip(reason)`, and a summary line is printed at the end.
 */
export function describeRepositoryContract<Ctx>(
  name: string,
  factories: ContractFactories<Ctx>,
  body: (backend: BackendHandle<Ctx>) => void,
): ContractReport {
  const report = new ContractReport(name);
  describe(`${name} repository contract`, async () => {
    const mongo = await findMongo();
    const mongoLabel = 'url' in mongo ? `mongodb/${mongo.flavour}` : 'mongodb';
    report.ran.set('sqlite', 0);
    report.ran.set(mongoLabel, 0);
    describe('sqlite', () => body(handle('sqlite', 'sqlite', mongo)));
    describe(mongoLabel, () => body(handle('mongodb', mongoLabel, mongo)));
    after(() => {
      console.log(report.summary());
    });
  });

  function handle(backend: Backend, label: string, mongo: MongoLookup): BackendHandle<Ctx> {
    const lacks: ReadonlySet<MongoFeature> = backend === 'mongodb' && 'url' in mongo ? mongo.lacks : new Set();
    function test(caseName: string, a: CaseOptions | CaseFn<Ctx>, b?: CaseFn<Ctx>): void {
      const options: CaseOptions = typeof a === 'function' ? {} : a;
      const fn = typeof a === 'function' ? a : b;
      if (!fn) throw new TypeError(`contract case "${caseName}" has no function`);
      it(caseName, { timeout: options.timeout ?? 30_000 }, async (t) => {
        const skip = (reason: string) => {
          report.skipped.push({ label, caseName, reason });
          t.skip(reason);
        };
        if (backend === 'mongodb' && 'skipped' in mongo) return skip(mongo.skipped);
        const missing = (options.requires ?? []).filter((feature) => lacks.has(feature));
        if (missing.length > 0 && 'url' in mongo) {
          return skip(`${mongo.flavour} lacks ${missing.map(describeMongoFeature).join(', ')}`);
        }
        report.ran.set(label, (report.ran.get(label) ?? 0) + 1);
        await runCase(backend, label, mongo, caseName, fn);
      });
    }
    return { name: backend, label, lacks, test };
  }

  async function runCase(backend: Backend, label: string, mongo: MongoLookup, caseName: string, fn: CaseFn<Ctx>): Promise<void> {
    const dir = await tempDir(`${name}-${caseName}`);
    const where = backend === 'mongodb' && 'url' in mongo ? { url: mongo.url, dbName: uniqueDbName(name) } : undefined;
    const open = () => (where ? factories.mongodb(where.url, where.dbName) : factories.sqlite(dir.path));
    let current: Ctx | undefined;
    const closeCurrent = async () => {
      const ctx = current;
      current = undefined;
      if (ctx !== undefined) await factories.close(ctx);
    };
    try {
      current = await open();
      const env: CaseEnv<Ctx> = {
        backend,
        label,
        dir: dir.path,
        mongo: where,
        reopen: async () => {
          await closeCurrent();
          current = await open();
          return current;
        },
      };
      await fn(current, env);
    } finally {
      try {
        await closeCurrent();
      } finally {
        await dir.cleanup();
      }
    }
  }

  return report;
}
