import { Buffer } from 'node:buffer';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { auditEventV1, auditV1, commonV1 } from '@gatehouse/contracts';
import { CompactRange, compactRangeAt, consistencyProof, keyIdOf, leafHash, rawPublicKey, signCheckpoint, type NodeReader } from '@gatehouse/merkle';
import { exportLine } from '../export-line.js';

/** An Ed25519 checkpoint key with its raw public key and id. */
export interface TestKey {
  privateKey: KeyObject;
  publicKey: Buffer;
  keyId: string;
}

export function newTestKey(): TestKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = rawPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);
const SERVICES = [auditEventV1.Service.SERVICE_IDENTITY, auditEventV1.Service.SERVICE_SECRETS, auditEventV1.Service.SERVICE_PRODUCT_BACKEND];
const ACTIONS = [
  auditEventV1.Action.ACTION_IDENTITY_OTP_VERIFY,
  auditEventV1.Action.ACTION_SECRETS_RELEASE_REDEEM,
  auditEventV1.Action.ACTION_PRODUCT_BACKEND_OTHER,
];

/** A realistic, varied audit event for sequence i (deterministic). */
export function syntheticEvent(i: number): auditEventV1.AuditEvent {
  const k = i % 3;
  return auditEventV1.AuditEvent.fromPartial({
    eventId: `01JH${i.toString(36).toUpperCase().padStart(10, '0')}Q7ZX`,
    occurredAt: new Date(T0 + i * 1000 - 250),
    service: SERVICES[k],
    action: ACTIONS[k],
    outcome: i % 7 === 0 ? auditEventV1.Outcome.OUTCOME_FAILURE : auditEventV1.Outcome.OUTCOME_SUCCESS,
    actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_EMPLOYEE, id: `acc_${(i * 7919) % 1000}`, displayName: i % 5 === 0 ? 'Zoë Ñúñez' : 'Jane "JD" Doe' },
    subject: i % 4 === 0 ? undefined : { kind: auditEventV1.SubjectKind.SUBJECT_KIND_RELEASE, id: `rel_${i}`, displayName: '' },
    customerDomain: k === 2 ? 'acme.example.com' : '',
    sourceIp: i % 2 === 0 ? '203.0.113.7' : '2001:db8::17',
    environment: k === 1 ? commonV1.Environment.ENVIRONMENT_LIVE : commonV1.Environment.ENVIRONMENT_UNSPECIFIED,
    requestId: `req-${i}`,
    details: k === 0 ? { reason: 'wrong_code', attempt: String(i % 5) } : k === 2 ? { event: 'export.started' } : {},
    hashedDetails: k === 0 ? { phone_number: `hmac-sha256:${Buffer.alloc(32, i % 251).toString('hex')}` } : {},
  });
}

/** The LeafData of entry i and its log entry, exactly as the audit service stores them. */
export function syntheticEntry(i: number, event: auditEventV1.AuditEvent = syntheticEvent(i)): auditV1.LogEntry {
  const leaf: auditV1.LeafData = { sequence: i, appendedAt: new Date(T0 + i * 1000), submittedBy: 'service:identity', event };
  const leafInput = Buffer.from(auditV1.LeafData.encode(leaf).finish());
  return { sequence: i, event: leaf.event, appendedAt: leaf.appendedAt, submittedBy: leaf.submittedBy, leafInput, leafHash: leafHash(leafInput) };
}

/** Options of an export (mirroring ExportRequest). */
export interface ExportOptions {
  from?: number;
  to?: number;
  trusted?: number;
}

/**
 * An in-memory audit log built the way the service builds it: entries appended in order, every
 * completed perfect node stored, a signed checkpoint every `checkpointEvery` entries. Its
 * `export` produces exactly the message stream the Export RPC is specified to send.
 */
