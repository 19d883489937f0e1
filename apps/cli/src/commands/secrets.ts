import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SecretsServiceClient, commonV1, secretsV1 } from '@gatehouse/contracts';
import { systemClock, type Clock } from '@gatehouse/core';
import { isCallerKind, isCallerName } from '@gatehouse/pki';
import { call, dial } from '@gatehouse/service-kit';
import { namedValues, parseDuration, requireArg, requireText, wholeNumber } from '../args.js';
import type { CommandContext } from '../context.js';
import { at, enumLabel, environmentLabel, fields, table, who } from '../output.js';
import { allPages } from '../pages.js';
import { createPrivateDir, createPrivateFile, readSecretFile, type PrivateFile } from '../private-files.js';
import type { Prompt } from '../prompt.js';
import { CommandFailed, rpc } from '../rpc-errors.js';
import { optionalSessionToken, sessionHint, sessionToken } from '../session.js';
import { securityFor, type CliSettings } from '../settings.js';
import { UsageError } from './pki.js';

/** Options of the secrets and release commands (parsed by cli.ts). */
export interface SecretsArgs {
  json?: boolean;
  passphraseFile?: string | undefined;
  kdf?: string | undefined;
  shares?: string | undefined;
  threshold?: string | undefined;
  sharesDir?: string | undefined;
  shareFile?: string | undefined;
  reason?: string | undefined;
  note?: string | undefined;
  valueFile?: string | undefined;
  fromStdin?: boolean;
  env?: string | undefined;
  app?: string | undefined;
  includeDeleted?: boolean;
  ref?: string | undefined;
  ttl?: string | undefined;
  cidr?: string | undefined;
  clientIdentity?: string | undefined;
  tokenFile?: string | undefined;
  state?: string[] | undefined;
  out?: string | undefined;
  expectRef?: string | undefined;
  /** Refused when given: secrets never come from argv. */
  value?: string | undefined;
  passphrase?: string | undefined;
  share?: string | undefined;
  token?: string | undefined;
}

/** The secrets commands also read stdin (`secrets put --from-stdin`). */
export interface SecretsContext extends CommandContext {
  stdin: NodeJS.ReadableStream;
}

const { SealState, SealType, KeyDerivation, ReleaseState } = secretsV1;
const { Environment } = commonV1;

const ENVIRONMENTS: Readonly<Record<string, commonV1.Environment>> = { live: Environment.ENVIRONMENT_LIVE, staging: Environment.ENVIRONMENT_STAGING };
const KDFS: Readonly<Record<string, secretsV1.KeyDerivation>> = { argon2id: KeyDerivation.KEY_DERIVATION_ARGON2ID, scrypt: KeyDerivation.KEY_DERIVATION_SCRYPT };
const RELEASE_STATES: Readonly<Record<string, secretsV1.ReleaseState>> = {
  pending: ReleaseState.RELEASE_STATE_PENDING_APPROVAL,
  pending_approval: ReleaseState.RELEASE_STATE_PENDING_APPROVAL,
  ready: ReleaseState.RELEASE_STATE_READY,
  redeemed: ReleaseState.RELEASE_STATE_REDEEMED,
  expired: ReleaseState.RELEASE_STATE_EXPIRED,
  revoked: ReleaseState.RELEASE_STATE_REVOKED,
};
/** SecretMetadata.app and .name (the contract's forms). */
const APP_RE = /^[a-z][a-z0-9-]{0,62}$/;
const NAME_RE = /^[A-Z][A-Z0-9_]{0,127}$/;
/** A name a POSIX shell accepts on the left of `NAME=...`. */
const SHELL_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_VALUE_BYTES = 64 * 1024;
const MIN_PASSPHRASE_CHARS = 16;

const ON_ARGV = 'anything on the command line is visible to every user of this machine in the process list and stays in your shell history';

