export { HASH_SIZE, EMPTY_ROOT, leafHash, leafHashPrefixed, nodeHash, hashEquals } from './hash.js';
export { CompactRange, type CompletedNodeVisitor } from './compact-range.js';
export {
  subtreeRoot,
  inclusionProof,
  consistencyProof,
  perfectNodesToStore,
  compactRangeAt,
  type NodeReader,
  type CompletedNode,
} from './proof.js';
export { rootFromInclusionProof, verifyInclusion, verifyConsistency } from './verify.js';
export {
  CHECKPOINT_HEADER,
  formatSignedAt,
  checkpointText,
  signCheckpoint,
  verifyCheckpoint,
  rawPublicKey,
  publicKeyFromRaw,
  keyIdOf,
  type CheckpointFields,
} from './checkpoint.js';
