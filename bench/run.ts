/**
 * `npm run bench -- NAME`: runs bench/NAME.ts and prints its result as one JSON line, last:
 * {"bench":NAME,"value":…,"unit":…,"baseline":…,"ratio":…} — the baseline measured in the same run.
 */
import { readdirSync } from 'node:fs';

export interface BenchResult {
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
  [extra: string]: unknown;
}

const name = process.argv[2];
const available = readdirSync(import.meta.dirname).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, ''));
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME   (one of: ${available.join(', ')})\n`);
  process.exit(2);
}
// Benchmarks measure what the project image runs: its Dockerfile sets NODE_ENV=production (which,
// among others, turns off graphql-js's development-only cross-realm instanceof checks).
process.env.NODE_ENV ??= 'production';
const mod = (await import(`./${name}.bench.ts`)) as { run(): Promise<BenchResult> };
const result = await mod.run();
process.stdout.write(`${JSON.stringify({ bench: name, ...result })}\n`);
process.exit(0);
