import { parseArgs } from 'node:util';
import { DevStackSettingError } from '@gatehouse/pki';
import { helpFor } from './args.js';
import { settingsFrom, type CliSettings } from './settings.js';
import { status } from './commands/status.js';
import { pkiIssue, UsageError } from './commands/pki.js';
import { alerts, auditCheckpoint, auditExport, auditHash, auditKeys, auditQuery, auditTail, auditVerify } from './commands/audit.js';
import { allowlist, ipCheck, ipRegister } from './commands/allowlist.js';
import {
  accounts,
  devToken,
  login,
  logout,
  otp,
  refreshStoredSessionIfDue,
  sessions,
  whoami,
  type IdentityArgs,
  type IdentityContext,
} from './commands/identity.js';
import { accessLog, anomalies, impersonate, type ImpersonationArgs } from './commands/impersonation.js';
import { release, secrets, type SecretsArgs, type SecretsContext } from './commands/secrets.js';
import { lineReaderPrompt, type ClosablePrompt, type Prompt } from './prompt.js';
import { CommandFailed, describeRpcError, isRpcError } from './rpc-errors.js';

const USAGE = `gatehouse: the command for employees, the security officer and operators

Usage:
  gatehouse status [--json]                       health, version and address of each service

Employees:
  gatehouse login (--id-token-file <file> | --dev <email>) [--label L]
                                                  sign in: Google ID token, SMS code, OTP code (the
                                                  first sign-in enrols your OTP app); stores the session
  gatehouse logout                                revoke your session and delete the stored one
  gatehouse whoami [--json]                       your account and session (scope, pinned IP, expiries)
  gatehouse otp enroll [--hotp] [--algorithm SHA1|SHA256|SHA512] [--digits 6|8] [--label L]
                                                  replace your OTP device (needs a fresh sign-in)
  gatehouse otp resync <code1> <code2>            resynchronise an HOTP device with two consecutive codes
  gatehouse sessions list [--account ID] [--json]
  gatehouse sessions revoke <session-id> | --account <id> [--reason "..."]
  gatehouse session refresh                       extend your session without signing in again (until its
                                                  absolute expiry; FULL once your IP is allowlisted).
                                                  Commands also refresh it when it expires within
                                                  GATEHOUSE_SESSION_REFRESH_MARGIN
  gatehouse dev token <email> [--name "Display Name"]
                                                  dev stack only: a Google-shaped ID token for <email>

Security officer (<account> is an account id or an e-mail address):
  gatehouse accounts list [--state pending|active|suspended] [--json]
  gatehouse accounts approve <account> --roles manager,developer --name "Lea Dubois" [--phone +4915112345678] [--note "..."]
                                                  --name: the name customers see (never an e-mail)
  gatehouse accounts suspend <account> --reason "..."
  gatehouse accounts roles <account> --roles a,b --reason "..."
                                                  never your own; granting security_officer, manager or
                                                  team_lead waits for a second officer (two-person rule)
  gatehouse accounts changes [--state pending|applied|expired] [--json]
                                                  role changes waiting for a second officer
  gatehouse accounts approve-change <change-id> [--note "..."]
                                                  approve and apply another officer's role change
  gatehouse accounts phone <account> <+E.164 number> --reason "..."
  gatehouse accounts unlock <account> --note "..."
  gatehouse accounts reset-otp <account> --reason "..."
  gatehouse ip register [--json]                  register today's IP (the one you connect from) until the daily cut-off
  gatehouse ip check <ip> [--account ID] [--env live|staging] [--json]
                                                  what the allowlist answers (exit 0 ALLOW, 3 DENY)
  gatehouse allowlist list [--scope S] [--contains IP] [--expired] [--json]
  gatehouse allowlist add <cidr> --scope live|staging|all --label "..." --reason "..." [--expires T] [--normalize]
  gatehouse allowlist remove <entry-id> --reason "..."
  gatehouse accounts bootstrap [--token-file <file>] (--dev <email> | --id-token-file <file>) --phone <E.164>
                                                  create the first security officer (no session needed)
  Roles: security_officer, manager, team_lead, developer, support

Secrets (init, unseal and status need no session; secrets are read from files or asked without echo,
never taken from the command line):
  gatehouse secrets init (--passphrase-file <file> [--kdf scrypt|argon2id] | --shares N --threshold K [--shares-dir DIR]) [--json]
                                                  create the sealed key file; shares are shown ONCE (or written,
                                                  one 0600 file each, to a new 0700 DIR): one per operator
  gatehouse secrets unseal [--passphrase-file <file> | --share-file <file>]
                                                  give the passphrase or one share (asked if no file); shows "2 of 3 shares"
  gatehouse secrets seal --reason "..."           wipe the master key from memory (your session is sent if you have one)
  gatehouse secrets status [--json]               state, seal type, kdf, shares, unseal progress, key version
  gatehouse secrets put <live|staging> <app> <NAME> (--value-file <file> | --from-stdin)
                                                  store a new version (the value is never echoed)
  gatehouse secrets list [--env E] [--app A] [--include-deleted] [--json]
  gatehouse secrets delete <live|staging> <app> <NAME> --reason "..."
  gatehouse secrets rotate --reason "..."         new master key version; every data key re-wrapped

Releases (one deployment's secrets, redeemable once):
  gatehouse release create <live|staging> <app> --ref <deployment-ref> [--ttl 15m] [--cidr C]
                           [--client-identity backend:name] [--token-file <new file>] [--json]
                                                  the token is shown once, or written to a new 0600 file
  gatehouse release approve <release-id> [--note "..."]
  gatehouse release revoke <release-id> --reason "..."
  gatehouse release show <release-id> [--json]
  gatehouse release list [--env E] [--app A] [--ref R] [--state S ...] [--json]
  gatehouse release redeem --token-file <file> (--out <new env file> | --json) [--expect-ref REF]
                                                  for deploy scripts: certificate only, no session; writes
                                                  NAME='value' lines to a new 0600 file, or JSON to stdout

Impersonation (support and developers; every command here also takes --json; the token is a
secret: it goes to a new 0600 file, or only into the --json answer):
  gatehouse impersonate start --target <user-id> --domain <domain> --reason support-case|bug|incident
                              (--justification "..." | --justification-file <file>) --ticket <ref>
                              [--duration 30m] (--token-file <new file> | --json)
                                                  a grant of at most 60 min; refused after a burst in one
                                                  domain: justify the anomaly it names
  gatehouse impersonate end <grant-id>            end your grant early; its token stops working
  gatehouse impersonate list [--account ID] [--domain D] [--limit N] [--json]
                                                  active grants, soonest expiry first
  gatehouse impersonate status [--account ID] [--json]
                                                  locked or not, blocked domains, active grants
  gatehouse anomalies list [--state open|justified|accepted|rejected ...] [--account ID] [--domain D]
                           [--limit N] [--json]
                                                  newest first: id, employee, domain, state, targets
  gatehouse anomalies justify <anomaly-id> (--justification "..." | --justification-file <file>)
                              --ticket <ref> [--ticket <ref> ...]

Security officer, for impersonation (access-log: also a manager):
  gatehouse impersonate revoke <grant-id> --reason "..."
  gatehouse impersonate unlock <account-id> --note "..."
                                                  lift the lock a rejected anomaly put on an employee
  gatehouse anomalies resolve <anomaly-id> (--accept | --reject) --note "..."
                                                  accept lifts the domain block; reject locks the employee
                                                  out of impersonation and revokes their grants
  gatehouse access-log <domain> [--since T] [--until T] [--limit N] [--json]
                                                  staff access to a customer domain as the customer sees it:
                                                  who, when, why, and what was touched

Operators:
  gatehouse pki issue --name <client> [--kind backend|operator] [--days 90] [--out DIR] [--force]
                                                  issue a client certificate from the Gatehouse CA
  gatehouse audit tail [--from SEQ] [--json]      follow the audit log live (resumes after disconnects)
  gatehouse audit query [--actor ID] [--subject ID] [--action A,B] [--service S] [--outcome O]
                        [--domain D] [--ip IP] [--since T] [--until T] [--from SEQ] [--to SEQ]
                        [--limit N] [--desc | --asc] [--json]
                                                  oldest first; with --limit the newest N first (--asc: the
                                                  oldest N); "no events" (--json: []) when nothing matches
  gatehouse audit export [--from SEQ] [--to SIZE] [--trusted SIZE] > file.ndjson
  gatehouse audit verify <file> --public-key <key|file> [--trusted-size N] [--trusted-checkpoint FILE] [--json]
                                                  verify an export offline; names the first bad sequence; with a
                                                  pinned size or checkpoint, a log cut back or rewritten fails
  gatehouse audit checkpoint [--out FILE]         the latest signed checkpoint, to pin for --trusted-checkpoint
  gatehouse audit keys                            the checkpoint signing keys (pin one for verify)
  gatehouse audit hash <value>                    the HMAC form of a value, to search hashed_details
  gatehouse alerts [list|watch|ack <id> --note "..."]

Environment:
  GATEHOUSE_DEV_DIR           the dev stack's folder, as given to \`npm start\` (default .gatehouse): its
                              pki/ and data/ (bootstrap token, dev issuer key) are the defaults below
  GATEHOUSE_DEV_BASE_PORT     the dev stack's base port, as given to \`npm start\` (default 7101)
  GATEHOUSE_TLS_DIR           PKI folder (default <GATEHOUSE_DEV_DIR>/pki)
  GATEHOUSE_CLI_CERT          certificate to present (default cli; the dev stack also makes dev-backend
                              and deployer; others: \`gatehouse pki issue\`)
  GATEHOUSE_<SERVICE>_ADDR    e.g. GATEHOUSE_AUDIT_ADDR=127.0.0.1:7105 (default: the dev stack's ports)
  GATEHOUSE_SESSION_TOKEN     your session (or GATEHOUSE_SESSION_FILE, a file holding it); when
                              neither is set, the session stored by \`gatehouse login\`
  GATEHOUSE_CONFIG_DIR        where login stores the session (default $XDG_CONFIG_HOME/gatehouse
                              or ~/.config/gatehouse; file \`session\`, mode 0600)
  GATEHOUSE_SESSION_REFRESH_MARGIN  refresh the stored session before a command when it expires
                              within this (default 10m; 0 never)
  GATEHOUSE_DEV_ISSUER_KEY_FILE  the dev issuer key (default <GATEHOUSE_DEV_DIR>/data/identity-dev-issuer-key.pem)
  GATEHOUSE_ENV               dev: dev-stack helpers (dev tokens; SMS codes on the npm start console)
`;

