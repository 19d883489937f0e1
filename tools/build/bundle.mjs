#!/usr/bin/env node
// Bundles one app into dist/apps/<app>/main.mjs with esbuild (node-bundle.mjs: workspace
// libraries compiled in, third-party packages external).
// Usage: node tools/build/bundle.mjs <app>
import fs from 'node:fs';
import path from 'node:path';
import { bundleForNode } from './node-bundle.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const app = process.argv[2];
if (!app || !/^[a-z][a-z0-9-]*$/.test(app)) {
  console.error('usage: node tools/build/bundle.mjs <app>');
  process.exit(2);
}
const entry = path.join(root, 'apps', app, 'src/main.ts');
if (!fs.existsSync(entry)) {
  console.error(`no entry point at ${path.relative(root, entry)}`);
  process.exit(2);
}
const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
const outfile = path.join(root, 'dist/apps', app, 'main.mjs');

const result = await bundleForNode(entry, outfile, {
  sourcemap: true,
  metafile: true,
  define: { __GATEHOUSE_VERSION__: JSON.stringify(version) },
  banner: { js: '#!/usr/bin/env node' },
});
fs.chmodSync(outfile, 0o755);
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`built ${path.relative(root, outfile)} (${(bytes / 1024).toFixed(0)} KiB)`);
