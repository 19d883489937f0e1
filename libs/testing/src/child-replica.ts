import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import { loadTlsMaterial } from '@gatehouse/pki';
import { dial } from '@gatehouse/service-kit';

type ClientCtor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ChannelOptions>) => C;

/** A replica running in a child process (see ServiceHarness.spawnReplica). */
export interface ChildReplica<C extends grpc.Client> {
  readonly port: number;
  /** A client of it presenting `name`'s certificate (default the operator CLI). */
  client(name?: string): Promise<C>;
  /** Resolves when the process ended: its exit code, or the signal that killed it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Ends it (SIGKILL) if still running, and waits. */
  kill(): Promise<void>;
}

/**
 * Starts a service replica in a child process with `env` (on top of this process's), for crash
 * tests (issue 14 item 5): arm GATEHOUSE_TEST_FAULT_POINT and it dies by SIGKILL there. Shared by
 * ServiceHarness.spawnReplica and harnesses of their own (identity's); `track` hears of the child
 * and of every client made, so the harness can end them at stop().
 */
export async function spawnChildReplica<C extends grpc.Client>(o: {
  spec: { file: string; exportName: string };
  env: Record<string, string>;
  Client: ClientCtor<C>;
  pkiDir: string;
  serviceName: string;
  track?: { child?(c: ChildProcess): void; client?(c: grpc.Client): void };
}): Promise<ChildReplica<C>> {
  const runner = fileURLToPath(new URL('./replica-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', runner, path.resolve(o.spec.file), o.spec.exportName], {
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  o.track?.child?.(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let err = '';
  child.stderr.on('data', (d: Buffer) => void (err = (err + d.toString()).slice(-4000)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`child replica did not start within 30 s: ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`child replica exited before serving (code ${code}, signal ${signal}): ${err}`));
    });
  });
  return {
    port,
    exited,
    async client(clientName = 'cli') {
      const c = dial(o.Client, `127.0.0.1:${port}`, { mode: 'mtls', material: { ...(await loadTlsMaterial(o.pkiDir, clientName)), expectedServerName: o.serviceName } });
      o.track?.client?.(c);
      return c;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
