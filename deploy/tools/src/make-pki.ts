/**
 * The PKI init job (issue 15 item 3): makes the Gatehouse CA and one certificate per service and
 * per named client with `ensurePki` (the dev stack's code, so names, SAN URIs and EKUs are the
 * ones the services check), then gives each caller a folder of its own holding only what it may
 * read: `ca.pem`, `<name>.pem`, `<name>.key` (0600). The CA key stays in `<out>/ca/`, which no
 * service mounts. Run it again to renew leaves that expire within --renew-within-days (7);
 * existing, valid material is kept, so the job is idempotent.
 *
 * Usage: node make-pki.mjs --out DIR [--client NAME:KIND ...] [--services a,b] [--days N] [--renew-within-days N]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SERVICE_NAMES } from '@gatehouse/contracts';
import { ensurePki, isCallerKind, type PkiClient } from '@gatehouse/pki';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    client: { type: 'string', multiple: true, default: [] },
    services: { type: 'string' },
    days: { type: 'string', default: '90' },
    'renew-within-days': { type: 'string', default: '7' },
  },
});
if (!values.out) {
  console.error('usage: make-pki --out DIR [--client NAME:KIND ...] [--services a,b] [--days N] [--renew-within-days N]');
  process.exit(2);
}
const services = values.services ? values.services.split(',') : Object.keys(SERVICE_NAMES);
const clients: PkiClient[] = values.client.map((c) => {
  const [name = '', kind = ''] = c.split(':');
  if (!isCallerKind(kind) || kind === 'service') {
    console.error(`make-pki: --client ${JSON.stringify(c)} must be NAME:backend or NAME:operator`);
    process.exit(2);
  }
  return { name, kind };
});
const out = path.resolve(values.out);
const made = await ensurePki(path.join(out, 'ca'), {
  services,
  clients,
  leafValidityDays: Number(values.days),
  renewWithinDays: Number(values['renew-within-days']),
});
for (const [name, leaf] of Object.entries(made.leaves)) {
  const dir = path.join(out, name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.copyFileSync(made.caCertPath, path.join(dir, 'ca.pem'));
  fs.copyFileSync(leaf.certPath, path.join(dir, `${name}.pem`));
  fs.copyFileSync(leaf.keyPath, path.join(dir, `${name}.key`));
  fs.chmodSync(path.join(dir, `${name}.key`), 0o600);
}
console.log(`make-pki: ${made.issued.length === 0 ? 'everything was in place' : `issued ${made.issued.join(', ')}`}; folders: ${Object.keys(made.leaves).join(', ')}`);
