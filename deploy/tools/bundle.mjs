#!/usr/bin/env node
// Bundles the deploy tools (deploy/tools/src/<tool>.ts) into dist/deploy/<tool>.mjs with the
// apps' esbuild set-up (tools/build/node-bundle.mjs): workspace libraries compiled in,
// third-party packages external (they load from the image's node_modules).
// Usage: node deploy/tools/bundle.mjs health-probe make-pki
import path from 'node:path';
import { bundleForNode } from '../../tools/build/node-bundle.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const tools = process.argv.slice(2);
if (tools.length === 0 || tools.some((t) => !/^[a-z][a-z0-9-]*$/.test(t))) {
  console.error('usage: node deploy/tools/bundle.mjs <tool>...');
  process.exit(2);
}
for (const tool of tools) {
  await bundleForNode(path.join(root, 'deploy/tools/src', `${tool}.ts`), path.join(root, 'dist/deploy', `${tool}.mjs`));
  console.log(`built dist/deploy/${tool}.mjs`);
}
