import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { hotp } from './dev-sign-in.js';
import { ROOT, type Stack } from './stack.js';

/** The built `gatehouse` CLI bundle. */
export const CLI_MAIN = path.join(ROOT, 'dist/apps/cli/main.mjs');

/** What one CLI run printed. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s): HOTP of the time step, written independently of identity's code. */
export function totp(secretBase32: string, at = Date.now()): string {
  return hotp(secretBase32, Math.floor(at / 30_000));
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], env: Record<string, string>, cwd?: string): CliResult {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], { env, encoding: 'utf8', timeout: 30_000, ...(cwd ? { cwd } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** How {@link cliLogin} answers. */
export interface LoginOptions {
  /** Answer the sign-in's OTP question first with the code that just confirmed the app (as a newcomer does). */
  retypeConfirmCode?: boolean;
  /** The TOTP secret of an account enrolled before (see {@link totpSecretIn}); its sign-in asks for an OTP code at once. */
  secret?: string;
}

/** The TOTP secret a first sign-in showed (in its otpauth URI), if it got that far. */
export function totpSecretIn(stdout: string): string | undefined {
  return /secret=([A-Z2-7]+)/.exec(stdout)?.[1];
}

/**
 * `gatehouse login --dev <email>` through the built CLI, answering its prompts as a person
 * would: the SMS code from the dev SMS sink (identity's stderr), the enrolment's confirming code
 * and then the next code from an independent TOTP. Resolves when the CLI exits.
 */
export function cliLogin(stack: Stack, env: Record<string, string>, email: string, opts: LoginOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, 'login', '--dev', email], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let step = 0;
    let confirmCode = '';
    const idStderr = stack.services.identity.stderr;
    const seenSms = idStderr.join('').split('DEV SMS').length;
    const otpQuestions = () => (stderr.split('authenticator app').slice(1).join('').match(/OTP code/g) ?? []).length;
    const answer = () => {
      const secret = totpSecretIn(stdout);
      if (step === 1 && !secret && opts.secret && /OTP code/.test(stderr.split('SMS code').pop() ?? '')) {
        // Enrolled before: the code of the step after any code it last used is inside the ±1 window.
        step = 4;
        child.stdin.write(`${totp(opts.secret, Date.now() + 30_000)}\n`);
      } else if (step === 0 && /SMS code/.test(stderr)) {
        step = 1;
        const wait = (): void => {
          const parts = idStderr.join('').split('DEV SMS');
          if (parts.length <= seenSms) {
            setTimeout(wait, 50);
            return;
          }
          child.stdin.write(`${/sign-in code: (\d+)/.exec(parts[parts.length - 1] ?? '')?.[1] ?? ''}\n`);
        };
        wait();
      } else if (step === 1 && secret && /authenticator app/i.test(stderr.split('SMS code').pop() ?? '')) {
        step = 2;
        confirmCode = totp(secret);
        child.stdin.write(`${confirmCode}\n`);
      } else if (step === 2 && secret && otpQuestions() >= 1) {
        step = 3;
        if (opts.retypeConfirmCode) {
          child.stdin.write(`${confirmCode}\n`);
        } else {
          step = 4;
          // The confirming code is spent; the next step's code is inside the ±1 window.
          child.stdin.write(`${totp(secret, Date.now() + 30_000)}\n`);
        }
      } else if (step === 3 && secret && otpQuestions() >= 2) {
        step = 4;
        child.stdin.write(`${totp(secret, Date.now() + 30_000)}\n`);
      }
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      answer();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      answer();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
