// Per-file accounting of node:test events (the JSON lines count-reporter.mjs writes). A test is
// "declared" when the runner enqueues it, or when it reports a result without an enqueue (the
// tests of a suite whose before() hook failed are reported cancelled, never enqueued). A file is
// in order only if every declared test reported a result and the root plan arrived, i.e. the
// file was not cut short by process.exit, a crash or a forced exit.

/** @typedef {{ type: string, file?: string, line?: number, column?: number, nesting?: number, name?: string, suite?: boolean, skip?: boolean, todo?: boolean, failureType?: string, count?: number }} CountEvent */

export class FileAccount {
  constructor() {
    /** @type {Map<string, { name: string, enqueued: number, reported: number, suite: boolean }>} */
    this.items = new Map();
    this.pass = 0;
    this.fail = 0;
    this.cancelled = 0;
    this.skipped = 0;
    this.todo = 0;
    this.suites = 0;
    /** @type {number | undefined} the root plan's count, set once the file ran to its end */
    this.rootPlan = undefined;
  }

  /** @param {CountEvent} event */
  add(event) {
    if (event.type === 'root:plan') {
      this.rootPlan = event.count;
      return;
    }
    const key = `${event.file}:${event.line}:${event.column}:${event.nesting}:${event.name}`;
    let item = this.items.get(key);
    if (!item) {
      item = { name: event.name ?? '?', enqueued: 0, reported: 0, suite: false };
      this.items.set(key, item);
    }
    if (event.type === 'test:enqueue') {
      item.enqueued += 1;
      return;
    }
    item.reported += 1;
    if (event.suite) {
      item.suite = true;
      this.suites += 1;
    } else if (event.todo) this.todo += 1;
    else if (event.skip) this.skipped += 1;
    else if (event.type === 'test:pass') this.pass += 1;
    else if (event.failureType === 'cancelledByParent' || event.failureType === 'testTimeoutFailure') this.cancelled += 1;
    else this.fail += 1;
  }

  /** Tests (not suites) the file declared; an item that never reported is counted as a test. */
  get declared() {
    let n = 0;
    for (const item of this.items.values()) if (!item.suite) n += Math.max(item.enqueued, item.reported);
    return n;
  }

  /** Tests (not suites) that reported a result: pass, fail, cancelled, skipped or todo. */
  get results() {
    return this.pass + this.fail + this.cancelled + this.skipped + this.todo;
  }

  /** Names of the tests and suites that were declared but never reported. */
  get missing() {
    const names = [];
    for (const item of this.items.values()) for (let i = item.reported; i < item.enqueued; i++) names.push(item.name);
    return names;
  }

  /** Every test and suite declared so far has reported: only hooks and teardown may still run. */
  get settled() {
    return this.items.size > 0 && this.missing.length === 0;
  }

  /**
   * What is wrong with this file's run, as one line, or undefined if it is in order.
   * @param {{ code: number | null, signal: string | null, killedFor?: string }} exit
   */
  problem(exit) {
    const counts = `declared ${this.declared} test(s), ${this.results} reported a result`;
    const missing = this.missing;
    const names = missing.length === 0 ? '' : `; never reported: ${missing.slice(0, 5).map((n) => JSON.stringify(n)).join(', ')}${missing.length > 5 ? `, and ${missing.length - 5} more` : ''}`;
    if (exit.killedFor) return `killed: ${exit.killedFor} (${counts}${names})`;
    if (this.declared === 0) return `reported no tests (exit code ${exit.code ?? exit.signal})`;
    if (missing.length > 0 || this.results < this.declared) return `${counts}: ${this.declared - this.results} missing${names} (exit code ${exit.code ?? exit.signal})`;
    if (this.rootPlan === undefined) return `ended before the test runner finished the file (${counts}, exit code ${exit.code ?? exit.signal})`;
    if (exit.code !== 0) {
      if (this.fail + this.cancelled > 0) return undefined; // failures are reported by spec and in the totals
      return `exited with ${exit.code ?? exit.signal} although every test passed (${counts})`;
    }
    return undefined;
  }
}
