import type { Clock } from '@gatehouse/core';
import type { Prompt } from './prompt.js';
import type { CliSettings } from './settings.js';

/** What a command needs: where the services are, the environment, output, the prompt and a clock. */
export interface CommandContext {
  settings: CliSettings;
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  prompt: Prompt;
  clock?: Clock;
}
