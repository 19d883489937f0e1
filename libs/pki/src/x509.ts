/**
 * The one place that loads @peculiar/x509: after the Reflect metadata polyfill its tsyringe
 * dependency needs at import time, and wired to Node's WebCrypto so every certificate we build
 * is signed by Node's OpenSSL.
 *
 * WHY require and not `import`: the polyfill must run before x509 evaluates. Requiring both, in
 * order, guarantees that whether or not the code is bundled (tools/build/bundle.mjs keeps
 * third-party packages external, and static imports are hoisted).
 */
import { createRequire } from 'node:module';
import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

const requireCommonJs = createRequire(import.meta.url);
requireCommonJs('reflect-metadata');
const x509 = requireCommonJs('@peculiar/x509') as typeof X509;
x509.cryptoProvider.set(webcrypto);

export { x509 };
