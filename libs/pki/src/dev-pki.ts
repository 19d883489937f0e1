/**
 * The dev stack's PKI on disk: a CA plus one certificate per service and client, created on
 * first start (DESIGN.md §3) and left alone afterwards so restarts keep the same trust root.
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createCa, issueCertificate, type CertificateAndKey } from './certificates.js';
import { callerIdentityFromCertificate } from './identity.js';
import { assertCallerKind, assertCallerName, type CallerKind } from './names.js';

/** A non-service caller the dev stack needs a certificate for (a product backend, the CLI...). */
export interface PkiClient {
  name: string;
  kind: CallerKind;
}

/** What `ensurePki` should make sure exists. */
export interface EnsurePkiOptions {
  /** Service names; each gets a `service` certificate valid for localhost, 127.0.0.1 and ::1. */
  services: string[];
  clients?: PkiClient[];
  /** Reissue a leaf that expires within this many days (default 7). */
  renewWithinDays?: number;
  /** Validity of newly issued leaves (default 90 days). */
  leafValidityDays?: number;
  /** Check and issue "as of" this time (tests); defaults to now. */
  now?: Date;
}

/** Where one caller's certificate and key live. */
export interface LeafPaths {
  kind: CallerKind;
  certPath: string;
  keyPath: string;
}

/** What `ensurePki` found or made. */
export interface PkiPaths {
  dir: string;
  caCertPath: string;
  caKeyPath: string;
  leaves: Record<string, LeafPaths>;
  /** Names written by this call (`ca` for the CA); empty when everything was already in place. */
  issued: string[];
}

/** TLS material for one caller, as grpc-js wants it. */
export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_CERT = 'ca.pem';
const CA_KEY = 'ca.key';

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes through a temp file in the same directory, fsynced, then moved into place, so a crash
 * never leaves a half-written key. With `replace: false` the final step is a hard link, which
 * fails if the file appeared meanwhile: an existing file is never clobbered.
 */