/**
 * Whether a command may run with the stored session, so that it is refreshed first when it nears
 * expiry. Not for the commands that sign in or out, refresh explicitly, or never send a session.
 */
function usesSession(cmd: string, sub: string | undefined): boolean {
  if (['login', 'logout', 'dev', 'pki', 'status'].includes(cmd)) return false;
  if ((cmd === 'session' || cmd === 'sessions') && sub === 'refresh') return false;
  if (cmd === 'audit' && sub === 'verify') return false;
  if (cmd === 'secrets' && ['init', 'unseal', 'status'].includes(sub ?? '')) return false;
  if (cmd === 'release' && sub === 'redeem') return false;
  return true;
}

/**
 * Parses argv and runs one command; returns the exit code (0 ok, 1 failed, 2 usage). Wiring only:
 * commands do the work. `prompt` answers questions (SMS and OTP codes, passphrases); by default
 * they are read from stdin, with the question on stderr. `stdin` is what `--from-stdin` reads.
 */
export async function run(
  argv: string[],
  env: Record<string, string | undefined>,
  out: (l: string) => void,
  err: (l: string) => void,
  signal: AbortSignal = new AbortController().signal,
  prompt?: Prompt,
  stdin: NodeJS.ReadableStream = process.stdin,
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
      asc: { type: 'boolean', default: false },
      'public-key': { type: 'string' },
      'trusted-size': { type: 'string' },
      'trusted-checkpoint': { type: 'string' },
      note: { type: 'string' },
      dev: { type: 'string' },
      'id-token-file': { type: 'string' },
      'token-file': { type: 'string' },
      state: { type: 'string', multiple: true },
      roles: { type: 'string' },
      phone: { type: 'string' },
      reason: { type: 'string' },
      account: { type: 'string' },
      hotp: { type: 'boolean', default: false },
      algorithm: { type: 'string' },
      digits: { type: 'string' },
      label: { type: 'string' },
      env: { type: 'string' },
      scope: { type: 'string' },
      expires: { type: 'string' },
      normalize: { type: 'boolean', default: false },
      contains: { type: 'string' },
      expired: { type: 'boolean', default: false },
      'passphrase-file': { type: 'string' },
      kdf: { type: 'string' },
      shares: { type: 'string' },
      threshold: { type: 'string' },
      'shares-dir': { type: 'string' },
      'share-file': { type: 'string' },
      'value-file': { type: 'string' },
      'from-stdin': { type: 'boolean', default: false },
      app: { type: 'string' },
      'include-deleted': { type: 'boolean', default: false },
      ref: { type: 'string' },
      ttl: { type: 'string' },
      cidr: { type: 'string' },
      'client-identity': { type: 'string' },
      'expect-ref': { type: 'string' },
      target: { type: 'string' },
      justification: { type: 'string' },
      'justification-file': { type: 'string' },
      ticket: { type: 'string', multiple: true },
      duration: { type: 'string' },
      accept: { type: 'boolean', default: false },
      reject: { type: 'boolean', default: false },
      // Known only to be refused with the reason: secrets never come from the command line.
      value: { type: 'string' },
      passphrase: { type: 'string' },
      share: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    });
  } catch (e) {
    err(`gatehouse: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  let settings: CliSettings;
  try {
    settings = settingsFrom(env);
  } catch (e) {
    if (!(e instanceof DevStackSettingError)) throw e;
    err(`gatehouse: ${e.message}`);
    return 2;
  }
  const [cmd, sub, arg] = positionals;
  const a = { ...values, publicKey: values['public-key'], trustedSize: values['trusted-size'], trustedCheckpoint: values['trusted-checkpoint'] };
  const ia: IdentityArgs = { ...values, state: values.state?.join(','), idTokenFile: values['id-token-file'], tokenFile: values['token-file'] };
  const sa: SecretsArgs = {
    ...values,
    passphraseFile: values['passphrase-file'],
    sharesDir: values['shares-dir'],
    shareFile: values['share-file'],
    valueFile: values['value-file'],
    fromStdin: values['from-stdin'],
    includeDeleted: values['include-deleted'],
    clientIdentity: values['client-identity'],
    tokenFile: values['token-file'],
    expectRef: values['expect-ref'],
  };
  const ima: ImpersonationArgs = { ...values, justificationFile: values['justification-file'], tokenFile: values['token-file'] };
  const rest = positionals.slice(2);
  if (!cmd) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  if (values.help || cmd === 'help') {
    // `gatehouse <command...> --help` or `gatehouse help <command...>`: that command's help.
    const words = cmd === 'help' ? positionals.slice(1) : positionals;
    if (words.length === 0) {
      out(USAGE);
      return 0;
    }
    const help = helpFor(USAGE, words);
    if (help === undefined) {
      err(`gatehouse: unknown command ${JSON.stringify(words.join(' '))}\n\n${USAGE}`);
      return 2;
    }
    out(help);
    return 0;
  }
  let terminal: ClosablePrompt | undefined;
  const ask: Prompt = prompt ?? ((q, o) => (terminal ??= lineReaderPrompt(stdin)).ask(q, o));
  const ictx: IdentityContext = { settings, env, out, prompt: ask };
  const sctx: SecretsContext = { ...ictx, stdin };
  try {
    if (usesSession(cmd, sub)) await refreshStoredSessionIfDue(ictx, err);
    if (cmd === 'login' && !sub) return await login(ictx, ia);
    if (cmd === 'logout' && !sub) return await logout(ictx);
    if (cmd === 'whoami' && !sub) return await whoami(ictx, ia);
    if (cmd === 'dev' && sub === 'token') return await devToken(ictx, arg, ia);
    if (cmd === 'otp') return await otp(ictx, sub, rest, ia);
    if (cmd === 'accounts') return await accounts(ictx, sub, rest, ia);
    if (cmd === 'sessions' || cmd === 'session') return await sessions(ictx, sub, rest, ia);
    if (cmd === 'secrets') return await secrets(sctx, sub, rest, sa);
    if (cmd === 'release') return await release(sctx, sub, rest, sa);
    if (cmd === 'impersonate') return await impersonate(ictx, sub, rest, ima);
    if (cmd === 'anomalies') return await anomalies(ictx, sub, rest, ima);
    if (cmd === 'access-log') return await accessLog(ictx, positionals.slice(1), ima);
    const la = { json: values.json, account: values.account, env: values.env, scope: values.scope, label: values.label, reason: values.reason, expires: values.expires, normalize: values.normalize, contains: values.contains, expired: values.expired };
    if (cmd === 'ip' && sub === 'register') return await ipRegister(settings, env, out, la);
    if (cmd === 'ip' && sub === 'check') return await ipCheck(settings, out, arg, la);
    if (cmd === 'allowlist') return await allowlist(settings, env, out, sub, arg, la);
    if (cmd === 'status') return await status(settings, out, values.json);
    if (cmd === 'pki' && sub === 'issue') {
      return await pkiIssue(settings, { name: values.name, kind: values.kind, out: values.out, days: values.days, force: values.force }, out);
    }
    if (cmd === 'audit' && sub === 'query') return await auditQuery(settings, env, a, out);
    if (cmd === 'audit' && sub === 'tail') return await auditTail(settings, env, a, out, signal);
    if (cmd === 'audit' && sub === 'export') return await auditExport(settings, env, a, out);
    if (cmd === 'audit' && sub === 'verify') return await auditVerify(arg, a, out);
    if (cmd === 'audit' && sub === 'keys') return await auditKeys(settings, out);
    if (cmd === 'audit' && sub === 'checkpoint') return await auditCheckpoint(settings, a, out);
    if (cmd === 'audit' && sub === 'hash') return await auditHash(settings, env, arg, out);
    if (cmd === 'alerts') return await alerts(settings, env, sub, arg, a, out, signal);
    err(`gatehouse: unknown command ${JSON.stringify(positionals.join(' '))}\n\n${USAGE}`);
    return 2;
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message);
      return 2;
    }
    if (e instanceof CommandFailed) {
      err(`gatehouse: ${e.message}`);
      return 1;
    }
    if (isRpcError(e)) {
      err(`gatehouse: ${describeRpcError(e)}`);
      return 1;
    }
    throw e;
  } finally {
    terminal?.close();
  }
}

