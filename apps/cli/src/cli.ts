import { parseArgs } from 'node:util';
import { settingsFrom } from './settings.js';
import { status } from './commands/status.js';
import { pkiIssue, UsageError } from './commands/pki.js';

const USAGE = `gatehouse: the command for employees, the security officer and operators

Usage:
  gatehouse status [--json]                       health, version and address of each service
  gatehouse pki issue --name <client> [--kind backend|operator] [--days 90] [--out DIR] [--force]
                                                  issue a client certificate from the Gatehouse CA

Environment:
  GATEHOUSE_TLS_DIR           PKI folder (default .gatehouse/pki)
  GATEHOUSE_CLI_CERT          certificate to present (default cli)
  GATEHOUSE_<SERVICE>_ADDR    e.g. GATEHOUSE_AUDIT_ADDR=127.0.0.1:7105
`;

/** Parses argv and runs one command; returns the exit code. Wiring only: commands do the work. */
export async function run(argv: string[], env: Record<string, string | undefined>, out: (l: string) => void, err: (l: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      name: { type: 'string' },
      kind: { type: 'string' },
      out: { type: 'string' },
      days: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    });
  } catch (e) {
    err(`gatehouse: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const settings = settingsFrom(env);
  const [cmd, sub] = positionals;
  if (values.help || !cmd) {
    out(USAGE);
    return cmd ? 0 : 2;
  }
  try {
    if (cmd === 'status') return await status(settings, out, values.json);
    if (cmd === 'pki' && sub === 'issue') {
      return await pkiIssue(settings, { name: values.name, kind: values.kind, out: values.out, days: values.days, force: values.force }, out);
    }
    err(`gatehouse: unknown command ${JSON.stringify(positionals.join(' '))}\n\n${USAGE}`);
    return 2;
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message);
      return 2;
    }
    throw e;
  }
}

