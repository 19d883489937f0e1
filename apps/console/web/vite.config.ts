import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** Absolute path of a file relative to this config, so the build works from any cwd. */
const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

/**
 * The console's browser page. Built from the workspace root with
 * `npx vite build --config apps/console/web/vite.config.ts`; the BFF serves the output from
 * the same origin under a strict CSP, so nothing inline is emitted (no modulepreload polyfill).
 */
export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  resolve: {
    alias: {
      // The workspace link for the contract is not guaranteed in node_modules; bundle its source.
      '@gatehouse/console-api': here('../../../libs/console-api/src/index.ts'),
    },
  },
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: here('../../../dist/apps/console/web'),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    sourcemap: false,
    assetsInlineLimit: 0,
    target: 'es2022',
  },
  server: { strictPort: true },
});