async function writeFileAtomic(file: string, data: string, mode: number, replace: boolean): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed `mode`; make it exact
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (replace) {
      await fs.rename(temp, file);
    } else {
      await fs.link(temp, file);
      await fs.unlink(temp);
    }
  } catch (err) {
    await fs.rm(temp, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${file} appeared while it was being created; refusing to overwrite it`);
    throw err;
  }
}

/** Tightens a key file that somebody loosened; keys are readable by their owner only. */
async function ensureKeyMode(file: string): Promise<void> {
  const stat = await fs.stat(file);
  if ((stat.mode & 0o077) !== 0) await fs.chmod(file, 0o600);
}

async function ensureDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await fs.stat(dir);
  if (!stat.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
  if ((stat.mode & 0o777) !== 0o700) await fs.chmod(dir, 0o700);
}

async function ensureCa(dir: string, issued: string[]): Promise<CertificateAndKey> {
  const certPath = path.join(dir, CA_CERT);
  const keyPath = path.join(dir, CA_KEY);
  const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  if (certPem !== undefined && keyPem !== undefined) {
    await ensureKeyMode(keyPath);
    return { certPem, keyPem };
  }
  if (certPem !== undefined || keyPem !== undefined) {
    // Regenerating half of the trust root would silently orphan every certificate it issued.
    const missing = certPem === undefined ? certPath : keyPath;
    throw new Error(`${missing} is missing but its pair exists; restore it, or delete ${dir} to start a new dev CA`);
  }
  const ca = await createCa();
  await writeFileAtomic(keyPath, ca.keyPem, 0o600, false);
  await writeFileAtomic(certPath, ca.certPem, 0o644, false);
  issued.push('ca');
  return ca;
}

/** True when the leaf on disk still does its job: our CA's, its key, the right identity, not expiring soon. */
function leafIsUsable(ca: X509Certificate, certPem: string, keyPem: string, kind: CallerKind, name: string, renewBefore: Date): boolean {
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return false;
    const identity = callerIdentityFromCertificate(cert.raw);
    if (identity?.kind !== kind || identity.name !== name) return false;
    return identity.notAfter > renewBefore;
  } catch {
    return false;
  }
}

/**
 * Makes sure the dev PKI exists in `dir` and returns where everything is. Idempotent: existing,
 * usable files are never touched. A leaf is (re)issued only when it is missing, half-present,
 * unreadable, not from this CA, for another identity, or expiring within `renewWithinDays`.
 * Keys are 0600 in a 0700 directory.
 */
export async function ensurePki(dir: string, options: EnsurePkiOptions): Promise<PkiPaths> {
  const renewWithinDays = options.renewWithinDays ?? 7;
  if (!Number.isFinite(renewWithinDays) || renewWithinDays < 0) throw new Error('renewWithinDays must be a non-negative number');
  const wanted = new Map<string, CallerKind>();
  const add = (name: string, kind: CallerKind): void => {
    assertCallerName(name);
    assertCallerKind(kind);
    if (name === 'ca') throw new Error('"ca" is reserved for the CA files and cannot name a caller');
    if (wanted.has(name)) throw new Error(`caller name ${JSON.stringify(name)} is listed twice`);
    wanted.set(name, kind);
  };
  for (const name of options.services) add(name, 'service');
  for (const client of options.clients ?? []) add(client.name, client.kind);

  const root = path.resolve(dir);
  await ensureDir(root);
  const issued: string[] = [];
  const ca = await ensureCa(root, issued);
  const caCert = new X509Certificate(ca.certPem);
  const now = options.now ?? new Date();
  const renewBefore = new Date(now.getTime() + renewWithinDays * DAY_MS);
  if (new Date(caCert.validTo) <= renewBefore) {
    // Every leaf is capped at the CA's expiry, so it would be reissued on every start.
    throw new Error(`the dev CA in ${root} expires ${caCert.validTo}; delete ${root} to create a new one`);
  }

  const leaves: Record<string, LeafPaths> = {};
  for (const [name, kind] of wanted) {
    const certPath = path.join(root, `${name}.pem`);
    const keyPath = path.join(root, `${name}.key`);
    leaves[name] = { kind, certPath, keyPath };
    const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
    if (certPem !== undefined && keyPem !== undefined && leafIsUsable(caCert, certPem, keyPem, kind, name, renewBefore)) {
      await ensureKeyMode(keyPath);
      continue;
    }
    const leaf = await issueCertificate(ca, { name, kind, validityDays: options.leafValidityDays, now });
    // Key first: if we stop between the two, the old cert no longer matches the key and the
    // next run reissues, rather than serving a cert whose key is gone.
    await writeFileAtomic(keyPath, leaf.keyPem, 0o600, true);
    await writeFileAtomic(certPath, leaf.certPem, 0o644, true);
    issued.push(name);
  }
  return { dir: root, caCertPath: path.join(root, CA_CERT), caKeyPath: path.join(root, CA_KEY), leaves, issued };
}

/**
 * Reads the CA certificate and one caller's certificate and key from a directory made by
 * `ensurePki`, failing with the exact missing path so a misconfigured service says what to fix.
 */
export async function loadTlsMaterial(dir: string, name: string): Promise<TlsMaterial> {
  assertCallerName(name);
  if (name === 'ca') throw new Error('"ca" is reserved for the CA files and cannot name a caller');
  const read = async (file: string): Promise<Buffer> => {
    const full = path.join(path.resolve(dir), file);
    try {
      return await fs.readFile(full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // The dev stack makes the CA and its own callers' certificates; any other name is issued by hand.
        const fix =
          file === CA_CERT
            ? 'no dev CA in this folder: start the dev stack (`npm start`), or point GATEHOUSE_TLS_DIR at the folder holding ca.pem'
            : `issue it with \`gatehouse pki issue --name ${name} --kind backend|operator\``;
        throw new Error(`TLS material for "${name}" is incomplete: ${full} does not exist (${fix})`, { cause: err });
      }
      throw err;
    }
  };
  // In order, so the message names the first missing file deterministically.
  const ca = await read(CA_CERT);
  const cert = await read(`${name}.pem`);
  const key = await read(`${name}.key`);
  return { ca, cert, key };
}
