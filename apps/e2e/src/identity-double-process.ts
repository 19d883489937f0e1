// Runs libs/testing's identity double in a process of its own for the e2e stack: the suites call
// the CLI with spawnSync, which blocks the test's event loop, and the services must still get
// their VerifySession and WatchRevocations answers meanwhile. Forked with IPC by stack.ts: it
// sends { port } once listening and stops on 'stop' (or when its parent goes away).
import { loadTlsMaterial } from '@gatehouse/pki';
import { startIdentityDouble } from '@gatehouse/testing';

const [pkiDir, keysFile] = process.argv.slice(2);
if (!pkiDir || !keysFile) throw new Error('usage: identity-double-process.ts <pki dir> <keys file>');
const double = await startIdentityDouble({ security: { mode: 'mtls', material: await loadTlsMaterial(pkiDir, 'identity') }, keysFile });
const stop = () => void double.stop().finally(() => process.exit(0));
process.on('message', (msg: unknown) => {
  if (msg === 'stop') stop();
});
process.on('disconnect', stop);
process.send?.({ port: double.server.port });
