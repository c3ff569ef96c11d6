/**
 * `npm run bench [-- name...]`: runs every benchmark in `bench/` (compiled to dist/bench)
 * in its own Node process, one after another, so they neither share a heap nor compete for
 * the two cores. Names filter by substring: `npm run bench -- local nats`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const skip = new Set(['run.js', 'support.js']);
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.js') && !skip.has(f) && !f.startsWith('_'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error(`no benchmark matches ${filters.join(', ')}; available: ${readdirSync(here).filter((f) => f.endsWith('.js') && !skip.has(f)).join(', ')}`);
  process.exit(2);
}

let failed = 0;
for (const f of files) {
  const t0 = Date.now();
  console.log(`\n### ${f.replace(/\.js$/, '')} (node ${process.version}, ${new Date().toISOString()})`);
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', join(here, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`### ${f} FAILED (exit ${r.status ?? r.signal})`);
  } else {
    console.log(`### ${f} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}
process.exit(failed ? 1 : 0);
