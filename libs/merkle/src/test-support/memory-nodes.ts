import { CompactRange } from '../compact-range.js';
import type { NodeReader } from '../proof.js';

/**
 * An in-memory node store filled the way a log fills its table: every perfect node reported by
 * CompactRange.append. Reads of a node that was never completed throw, as a real store would.
 */
export class MemoryNodes implements NodeReader {
  readonly nodes = new Map<string, Uint8Array>();
  readonly tree = CompactRange.empty();
  reads = 0;

  constructor(
    leafHashes: Uint8Array[] = [],
    private readonly async = false,
  ) {
    for (const h of leafHashes) this.append(h);
  }

  append(leafHash: Uint8Array): void {
    this.tree.append(leafHash, (level, index, hash) => this.nodes.set(`${level}/${index}`, hash));
  }

  perfectNode(level: number, index: number): Promise<Uint8Array> | Uint8Array {
    this.reads++;
    const h = this.nodes.get(`${level}/${index}`);
    if (!h) throw new Error(`node ${level}/${index} is not stored`);
    return this.async ? Promise.resolve(h) : h;
  }
}
