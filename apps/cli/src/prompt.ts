import readline from 'node:readline';
import { StringDecoder } from 'node:string_decoder';
import { UsageError } from './commands/pki.js';

/** How to ask: `secret` answers (passphrases, key shares) are read without echo on a terminal. */
export interface PromptOptions {
  secret?: boolean;
}

/**
 * Asks the person at the terminal one question and resolves with the answer (trimmed by the
 * caller). Injectable so tests can answer; commands never echo an answer back in their output.
 */
export type Prompt = (question: string, options?: PromptOptions) => Promise<string>;

/** A prompt bound to a stream pair; close() releases the input so the process can exit. */
export interface ClosablePrompt {
  readonly ask: Prompt;
  close(): void;
}

/**
 * The default prompt: reads lines from `input` (stdin) and writes the questions to `output`
 * (stderr, so stdout stays clean for pipes). One readline interface serves every question, so
 * lines piped in ahead of the questions are not lost. The interface is created on the first
 * question only: commands that ask nothing never touch stdin. A `secret` question on a terminal
 * is read in raw mode, without echo; piped answers are read as lines like any other.
 */
export function lineReaderPrompt(
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): ClosablePrompt {
  let rl: readline.Interface | undefined;
  let closed = false;
  const lines: string[] = [];
  const waiting: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];

  const open = (): readline.Interface => {
    if (rl) return rl;
    rl = readline.createInterface({ input, terminal: false });
    rl.on('line', (line) => {
      const next = waiting.shift();
      if (next) next.resolve(line);
      else lines.push(line);
    });
    rl.on('close', () => {
      closed = true;
      for (const w of waiting.splice(0)) w.reject(new UsageError('no answer: the input ended before the question was answered'));
    });
    return rl;
  };

  /**
   * Reads one line from a terminal in raw mode, so the terminal does not echo it: Enter ends it,
   * Backspace deletes, Ctrl-U clears, Ctrl-C and Ctrl-D (on an empty line) cancel. readline
   * hands the input over for the time of the question and takes it back at the next one.
   */
  const readHidden = (tty: NodeJS.ReadStream & { setRawMode(mode: boolean): unknown }): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      if (rl) {
        rl.removeAllListeners('close');
        rl.close();
        rl = undefined;
      }
      const decoder = new StringDecoder('utf8');
      let typed: string[] = [];
      let escape = false;
      const finish = (err?: Error): void => {
        tty.off('data', onData);
        tty.setRawMode(false);
        tty.pause();
        output.write('\n');
        if (err) reject(err);
        else resolve(typed.join(''));
      };
      const onData = (chunk: Buffer | string): void => {
        for (const ch of typeof chunk === 'string' ? chunk : decoder.write(chunk)) {
          if (escape) {
            escape = !/[A-Za-z~]/.test(ch); // the rest of an arrow or function key's sequence
            continue;
          }
          if (ch === '\u001b') escape = true;
          else if (ch === '\r' || ch === '\n') return finish();
          else if (ch === '\u0003') return finish(new UsageError('cancelled'));
          else if (ch === '\u0004') {
            if (typed.length === 0) return finish(new UsageError('no answer: the input ended before the question was answered'));
          } else if (ch === '\u007f' || ch === '\b') typed.pop();
          else if (ch === '\u0015') typed = [];
          else if (ch >= ' ') typed.push(ch);
        }
      };
      tty.setRawMode(true);
      tty.on('data', onData);
      tty.resume();
    });

  return {
    ask: (question, options) => {
      const tty = input as NodeJS.ReadStream & { setRawMode?: (mode: boolean) => unknown };
      if (options?.secret && tty.isTTY && typeof tty.setRawMode === 'function' && lines.length === 0) {
        output.write(`${question} (not shown): `);
        return readHidden(tty as NodeJS.ReadStream & { setRawMode(mode: boolean): unknown });
      }
      open();
      output.write(`${question}: `);
      const ready = lines.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      if (closed) return Promise.reject(new UsageError('no answer: the input ended before the question was answered'));
      return new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
    },
    close: () => {
      rl?.close();
    },
  };
}
