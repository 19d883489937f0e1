// A service replica in a child process, for crash tests (issue 14 item 5): the harness runs it
// with the replica's environment (GATEHOUSE_TEST_FAULT_POINT included), it prints
// `READY <port>` once serving, and it may then die by SIGKILL at the armed point. Usage:
//   node --import tsx replica-process.ts <spec module file> <export name>
import { pathToFileURL } from 'node:url';
import { runService, type ServiceSpec } from '@gatehouse/service-host';

const [file, name] = process.argv.slice(2);
if (!file || !name) throw new Error('usage: replica-process.ts <spec module file> <export name>');
const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
const spec = mod[name] as ServiceSpec<never> | undefined;
if (!spec) throw new Error(`${file} exports no ${name}`);
const hosted = await runService(spec, { env: process.env });
process.stdout.write(`READY ${hosted.server.port}\n`);
process.on('SIGTERM', () => {
  void hosted.shutdown('SIGTERM').then(() => process.exit(0));
});
