import { run } from './cli.js';

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
run(process.argv.slice(2), process.env, (l) => process.stdout.write(`${l}\n`), (l) => process.stderr.write(`${l}\n`), stop.signal).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`gatehouse: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
