// The one esbuild set-up for everything Gatehouse runs under Node (the apps by bundle.mjs, the
// deploy tools by deploy/tools/bundle.mjs): workspace libraries (@gatehouse/*) are compiled in;
// third-party packages stay external and load from node_modules, so native addons
// (better-sqlite3) and grpc-js are used exactly as installed.
import { build } from 'esbuild';

/** Keeps every bare import external except our own workspace packages. */
const externalThirdParty = {
  name: 'external-third-party',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@gatehouse/') || args.path.startsWith('node:')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

/**
 * Bundles `entry` into the single ESM file `outfile` for Node 20; `options` adds esbuild options
 * (sourcemap, define, banner, metafile, ...). Returns esbuild's result.
 */
export function bundleForNode(entry, outfile, options = {}) {
  return build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    legalComments: 'none',
    logLevel: 'warning',
    ...options,
    plugins: [externalThirdParty, ...(options.plugins ?? [])],
  });
}
