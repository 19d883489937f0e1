// `nx run audit:bench`: prints one DESIGN.md §8 line per benchmark; the verify line is last.
import { appendBench } from './append.bench.js';
import { verifyBench } from './verify.bench.js';

const lines: string[] = [];
lines.push(await appendBench());
console.log(lines[0]);
lines.push(await verifyBench());
console.log(lines[1]);
