import { parseArgs } from 'node:util';
import { settingsFrom } from './settings.js';
import { status } from './commands/status.js';
import { pkiIssue, UsageError } from './commands/pki.js';
import { alerts, auditExport, auditHash, auditKeys, auditQuery, auditTail, auditVerify } from './commands/audit.js';

const USAGE = `gatehouse: the command for employees, the security officer and operators

Usage:
  gatehouse status [--json]                       health, version and address of each service
  gatehouse pki issue --name <client> [--kind backend|operator] [--days 90] [--out DIR] [--force]
                                                  issue a client certificate from the Gatehouse CA
  gatehouse audit tail [--from SEQ] [--json]      follow the audit log live (resumes after disconnects)
  gatehouse audit query [--actor ID] [--subject ID] [--action A,B] [--service S] [--outcome O]
                        [--domain D] [--ip IP] [--since T] [--until T] [--from SEQ] [--to SEQ]
                        [--limit N] [--desc] [--json]
  gatehouse audit export [--from SEQ] [--to SIZE] [--trusted SIZE] > file.ndjson
  gatehouse audit verify <file> --public-key <key|file> [--json]
                                                  verify an export offline; names the first bad sequence
  gatehouse audit keys                            the checkpoint signing keys (pin one for verify)
  gatehouse audit hash <value>                    the HMAC form of a value, to search hashed_details
  gatehouse alerts [list|watch|ack <id> --note "..."]

Environment:
  GATEHOUSE_TLS_DIR           PKI folder (default .gatehouse/pki)
  GATEHOUSE_CLI_CERT          certificate to present (default cli)
  GATEHOUSE_<SERVICE>_ADDR    e.g. GATEHOUSE_AUDIT_ADDR=127.0.0.1:7105
  GATEHOUSE_SESSION_TOKEN     your session (or GATEHOUSE_SESSION_FILE, a file holding it)
`;

/** Parses argv and runs one command; returns the exit code. Wiring only: commands do the work. */
export async function run(
  argv: string[],
  env: Record<string, string | undefined>,
  out: (l: string) => void,
  err: (l: string) => void,
  signal: AbortSignal = new AbortController().signal,
): Promise<number> {
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
      from: { type: 'string' },
      to: { type: 'string' },
      trusted: { type: 'string' },
      limit: { type: 'string' },
      actor: { type: 'string' },
      subject: { type: 'string' },
      action: { type: 'string' },
      service: { type: 'string' },
      outcome: { type: 'string' },
      domain: { type: 'string' },
      ip: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      desc: { type: 'boolean', default: false },
      'public-key': { type: 'string' },
      note: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    });
  } catch (e) {
    err(`gatehouse: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const settings = settingsFrom(env);
  const [cmd, sub, arg] = positionals;
  const a = { ...values, publicKey: values['public-key'] };
  if (values.help || !cmd) {
    out(USAGE);
    return cmd ? 0 : 2;
  }
  try {
    if (cmd === 'status') return await status(settings, out, values.json);
    if (cmd === 'pki' && sub === 'issue') {
      return await pkiIssue(settings, { name: values.name, kind: values.kind, out: values.out, days: values.days, force: values.force }, out);
    }
    if (cmd === 'audit' && sub === 'query') return await auditQuery(settings, env, a, out);
    if (cmd === 'audit' && sub === 'tail') return await auditTail(settings, env, a, out, signal);
    if (cmd === 'audit' && sub === 'export') return await auditExport(settings, env, a, out);
    if (cmd === 'audit' && sub === 'verify') return await auditVerify(arg, a, out);
    if (cmd === 'audit' && sub === 'keys') return await auditKeys(settings, out);
    if (cmd === 'audit' && sub === 'hash') return await auditHash(settings, env, arg, out);
    if (cmd === 'alerts') return await alerts(settings, env, sub, arg, a, out, signal);
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

