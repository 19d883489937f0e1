import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';
import { ROOT, type Stack } from '../stack.js';

/** The console bundle as a real process in front of a started stack (dev mode, port 0). */
export interface ConsoleProcess {
  url: string;
  stderr: string[];
  stop(): Promise<void>;
}

export async function startConsole(stack: Stack, extraEnv: Record<string, string> = {}): Promise<ConsoleProcess> {
  const main = path.join(ROOT, 'dist/apps/console/main.mjs');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run nx run console:build first`);
  const ready = path.join(stack.dir, 'console.ready.json');
  const stderr: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [main], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '',
      GATEHOUSE_ENV: 'dev',
      GATEHOUSE_CONSOLE_HOST: '127.0.0.1',
      GATEHOUSE_CONSOLE_PORT: '0',
      GATEHOUSE_READY_FILE: ready,
      GATEHOUSE_TLS_DIR: stack.pkiDir,
      GATEHOUSE_DATA_DIR: path.join(stack.dir, 'data'),
      GATEHOUSE_IDENTITY_ADDR: stack.services.identity.address,
      GATEHOUSE_ALLOWLIST_ADDR: stack.services.allowlist.address,
      GATEHOUSE_IMPERSONATION_ADDR: stack.services.impersonation.address,
      GATEHOUSE_AUDIT_ADDR: stack.services.audit.address,
      GATEHOUSE_CONSOLE_WEB_DIR: path.join(ROOT, 'dist/apps/console/web'),
      GATEHOUSE_LOG_LEVEL: 'warn',
      ...extraEnv,
    },
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  for (const end = Date.now() + 30_000; !fs.existsSync(ready); await sleep(50)) {
    if (child.exitCode !== null) throw new Error(`the console exited with ${child.exitCode}:\n${stderr.join('')}`);
    if (Date.now() > end) throw new Error(`the console was not ready within 30 s:\n${stderr.join('')}`);
  }
  const info = JSON.parse(fs.readFileSync(ready, 'utf8')) as { url: string };
  return {
    url: info.url,
    stderr,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Debian's Chromium, headless, closed to the network (issue 16 item 5); Playwright gives it a fresh profile. */
export const CHROMIUM = '/usr/bin/chromium';
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
