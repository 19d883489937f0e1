import fs from 'node:fs/promises';
import path from 'node:path';
import { isCallerKind, isCallerName, issueCertificate, type CallerKind } from '@gatehouse/pki';
import type { CliSettings } from '../settings.js';

/** Arguments of `gatehouse pki issue`. */
export interface IssueArgs {
  name: string | undefined;
  kind: string | undefined;
  out: string | undefined;
  days: string | undefined;
  force: boolean;
}

/** A usage or input error: printed as is, exit code 2. */
export class UsageError extends Error {}

/**
 * `gatehouse pki issue --name <client>`: issues a client certificate from the Gatehouse CA, for a
 * product backend (default) or an operator. Needs the CA key, so it runs where the CA lives.
 * Writes `<name>.pem` and `<name>.key` (0600) and never overwrites without --force.
 */
export async function pkiIssue(settings: CliSettings, args: IssueArgs, out: (line: string) => void): Promise<number> {
  if (!args.name) throw new UsageError('pki issue: --name <client> is required (lowercase letters, digits and dashes)');
  if (!isCallerName(args.name)) throw new UsageError(`pki issue: --name ${JSON.stringify(args.name)} must match ^[a-z][a-z0-9-]{0,62}$`);
  const kind = (args.kind ?? 'backend') as CallerKind;
  if (!isCallerKind(kind) || kind === 'service') {
    throw new UsageError(`pki issue: --kind must be backend or operator (service certificates come from the deployment), got ${JSON.stringify(args.kind)}`);
  }
  const days = args.days === undefined ? 90 : Number(args.days);
  if (!Number.isInteger(days) || days < 1 || days > 825) throw new UsageError('pki issue: --days must be a whole number from 1 to 825');
  const caCert = path.join(settings.tlsDir, 'ca.pem');
  const caKey = path.join(settings.tlsDir, 'ca.key');
  let ca;
  try {
    ca = { certPem: await fs.readFile(caCert, 'utf8'), keyPem: await fs.readFile(caKey, 'utf8') };
  } catch {
    throw new UsageError(`pki issue: cannot read the CA (${caCert} and ${caKey}); set GATEHOUSE_TLS_DIR to the CA folder`);
  }
  const issued = await issueCertificate(ca, { name: args.name, kind, validityDays: days });
  const dir = path.resolve(args.out ?? settings.tlsDir);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const certPath = path.join(dir, `${args.name}.pem`);
  const keyPath = path.join(dir, `${args.name}.key`);
  const flag = args.force ? 'w' : 'wx';
  try {
    await fs.writeFile(keyPath, issued.keyPem, { mode: 0o600, flag });
    await fs.chmod(keyPath, 0o600);
    await fs.writeFile(certPath, issued.certPem, { mode: 0o644, flag });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`pki issue: ${args.name} already has a certificate in ${dir}; pass --force to replace it`);
    }
    throw err;
  }
  out(`issued ${kind} certificate urn:gatehouse:${kind}:${args.name}, valid ${days} days`);
  out(`  certificate: ${certPath}`);
  out(`  private key: ${keyPath} (0600; give it only to ${args.name})`);
  out(`  CA to trust: ${caCert}`);
  return 0;
}