export class SyntheticLog {
  readonly entries: auditV1.LogEntry[] = [];
  readonly checkpoints = new Map<number, auditV1.Checkpoint>();
  readonly nodes = new Map<string, Uint8Array>();
  readonly reader: NodeReader = {
    perfectNode: (level, index) => {
      const h = this.nodes.get(`${level}/${index}`);
      if (!h) throw new Error(`node ${level}/${index} missing`);
      return h;
    },
  };
  private readonly tree = CompactRange.empty();

  constructor(
    readonly key: TestKey = newTestKey(),
    readonly checkpointEvery = 50,
    readonly origin = 'gatehouse.test/audit',
  ) {}

  static build(size: number, checkpointEvery = 50, key?: TestKey): SyntheticLog {
    const log = new SyntheticLog(key, checkpointEvery);
    for (let i = 0; i < size; i++) log.append(syntheticEntry(i));
    return log;
  }

  append(entry: auditV1.LogEntry): void {
    this.entries.push(entry);
    this.tree.append(entry.leafHash, (level, index, hash) => this.nodes.set(`${level}/${index}`, hash));
    if (this.tree.size % this.checkpointEvery === 0) this.checkpoints.set(this.tree.size, this.sign(this.tree.size, this.tree.root()));
  }

  sign(treeSize: number, rootHash: Uint8Array, key: TestKey = this.key): auditV1.Checkpoint {
    const fields = { origin: this.origin, treeSize, rootHash: Buffer.from(rootHash), signedAt: new Date(T0 + treeSize * 1000 + 500) };
    return { ...fields, keyId: key.keyId, signature: signCheckpoint(fields, key.privateKey) };
  }

  async rootAt(size: number): Promise<Buffer> {
    return Buffer.from((await compactRangeAt(this.reader, size)).root());
  }

  /** The stored checkpoint of `size`, or one signed on demand (not stored, as for an export). */
  async checkpointAt(size: number): Promise<auditV1.Checkpoint> {
    return this.checkpoints.get(size) ?? this.sign(size, await this.rootAt(size));
  }

  async export(opts: ExportOptions = {}): Promise<auditV1.ExportResponse[]> {
    const from = opts.from ?? 0;
    const to = opts.to ?? this.entries.length;
    const out: auditV1.ExportResponse[] = [];
    out.push({
      header: {
        formatVersion: 1,
        origin: this.origin,
        fromSequence: from,
        checkpoint: { ...(await this.checkpointAt(to)) },
        signingKeys: [
          {
            keyId: this.key.keyId,
            algorithm: commonV1.KeyAlgorithm.KEY_ALGORITHM_ED25519,
            publicKey: this.key.publicKey,
            notBefore: new Date(T0),
            notAfter: undefined,
            status: commonV1.KeyStatus.KEY_STATUS_ACTIVE,
          },
        ],
        prefixSubtreeHashes: (await compactRangeAt(this.reader, from)).subtrees().map((h) => Buffer.from(h)),
        trustedTreeSize: opts.trusted ?? 0,
        consistencyProof: opts.trusted ? (await consistencyProof(this.reader, opts.trusted, to)).map((h) => Buffer.from(h)) : [],
        exportedAt: new Date(T0 + to * 1000 + 900),
      },
    });
    let checkpointCount = 0;
    for (let s = from; s < to; s++) {
      out.push({ entry: { ...(this.entries[s] as auditV1.LogEntry) } });
      const cp = this.checkpoints.get(s + 1);
      if (cp) {
        out.push({ checkpoint: { ...cp } });
        checkpointCount++;
      }
    }
    out.push({ trailer: { entryCount: to - from, checkpointCount } });
    return out;
  }

  async exportLines(opts: ExportOptions = {}): Promise<string[]> {
    return (await this.export(opts)).map(exportLine);
  }

  /** The verifier options that trust this log's key. */
  trust(): { trustedKeys: Array<{ keyId: string; publicKey: Uint8Array }> } {
    return { trustedKeys: [{ keyId: this.key.keyId, publicKey: this.key.publicKey }] };
  }
}
