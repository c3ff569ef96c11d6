/**
 * Cold import of the package root: `await import('granary')` in a fresh Node process (the
 * built dist, resolved through the package's `exports`), beside `await import('hono')` in
 * the same run, alternating rounds so drifting machine load hits both alike. Each figure is
 * the time of the import inside the child (not the process start), median and min–max over
 * the rounds; the ratio is the median of per-round ratios. Target: root import ≤ 60 ms in
 * every round.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fmtMs, fmtRatio, heading, spread, verdict } from './support.js';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ROUNDS = 7;
const TARGET_MS = 60;

interface Sample { wallMs: number; cpuMs: number }

/** Imports `specifier` in a fresh node from the package root; the import's wall and CPU time. */
async function coldImport(specifier: string): Promise<Sample> {
  const code = `
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await import(${JSON.stringify(specifier)});
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    console.log(JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Sample;
}

heading(`cold import of the package root (node ${process.version}; ${ROUNDS} alternating rounds, fresh process each)`);
await coldImport('granary'); // warm the file system cache for both, outside the figures
await coldImport('hono');
const granary: Sample[] = [];
const hono: Sample[] = [];
const ratios: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const g = await coldImport('granary');
  const h = await coldImport('hono');
  granary.push(g);
  hono.push(h);
  ratios.push(g.wallMs / h.wallMs);
}
const wall = (xs: Sample[]) => xs.map((x) => x.wallMs);
const cpu = (xs: Sample[]) => xs.map((x) => x.cpuMs);
console.log(`${"import('granary')".padEnd(18)} wall ${spread(wall(granary), fmtMs).padEnd(30)} cpu ${spread(cpu(granary), fmtMs)}   ${verdict(wall(granary), { atMost: TARGET_MS }, fmtMs)}`);
console.log(`${"import('hono')".padEnd(18)} wall ${spread(wall(hono), fmtMs).padEnd(30)} cpu ${spread(cpu(hono), fmtMs)}`);
console.log(`granary / hono (wall): ${spread(ratios, fmtRatio)}`);
