import readline from 'node:readline';
import { UsageError } from './commands/pki.js';

/**
 * Asks the person at the terminal one question and resolves with the answer (trimmed by the
 * caller). Injectable so tests can answer; commands never echo an answer back in their output.
 */
export type Prompt = (question: string) => Promise<string>;

/** A prompt bound to a stream pair; close() releases the input so the process can exit. */
export interface ClosablePrompt {
  readonly ask: Prompt;
  close(): void;
}

/**
 * The default prompt: reads lines from `input` (stdin) and writes the questions to `output`
 * (stderr, so stdout stays clean for pipes). One readline interface serves every question, so
 * lines piped in ahead of the questions are not lost. The interface is created on the first
 * question only: commands that ask nothing never touch stdin.
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

  return {
    ask: (question) => {
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
