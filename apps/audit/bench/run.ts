// `nx run audit:bench`: prints the DESIGN.md §8 lines of each benchmark (floor lines first, then
// the lines as they were before, so history stays comparable); the verify lines are last.
import { appendBench } from './append.bench.js';
import { verifyBench } from './verify.bench.js';

for (const line of await appendBench()) console.log(line);
for (const line of await verifyBench()) console.log(line);