async function withSecrets<T>(settings: CliSettings, fn: (c: SecretsServiceClient) => Promise<T>): Promise<T> {
  const c = dial(SecretsServiceClient, settings.address('secrets'), await securityFor(settings, 'secrets'));
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Secrets are never taken from argv: each such option is refused with the reason and the alternative. */
function refuseSecretsOnArgv(cmd: string, a: SecretsArgs): void {
  const refused: Array<[string | undefined, string, string]> = [
    [a.value, '--value', 'use --value-file <file> or --from-stdin'],
    [a.passphrase, '--passphrase', 'use --passphrase-file <file> or answer the prompt'],
    [a.share, '--share', 'use --share-file <file> or answer the prompt'],
    [a.token, '--token', 'use --token-file <file>'],
  ];
  for (const [given, flag, instead] of refused) {
    if (given !== undefined) throw new UsageError(`${cmd}: ${flag} is refused: ${ON_ARGV}; ${instead}`);
  }
}

/** A sealed service refuses every data RPC: say how to unseal it. */
function sealedHint(err: grpc.ServiceError): string | undefined {
  return err.code === grpc.status.FAILED_PRECONDITION && /\bsealed\b/i.test(err.details) ? 'The secrets service is sealed: operators unseal it with `gatehouse secrets unseal`.' : undefined;
}

/** Hints for calls made with the session: sealed, or the session's own problems. */
function dataHint(err: grpc.ServiceError): string | undefined {
  return sealedHint(err) ?? sessionHint(err);
}

// ---------------------------------------------------------------------------------------------
// Parsing

function environmentOf(cmd: string, value: string | undefined): commonV1.Environment {
  const e = ENVIRONMENTS[(value ?? '').trim().toLowerCase()];
  if (e === undefined) throw new UsageError(`${cmd}: the environment must be live or staging${value ? `, got ${JSON.stringify(value)}` : ''}`);
  return e;
}

function appOf(cmd: string, value: string): string {
  if (!APP_RE.test(value)) throw new UsageError(`${cmd}: the app ${JSON.stringify(value)} must be lower-case letters, digits and '-', 1 to 63 characters, starting with a letter`);
  return value;
}

function secretNameOf(cmd: string, value: string): string {
  if (!NAME_RE.test(value)) {
    throw new UsageError(`${cmd}: the name ${JSON.stringify(value)} must be upper-case letters, digits and '_', 1 to 128 characters, starting with a letter (e.g. DATABASE_PASSWORD)`);
  }
  return value;
}

function releaseStatesOf(cmd: string, values: readonly string[]): secretsV1.ReleaseState[] {
  return namedValues(cmd, '--state', values, RELEASE_STATES, 'pending, ready, redeemed, expired or revoked');
}

/** A passphrase read from a file: the file's text without its final line break. */
function passphraseFromFile(cmd: string, file: string): string {
  const text = readSecretFile(cmd, '--passphrase-file', file).toString('utf8').replace(/\r?\n$/, '');
  if (!text) throw new UsageError(`${cmd}: --passphrase-file ${file} is empty`);
  return text;
}

async function askSecret(prompt: Prompt, question: string, what: string): Promise<string> {
  const answer = (await prompt(question, { secret: true })).replace(/[\r\n]+$/, '');
  if (!answer) throw new UsageError(`no ${what} entered`);
  return answer;
}

/** A key share as Initialize returned it: its `ghs1-…` text (as `secrets init` prints or writes it); the service checks its checksum. */
function shareFromText(cmd: string, text: string, from: string): Buffer {
  const share = text.replace(/\s+/g, '');
  if (!/^ghs1-[A-Za-z0-9-]{8,1000}$/i.test(share)) {
    throw new UsageError(`${cmd}: ${from} is not a key share: expected the ghs1-… text printed or written by \`gatehouse secrets init\``);
  }
  return Buffer.from(share, 'utf8');
}

async function readStdin(cmd: string, stdin: NodeJS.ReadableStream): Promise<Buffer> {
  if ((stdin as NodeJS.ReadStream).isTTY) {
    throw new UsageError(`${cmd}: --from-stdin reads a pipe (e.g. \`vault-export | gatehouse secrets put ...\`); typed on a terminal, the value would be echoed. Use --value-file <file>`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    size += b.length;
    if (size > MAX_VALUE_BYTES) throw new UsageError(`${cmd}: the value is larger than ${MAX_VALUE_BYTES / 1024} KiB`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------------
// Formatting

const sealStateName = (s: secretsV1.SealState): string => enumLabel(secretsV1.sealStateToJSON(s), 'SEAL_STATE_').toUpperCase();
const releaseStateName = (s: secretsV1.ReleaseState): string => enumLabel(secretsV1.releaseStateToJSON(s), 'RELEASE_STATE_').toUpperCase();
const envKey = (e: commonV1.Environment): string => environmentLabel(e).toLowerCase();

function sealTypeName(s: secretsV1.SealInfo): string {
  if (s.sealType === SealType.SEAL_TYPE_SHAMIR) return 'shamir';
  if (s.sealType === SealType.SEAL_TYPE_PASSPHRASE) return 'passphrase';
  return '-';
}

function kdfName(k: secretsV1.KeyDerivation): string {
  return k === KeyDerivation.KEY_DERIVATION_UNSPECIFIED ? '-' : enumLabel(secretsV1.keyDerivationToJSON(k), 'KEY_DERIVATION_');
}

function sealJson(s: secretsV1.SealInfo | undefined): Record<string, unknown> | null {
  if (!s) return null;
  return {
    state: sealStateName(s.state),
    sealType: sealTypeName(s),
    keyDerivation: kdfName(s.keyDerivation),
    threshold: s.threshold,
    shareCount: s.shareCount,
    progress: s.progress,
    keyVersion: s.keyVersion,
    changedAt: s.changedAt?.toISOString() ?? null,
  };
}

function needSeal(rpcName: string, s: secretsV1.SealInfo | undefined): secretsV1.SealInfo {
  if (!s) throw new CommandFailed(`${rpcName}: the secrets service returned no seal state`);
  return s;
}

/** "2 of 3 shares" while a share round is in progress. */
function progressText(s: secretsV1.SealInfo): string {
  return `${s.progress} of ${s.threshold} shares`;
}

function remainingApprovals(r: secretsV1.Release): number {
  return Math.max(0, r.requiredApprovals - r.approvals.length);
}

/** "READY", or "PENDING_APPROVAL (needs 2 approvals)". */
function releaseStateText(r: secretsV1.Release): string {
  const name = releaseStateName(r.state);
  if (r.state !== ReleaseState.RELEASE_STATE_PENDING_APPROVAL) return name;
  const n = remainingApprovals(r);
  return `${name} (needs ${n} approval${n === 1 ? '' : 's'})`;
}

function redeemedText(r: secretsV1.Release): string {
  if (!r.redeemedAt) return '-';
  return `${r.redeemedAt.toISOString()} by ${r.redeemedByIdentity || '?'} from ${r.redeemedFromIp || '?'}`;
}

function revokedText(r: secretsV1.Release): string {
  if (!r.revokedAt) return '-';
  return `${r.revokedAt.toISOString()} by ${who(r.revokedBy)}${r.revokeReason ? `: ${r.revokeReason}` : ''}`;
}

function approvalsText(r: secretsV1.Release): string {
  if (r.requiredApprovals === 0 && r.approvals.length === 0) return '-';
  const by = r.approvals.map((x) => who(x.approver)).join(',');
  return `${r.approvals.length}/${r.requiredApprovals}${by ? ` ${by}` : ''}`;
}

function releaseFields(r: secretsV1.Release, clock: Clock): string[] {
  const rows: Array<[string, string]> = [
    ['release', r.releaseId],
    ['environment', environmentLabel(r.environment)],
    ['app', r.app],
    ['deployment ref', r.deploymentRef],
    ['state', releaseStateText(r)],
    ['created', `${r.createdAt?.toISOString() ?? '-'} by ${who(r.createdBy)}`],
    ['expires', at(r.expiresAt, clock)],
    ['bound CIDR', r.boundCidr ?? '-'],
    ['bound identity', r.boundClientIdentity ?? '-'],
    ['secrets', r.secrets.map((s) => `${s.name} v${s.version}`).join(', ') || '-'],
    ['approvals', approvalsText(r)],
  ];
  for (const x of r.approvals) rows.push(['approved', `${x.approvedAt?.toISOString() ?? '-'} by ${who(x.approver)}${x.note ? `: ${x.note}` : ''}`]);
  rows.push(['redeemed', redeemedText(r)], ['refused redemptions', String(r.refusedRedemptionCount)], ['revoked', revokedText(r)]);
  return fields(rows);
}

// ---------------------------------------------------------------------------------------------
// gatehouse secrets ...

/** `gatehouse secrets init|unseal|seal|status|put|list|delete|rotate`. */
export async function secrets(ctx: SecretsContext, sub: string | undefined, rest: string[], a: SecretsArgs): Promise<number> {
  const cmd = `secrets ${sub ?? ''}`.trim();
  refuseSecretsOnArgv(cmd, a);
  if (sub === 'init') return init(ctx, a);
  if (sub === 'unseal') return unseal(ctx, a);
  if (sub === 'seal') return seal(ctx, a);
  if (sub === 'status') return sealStatus(ctx, a);
  if (sub === 'put') return put(ctx, rest, a);
  if (sub === 'list') return listSecrets(ctx, a);
  if (sub === 'delete') return deleteSecret(ctx, rest, a);
  if (sub === 'rotate') return rotate(ctx, a);
  throw new UsageError(`secrets: unknown subcommand ${JSON.stringify(sub ?? '')} (init, unseal, seal, status, put, list, delete, rotate)`);
}

/**
 * `gatehouse secrets init`: a passphrase seal (from --passphrase-file, or asked twice without
 * echo), or k-of-n Shamir shares, shown once or written to a new 0700 folder. No session.
 */
async function init(ctx: SecretsContext, a: SecretsArgs): Promise<number> {
  const cmd = 'secrets init';
  const { out } = ctx;
  const shamir = a.shares !== undefined || a.threshold !== undefined;
  if (shamir && a.passphraseFile !== undefined) throw new UsageError(`${cmd}: give --passphrase-file or --shares N --threshold K, not both`);
  if (a.sharesDir !== undefined && !shamir) throw new UsageError(`${cmd}: --shares-dir goes with --shares N --threshold K`);
  if (a.kdf !== undefined && shamir) throw new UsageError(`${cmd}: --kdf applies to a passphrase seal only`);
  let req: secretsV1.InitializeRequest;
  if (shamir) {
    const shareCount = wholeNumber(cmd, '--shares', a.shares, 2, 16);
    const threshold = wholeNumber(cmd, '--threshold', a.threshold, 2, shareCount);
    req = { shamir: { shareCount, threshold } };
  } else {
    const keyDerivation = a.kdf === undefined ? KeyDerivation.KEY_DERIVATION_UNSPECIFIED : KDFS[a.kdf.trim().toLowerCase()];
    if (keyDerivation === undefined) throw new UsageError(`${cmd}: --kdf must be scrypt (the service's default) or argon2id`);
    let passphrase: string;
    if (a.passphraseFile !== undefined) {
      passphrase = passphraseFromFile(cmd, a.passphraseFile);
    } else {
      passphrase = await askSecret(ctx.prompt, `New passphrase (at least ${MIN_PASSPHRASE_CHARS} characters)`, 'passphrase');
      if ((await askSecret(ctx.prompt, 'Repeat the passphrase', 'passphrase')) !== passphrase) throw new UsageError(`${cmd}: the two passphrases differ; nothing was initialised`);
    }
    if ([...passphrase].length < MIN_PASSPHRASE_CHARS) throw new UsageError(`${cmd}: the passphrase must have at least ${MIN_PASSPHRASE_CHARS} characters`);
    req = { passphrase: { passphrase, keyDerivation } };
  }

  // The folder is made before the shares exist, so a bad path fails before anything happens.
  const dir = a.sharesDir === undefined ? undefined : createPrivateDir(cmd, a.sharesDir);
  let res: secretsV1.InitializeResponse;
  try {
    res = await withSecrets(ctx.settings, (c) =>
      rpc('Initialize', call(c, c.initialize, req), (err) => (err.code === grpc.status.FAILED_PRECONDITION ? 'The service is initialised already: `gatehouse secrets status`.' : undefined)),
    );
  } catch (err) {
    if (dir) removeEmptyDir(dir);
    throw err;
  }
  const info = needSeal('Initialize', res.seal);

  if (!shamir) {
    if (a.json) out(JSON.stringify({ seal: sealJson(info) }));
    else {
      out(`Initialised: the master key is sealed under the passphrase (${kdfName(info.keyDerivation)}, key version ${info.keyVersion}).`);
      out('The service stays SEALED until `gatehouse secrets unseal` is given the passphrase.');
    }
    return 0;
  }

  const shares = res.shares.map((s) => s.toString('utf8'));
  const n = shares.length;
  if (n === 0) throw new CommandFailed('Initialize: the secrets service returned no shares');
  for (const s of res.shares) s.fill(0);
  if (dir) {
    const written = writeShares(dir, shares);
    if (written) {
      if (a.json) out(JSON.stringify({ seal: sealJson(info), shareFiles: written }));
      else {
        out(`Initialised: the master key is split into ${n} shares; any ${info.threshold} of them unseal the service.`);
        out(`Wrote ${n} shares, one per file (0600), to ${dir} (0700):`);
        for (const f of written) out(`  ${f}`);
        out(`HAND EACH FILE TO A DIFFERENT OPERATOR, then delete it here. No copy exists anywhere else: with fewer than ${info.threshold} shares no one can unseal the service, ever.`);
        out(`The service stays SEALED until ${info.threshold} operators each run \`gatehouse secrets unseal\`.`);
      }
      return 0;
    }
    out(`Could not write the shares to ${dir}; they are printed below instead, because they exist nowhere else.`);
  }
  if (a.json) {
    out(JSON.stringify({ seal: sealJson(info), shares }));
    return 0;
  }
  const bar = '!'.repeat(78);
  out(`Initialised: the master key is split into ${n} shares; any ${info.threshold} of them unseal the service.`);
  out(bar);
  out(`!! The ${n} shares below are shown ONCE and are stored NOWHERE else.`);
  out('!! Hand each share to a DIFFERENT operator; nobody keeps more than one.');
  out(`!! With fewer than ${info.threshold} shares no one can unseal the service, ever.`);
  out(bar);
  shares.forEach((s, i) => {
    out('');
    out(`share ${i + 1} of ${n}:`);
    out(s);
  });
  out('');
  out(`The service stays SEALED until ${info.threshold} operators each run \`gatehouse secrets unseal\`.`);
  return 0;
}

/** Writes share-<i>.txt files (0600); undefined if any could not be written (those written are removed). */
function writeShares(dir: string, shares: readonly string[]): string[] | undefined {
  const files: PrivateFile[] = [];
  try {
    shares.forEach((s, i) => {
      const f = createPrivateFile('secrets init', path.join(dir, `share-${i + 1}.txt`), 'a key share');
      files.push(f);
      f.write(`${s}\n`);
      f.commit();
    });
    return files.map((f) => f.path);
  } catch {
    for (const f of files) f.discard();
    return undefined;
  }
}

/** Removes the shares folder made for a failed initialisation (only if empty: rmdir never deletes files). */
function removeEmptyDir(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* best effort */
  }
}

function unsealHint(err: grpc.ServiceError): string | undefined {
  if (err.code === grpc.status.PERMISSION_DENIED) return 'Wrong passphrase, or the shares given do not reconstruct the key (the round was reset: every share must be given again).';
  if (err.code === grpc.status.FAILED_PRECONDITION) return 'Is the service initialised? `gatehouse secrets status`.';
  return undefined;
}

/** `gatehouse secrets unseal [--passphrase-file F | --share-file F]`, or asked without echo. No session. */
async function unseal(ctx: SecretsContext, a: SecretsArgs): Promise<number> {
  const cmd = 'secrets unseal';
  const { out } = ctx;
  if (a.passphraseFile !== undefined && a.shareFile !== undefined) throw new UsageError(`${cmd}: give --passphrase-file or --share-file, not both`);
  let req: secretsV1.UnsealRequest | undefined;
  if (a.passphraseFile !== undefined) req = { passphrase: passphraseFromFile(cmd, a.passphraseFile) };
  if (a.shareFile !== undefined) req = { share: shareFromText(cmd, readSecretFile(cmd, '--share-file', a.shareFile).toString('utf8'), `--share-file ${a.shareFile}`) };
  return withSecrets(ctx.settings, async (c) => {
    if (!req) {
      // Which key material to ask for depends on how the service is sealed.
      const now = needSeal('SealStatus', (await rpc('SealStatus', call(c, c.sealStatus, {}))).seal);
      if (now.state === SealState.SEAL_STATE_UNSEALED) {
        if (a.json) out(JSON.stringify(sealJson(now)));
        else out('UNSEALED already: nothing to do.');
        return 0;
      }
      if (now.state === SealState.SEAL_STATE_UNINITIALIZED) throw new CommandFailed('the secrets service is not initialised: run `gatehouse secrets init` first');
      if (now.sealType === SealType.SEAL_TYPE_SHAMIR) {
        const text = await askSecret(ctx.prompt, `Key share (${progressText(now)} given so far)`, 'share');
        req = { share: shareFromText(cmd, text, 'the answer') };
      } else {
        req = { passphrase: await askSecret(ctx.prompt, 'Passphrase', 'passphrase') };
      }
    }
    let res: secretsV1.UnsealResponse;
    try {
      res = await rpc('Unseal', call(c, c.unseal, req), unsealHint);
    } finally {
      req.share?.fill(0);
    }
    const s = needSeal('Unseal', res.seal);
    if (a.json) out(JSON.stringify(sealJson(s)));
    else if (s.state === SealState.SEAL_STATE_UNSEALED) out(`UNSEALED: the master key (version ${s.keyVersion}) is in memory; secrets and releases work.`);
    else {
      const more = Math.max(0, s.threshold - s.progress);
      out(`${sealStateName(s.state)}: ${progressText(s)}; ${more} more needed, each from another operator (\`gatehouse secrets unseal\`).`);
    }
    return 0;
  });
}

/** `gatehouse secrets seal --reason "..."`: with the session when there is one. */
async function seal(ctx: SecretsContext, a: SecretsArgs): Promise<number> {
  const cmd = 'secrets seal';
  const reason = requireText(cmd, '--reason', a.reason, 'why the service is sealed, e.g. suspected compromise; it is audited');
  const bearer = optionalSessionToken(ctx.env);
  return withSecrets(ctx.settings, async (c) => {
    const s = needSeal('Seal', (await rpc('Seal', call(c, c.seal, { reason }, { bearer }), sessionHint)).seal);
    if (a.json) ctx.out(JSON.stringify(sealJson(s)));
    else ctx.out(`${sealStateName(s.state)}: the master key is wiped from memory; secrets and releases are refused until \`gatehouse secrets unseal\`.`);
    return 0;
  });
}

/** `gatehouse secrets status [--json]`. No session. */
async function sealStatus(ctx: SecretsContext, a: SecretsArgs): Promise<number> {
  const clock = ctx.clock ?? systemClock;
  return withSecrets(ctx.settings, async (c) => {
    const s = needSeal('SealStatus', (await rpc('SealStatus', call(c, c.sealStatus, {}))).seal);
    if (a.json) {
      ctx.out(JSON.stringify(sealJson(s)));
      return 0;
    }
    const uninitialised = s.state === SealState.SEAL_STATE_UNINITIALIZED;
    const rows: Array<[string, string]> = [
      ['state', sealStateName(s.state)],
      ['seal type', sealTypeName(s)],
      ['key derivation', kdfName(s.keyDerivation)],
      ['shares', s.sealType === SealType.SEAL_TYPE_SHAMIR ? `${s.threshold} of ${s.shareCount} needed` : '-'],
      ['unseal progress', s.sealType === SealType.SEAL_TYPE_SHAMIR && s.state === SealState.SEAL_STATE_SEALED ? progressText(s) : '-'],
      ['key version', uninitialised ? '-' : String(s.keyVersion)],
      ['changed at', at(s.changedAt, clock)],
    ];
    for (const line of fields(rows)) ctx.out(line);
    if (uninitialised) ctx.out('Not initialised: `gatehouse secrets init`.');
    return 0;
  });
}

/** `gatehouse secrets put <env> <app> <NAME> (--value-file F | --from-stdin)`: the value is never on argv nor echoed. */
async function put(ctx: SecretsContext, rest: string[], a: SecretsArgs): Promise<number> {
  const cmd = 'secrets put';
  const usage = 'gatehouse secrets put <live|staging> <app> <NAME> (--value-file <file> | --from-stdin)';
  const environment = environmentOf(cmd, requireArg(cmd, rest[0], usage));
  const app = appOf(cmd, requireArg(cmd, rest[1], usage));
  const name = secretNameOf(cmd, requireArg(cmd, rest[2], usage));
  if (rest.length > 3) throw new UsageError(`${cmd}: the value is never taken from the command line (${ON_ARGV}); use --value-file <file> or --from-stdin`);
  if (a.valueFile !== undefined && a.fromStdin) throw new UsageError(`${cmd}: give --value-file or --from-stdin, not both`);
  if (a.valueFile === undefined && !a.fromStdin) throw new UsageError(`${cmd}: give the value with --value-file <file> or --from-stdin (never on the command line)`);
  const bearer = sessionToken(ctx.env);
  const value = a.valueFile !== undefined ? readSecretFile(cmd, '--value-file', a.valueFile) : await readStdin(cmd, ctx.stdin);
  try {
    if (value.length === 0) throw new UsageError(`${cmd}: the value is empty`);
    if (value.length > MAX_VALUE_BYTES) throw new UsageError(`${cmd}: the value is larger than ${MAX_VALUE_BYTES / 1024} KiB`);
    const res = await withSecrets(ctx.settings, (c) => rpc('PutSecret', call(c, c.putSecret, { environment, app, name, value }, { bearer }), dataHint));
    ctx.out(`Stored ${environmentLabel(environment)} ${app} ${name}: version ${res.secret?.version ?? '?'} (${value.length} bytes).`);
    if (value[value.length - 1] === 0x0a) ctx.out('Note: the value ends with a line break, which is part of it. If that is not meant, store it again from a file without one.');
    return 0;
  } finally {
    value.fill(0);
  }
}

/** `gatehouse secrets list [--env E] [--app A] [--include-deleted] [--json]`: metadata, never values. */
async function listSecrets(ctx: SecretsContext, a: SecretsArgs): Promise<number> {
  const cmd = 'secrets list';
  const environment = a.env === undefined ? undefined : environmentOf(cmd, a.env);
  const app = a.app === undefined ? undefined : appOf(cmd, a.app.trim());
  const bearer = sessionToken(ctx.env);
  return withSecrets(ctx.settings, async (c) => {
    const list = await allPages(async (pageToken) => {
      const req = secretsV1.ListSecretsRequest.fromPartial({ environment, app, includeDeleted: a.includeDeleted ?? false, pageSize: 1000, pageToken });
      const r = await rpc('ListSecrets', call(c, c.listSecrets, req, { bearer }), dataHint);
      return { items: r.secrets, next: r.nextPageToken };
    }, 'with --env or --app');
    if (a.json) {
      ctx.out(
        JSON.stringify(
          list.map((s) => ({
            environment: envKey(s.environment),
            app: s.app,
            name: s.name,
            version: s.version,
            createdAt: s.createdAt?.toISOString() ?? null,
            updatedAt: s.updatedAt?.toISOString() ?? null,
            updatedBy: s.updatedBy ? who(s.updatedBy) : null,
            deletedAt: s.deletedAt?.toISOString() ?? null,
            deletedBy: s.deletedBy ? who(s.deletedBy) : null,
          })),
        ),
      );
      return 0;
    }
    if (list.length === 0) {
      ctx.out('no secrets');
      return 0;
    }
    const rows = list.map((s) => [
      environmentLabel(s.environment),
      s.app,
      s.name,
      String(s.version),
      s.updatedAt?.toISOString() ?? '-',
      who(s.updatedBy),
      s.deletedAt ? `${s.deletedAt.toISOString()} by ${who(s.deletedBy)}` : '-',
    ]);
    for (const line of table([['ENV', 'APP', 'NAME', 'VERSION', 'UPDATED', 'BY', 'DELETED'], ...rows])) ctx.out(line);
    return 0;
  });
}

/** `gatehouse secrets delete <env> <app> <NAME> --reason "..."`. */
async function deleteSecret(ctx: SecretsContext, rest: string[], a: SecretsArgs): Promise<number> {
  const cmd = 'secrets delete';
  const usage = 'gatehouse secrets delete <live|staging> <app> <NAME> --reason "..."';
  const environment = environmentOf(cmd, requireArg(cmd, rest[0], usage));
  const app = appOf(cmd, requireArg(cmd, rest[1], usage));
  const name = secretNameOf(cmd, requireArg(cmd, rest[2], usage));
  const reason = requireText(cmd, '--reason', a.reason, 'why the secret is deleted; it is audited');
  const bearer = sessionToken(ctx.env);
  return withSecrets(ctx.settings, async (c) => {
    const res = await rpc('DeleteSecret', call(c, c.deleteSecret, { environment, app, name, reason }, { bearer }), dataHint);
    ctx.out(`Deleted ${environmentLabel(environment)} ${app} ${name} (last version ${res.secret?.version ?? '?'}): its values are destroyed, its history stays. New releases leave it out.`);
    return 0;
  });
}

/** `gatehouse secrets rotate --reason "..."`: a new master key; data keys re-wrapped. */
async function rotate(ctx: SecretsContext, a: SecretsArgs): Promise<number> {
  const cmd = 'secrets rotate';
  const reason = requireText(cmd, '--reason', a.reason, 'why the master key is rotated; it is audited');
  const bearer = sessionToken(ctx.env);
  return withSecrets(ctx.settings, async (c) => {
    const res = await rpc('RotateMasterKey', call(c, c.rotateMasterKey, { reason }, { bearer, deadlineMs: 120_000 }), dataHint);
    const s = res.seal;
    if (a.json) ctx.out(JSON.stringify({ seal: sealJson(s), rewrappedDataKeyCount: res.rewrappedDataKeyCount, rotatedAt: res.rotatedAt?.toISOString() ?? null }));
    else ctx.out(`Master key rotated: key version ${s?.keyVersion ?? '?'}, ${res.rewrappedDataKeyCount} data key(s) re-wrapped${res.rotatedAt ? ` at ${res.rotatedAt.toISOString()}` : ''}. The unseal material is unchanged.`);
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// gatehouse release ...

/** `gatehouse release create|approve|revoke|show|list|redeem`. */
export async function release(ctx: SecretsContext, sub: string | undefined, rest: string[], a: SecretsArgs): Promise<number> {
  const cmd = `release ${sub ?? ''}`.trim();
  refuseSecretsOnArgv(cmd, a);
  if (sub === 'create') return createRelease(ctx, rest, a);
  if (sub === 'approve' || sub === 'revoke' || sub === 'show') return oneRelease(ctx, sub, rest, a);
  if (sub === 'list') return listReleases(ctx, a);
  if (sub === 'redeem') return redeem(ctx, rest, a);
  throw new UsageError(`release: unknown subcommand ${JSON.stringify(sub ?? '')} (create, approve, revoke, show, list, redeem)`);
}

/**
 * `gatehouse release create <env> <app> --ref R [--ttl 15m] [--cidr C] [--client-identity kind:name]
 * [--token-file F] [--json]`: the token is printed once, or written to a new 0600 file and not printed.
 */
async function createRelease(ctx: SecretsContext, rest: string[], a: SecretsArgs): Promise<number> {
  const cmd = 'release create';
  const { out } = ctx;
  const clock = ctx.clock ?? systemClock;
  const usage = 'gatehouse release create <live|staging> <app> --ref <deployment-ref> [--ttl 15m] [--cidr C] [--client-identity backend:name] [--token-file F]';
  const environment = environmentOf(cmd, requireArg(cmd, rest[0], usage));
  const app = appOf(cmd, requireArg(cmd, rest[1], usage));
  const deploymentRef = requireText(cmd, '--ref', a.ref, 'the deployment the release is for: a commit, pipeline run or change id');
  const ttl = a.ttl === undefined ? undefined : { seconds: parseDuration(cmd, '--ttl', a.ttl), nanos: 0 };
  const boundCidr = a.cidr === undefined ? undefined : requireText(cmd, '--cidr', a.cidr, 'the CIDR redemption must come from');
  let boundClientIdentity: string | undefined;
  if (a.clientIdentity !== undefined) {
    boundClientIdentity = a.clientIdentity.trim();
    const [kind, name, ...more] = boundClientIdentity.split(':');
    if (!kind || !name || more.length > 0 || !isCallerKind(kind) || !isCallerName(name)) {
      throw new UsageError(`${cmd}: --client-identity must be <kind>:<name> of a client certificate, e.g. backend:deployer-live`);
    }
  }
  const bearer = sessionToken(ctx.env);
  // Made before the token exists: a taken path is refused before a release is created.
  const tokenFile = a.tokenFile === undefined ? undefined : createPrivateFile(cmd, a.tokenFile, 'a release token');
  let res: secretsV1.CreateReleaseResponse;
  try {
    const req = secretsV1.CreateReleaseRequest.fromPartial({ environment, app, deploymentRef, ttl, boundCidr, boundClientIdentity });
    res = await withSecrets(ctx.settings, (c) => rpc('CreateRelease', call(c, c.createRelease, req, { bearer }), dataHint));
    if (!res.release || !res.releaseToken) throw new CommandFailed('CreateRelease: the secrets service returned no release or no token');
    if (tokenFile) {
      tokenFile.write(`${res.releaseToken}\n`);
      tokenFile.commit();
    }
  } catch (err) {
    tokenFile?.discard();
    throw err;
  }
  const r = res.release;
  if (a.json) {
    out(JSON.stringify({ release: secretsV1.Release.toJSON(r), ...(tokenFile ? { tokenFile: tokenFile.path } : { releaseToken: res.releaseToken }) }));
    return 0;
  }
  out(`Release ${r.releaseId} for ${environmentLabel(r.environment)} ${r.app}, deployment ref ${r.deploymentRef}: ${releaseStateText(r)}.`);
  out(`It carries ${r.secrets.length} secret(s)${r.secrets.length ? `: ${r.secrets.map((s) => `${s.name} v${s.version}`).join(', ')}` : ''}; it expires ${at(r.expiresAt, clock)}.`);
  if (r.boundCidr || r.boundClientIdentity) out(`Redeemable only${r.boundCidr ? ` from ${r.boundCidr}` : ''}${r.boundClientIdentity ? ` with the certificate ${r.boundClientIdentity}` : ''}.`);
  if (r.state === ReleaseState.RELEASE_STATE_PENDING_APPROVAL) out(`Others must approve it first: \`gatehouse release approve ${r.releaseId}\`.`);
  if (tokenFile) {
    out(`Release token written to ${tokenFile.path} (0600); it is not shown. It works once: hand the file to the deployment.`);
  } else {
    out('Release token (shown only now; it works once: hand it to the deployment and never log it):');
    out(res.releaseToken);
  }
  return 0;
}

/** `gatehouse release approve <id> [--note]`, `revoke <id> --reason`, `show <id> [--json]`. */
async function oneRelease(ctx: SecretsContext, sub: 'approve' | 'revoke' | 'show', rest: string[], a: SecretsArgs): Promise<number> {
  const cmd = `release ${sub}`;
  const releaseId = requireArg(cmd, rest[0], `give the release id: gatehouse release ${sub} <release-id>${sub === 'revoke' ? ' --reason "..."' : ''}`);
  const reason = sub === 'revoke' ? requireText(cmd, '--reason', a.reason, 'why the release is revoked; it is audited') : '';
  const bearer = sessionToken(ctx.env);
  return withSecrets(ctx.settings, async (c) => {
    let r: secretsV1.Release | undefined;
    if (sub === 'approve') r = (await rpc('ApproveRelease', call(c, c.approveRelease, { releaseId, note: a.note?.trim() ?? '' }, { bearer }), dataHint)).release;
    else if (sub === 'revoke') r = (await rpc('RevokeRelease', call(c, c.revokeRelease, { releaseId, reason }, { bearer }), dataHint)).release;
    else r = (await rpc('GetRelease', call(c, c.getRelease, { releaseId }, { bearer }), dataHint)).release;
    if (!r) throw new CommandFailed(`release ${sub}: the secrets service returned no release`);
    if (a.json) ctx.out(JSON.stringify(secretsV1.Release.toJSON(r)));
    else if (sub === 'approve') ctx.out(`Approved ${r.releaseId}: ${releaseStateText(r)}.`);
    else if (sub === 'revoke') ctx.out(`Revoked ${r.releaseId}: ${releaseStateText(r)}; its token no longer works.`);
    else for (const line of releaseFields(r, ctx.clock ?? systemClock)) ctx.out(line);
    return 0;
  });
}

/** `gatehouse release list [--env] [--app] [--ref] [--state S ...] [--json]`: newest first, with history. */
async function listReleases(ctx: SecretsContext, a: SecretsArgs): Promise<number> {
  const cmd = 'release list';
  const environment = a.env === undefined ? undefined : environmentOf(cmd, a.env);
  const app = a.app === undefined ? undefined : appOf(cmd, a.app.trim());
  const states = releaseStatesOf(cmd, a.state ?? []);
  const bearer = sessionToken(ctx.env);
  return withSecrets(ctx.settings, async (c) => {
    const list = await allPages(async (pageToken) => {
      const req = secretsV1.ListReleasesRequest.fromPartial({ environment, app, deploymentRef: a.ref, states, pageSize: 500, pageToken });
      const r = await rpc('ListReleases', call(c, c.listReleases, req, { bearer }), dataHint);
      return { items: r.releases, next: r.nextPageToken };
    }, 'with --env, --app, --ref or --state');
    if (a.json) {
      ctx.out(JSON.stringify(list.map((r) => secretsV1.Release.toJSON(r))));
      return 0;
    }
    if (list.length === 0) {
      ctx.out('no releases');
      return 0;
    }
    const rows = list.map((r) => [
      r.releaseId,
      environmentLabel(r.environment),
      r.app,
      r.deploymentRef,
      releaseStateText(r),
      r.createdAt?.toISOString() ?? '-',
      who(r.createdBy),
      approvalsText(r),
      String(r.refusedRedemptionCount),
      redeemedText(r),
      revokedText(r),
    ]);
    for (const line of table([['ID', 'ENV', 'APP', 'REF', 'STATE', 'CREATED', 'BY', 'APPROVALS', 'REFUSED', 'REDEEMED', 'REVOKED'], ...rows])) ctx.out(line);
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// gatehouse release redeem

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A bundle value as text; refused (without showing it) when it is not UTF-8 or holds a NUL. */
function bundleText(s: secretsV1.BundleSecret, releaseId: string): string {
  const used = `Release ${releaseId} is redeemed now and cannot be redeemed again: store a corrected value and create a new release.`;
  let text: string;
  try {
    text = UTF8.decode(s.value);
  } catch {
    throw new CommandFailed(`release redeem: the value of ${s.name} (version ${s.version}) is not valid UTF-8 text, so it is not written and not shown. ${used}`);
  }
  if (text.includes('\0')) throw new CommandFailed(`release redeem: the value of ${s.name} (version ${s.version}) contains a NUL byte, so it is not written and not shown. ${used}`);
  return text;
}

/** `NAME='value'` for POSIX sh: everything literal inside single quotes; a quote is `'\''`. */
export function shellAssignment(name: string, value: string): string {
  return `${name}='${value.replaceAll("'", "'\\''")}'\n`;
}

function redeemHint(err: grpc.ServiceError): string | undefined {
  const sealed = sealedHint(err);
  if (sealed) return sealed;
  if (err.code === grpc.status.PERMISSION_DENIED) {
    return 'The token is unknown, or the release is bound to another CIDR or client certificate (GATEHOUSE_CLI_CERT names the certificate presented).';
  }
  return undefined;
}

/**
 * `gatehouse release redeem --token-file F (--out FILE | --json) [--expect-ref REF]`: what a deploy
 * script runs. The token comes from a file, the call carries the certificate and no session, and
 * the bundle becomes a new 0600 env file or JSON on stdout. Nothing is written unless every
 * check passes.
 */
async function redeem(ctx: SecretsContext, rest: string[], a: SecretsArgs): Promise<number> {
  const cmd = 'release redeem';
  const usage = 'gatehouse release redeem --token-file <file> (--out <file> | --json) [--expect-ref <ref>]';
  if (rest.length > 0) throw new UsageError(`${cmd}: the release token is never taken from the command line (${ON_ARGV}); write it to a file and pass --token-file <file>`);
  if (a.tokenFile === undefined) throw new UsageError(`${cmd}: --token-file <file> is required: ${usage}`);
  if ((a.out === undefined) === !a.json) throw new UsageError(`${cmd}: choose --out FILE or --json: ${usage}`);
  const releaseToken = readSecretFile(cmd, '--token-file', a.tokenFile).toString('utf8').trim();
  if (!releaseToken) throw new UsageError(`${cmd}: --token-file ${a.tokenFile} is empty`);
  const expectRef = a.expectRef;
  // Created before the bundle exists: a taken path is refused before the release is used up.
  const file = a.out === undefined ? undefined : createPrivateFile(cmd, a.out, 'a release bundle');
  let bundle: secretsV1.RedeemReleaseResponse | undefined;
  try {
    bundle = await withSecrets(ctx.settings, (c) => rpc('RedeemRelease', call(c, c.redeemRelease, { releaseToken }), redeemHint));
    if (expectRef !== undefined && bundle.deploymentRef !== expectRef) {
      throw new CommandFailed(
        `release redeem: release ${bundle.releaseId} is for deployment ref ${JSON.stringify(bundle.deploymentRef)}, not ${JSON.stringify(expectRef)} (--expect-ref); nothing was written. ` +
          `The release is used up: find out who created it (\`gatehouse release show ${bundle.releaseId}\`).`,
      );
    }
    const values: Array<[string, string]> = [];
    for (const s of bundle.secrets) {
      if (!SHELL_NAME_RE.test(s.name)) throw new CommandFailed(`release redeem: ${JSON.stringify(s.name)} is not a valid environment variable name; nothing was written`);
      values.push([s.name, bundleText(s, bundle.releaseId)]);
    }
    if (file) {
      const content = Buffer.from(values.map(([name, value]) => shellAssignment(name, value)).join(''), 'utf8');
      file.write(content);
      content.fill(0);
      file.commit();
      ctx.out(`Wrote ${values.length} secret(s) of release ${bundle.releaseId} (${environmentLabel(bundle.environment)} ${bundle.app}, deployment ref ${bundle.deploymentRef}) to ${file.path} (0600).`);
    } else {
      ctx.out(
        JSON.stringify({
          release_id: bundle.releaseId,
          environment: envKey(bundle.environment),
          app: bundle.app,
          deployment_ref: bundle.deploymentRef,
          redeemed_at: bundle.redeemedAt?.toISOString() ?? null,
          secrets: Object.fromEntries(values),
        }),
      );
    }
    return 0;
  } catch (err) {
    file?.discard();
    throw err;
  } finally {
    for (const s of bundle?.secrets ?? []) s.value.fill(0);
  }
}
