#!/usr/bin/env node
// Bundles the deploy tools (deploy/tools/src/<tool>.ts) into dist/deploy/<tool>.mjs, the way
// tools/build/bundle.mjs bundles an app: workspace libraries compiled in, third-party packages
// external (they load from the image's node_modules).
// Usage: node deploy/tools/bundle.mjs health-probe make-pki
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '../..');
const tools = process.argv.slice(2);
if (tools.length === 0 || tools.some((t) => !/^[a-z][a-z0-9-]*$/.test(t))) {
  console.error('usage: node deploy/tools/bundle.mjs <tool>...');
  process.exit(2);
}
const externalThirdParty = {
  name: 'external-third-party',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@gatehouse/') || args.path.startsWith('node:') ? undefined : { path: args.path, external: true }));
  },
};
for (const tool of tools) {
  await build({
    entryPoints: [path.join(root, 'deploy/tools/src', `${tool}.ts`)],
    outfile: path.join(root, 'dist/deploy', `${tool}.mjs`),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [externalThirdParty],
  });
  console.log(`built dist/deploy/${tool}.mjs`);
}
