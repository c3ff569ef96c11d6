/**
 * Benchmark helpers: every figure is measured beside its limit in the same process and
 * printed with the ratio, over several rounds (the machine is noisy). One rule for every
 * verdict, here: a figure prints its spread (median and min–max of the rounds), and a target
 * is "met" only when the worst round meets it. Errors are never counted as work: the
 * closed-loop helpers count them apart and the benches print them; a batch of `paired` or
 * `throughput` that throws ends the benchmark.
 */

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export function fmtRate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k/s` : `${x.toFixed(0)}/s`;
}

export const fmtRatio = (x: number): string => `${x.toFixed(2)}×`;
export const fmtMs = (x: number): string => `${x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)} ms`;

/** "median (min–max)" of per-round values. */
export function spread(rounds: readonly number[], fmt: (x: number) => string = fmtRatio): string {
  if (rounds.length === 0) return 'no rounds';
  if (rounds.length === 1) return `${fmt(rounds[0]!)} (1 round)`;
  return `${fmt(median([...rounds]))} (${fmt(Math.min(...rounds))}–${fmt(Math.max(...rounds))})`;
}

/** A target on a figure: at least (rates, ratios of rates) or at most (latencies, sizes, ratios of latencies). */
export type Target = { atLeast: number } | { atMost: number };

/**
 * The verdict on a figure's rounds: "met" only when the worst round meets the target (the
 * median meeting it is not enough), with the worst round named.
 */
export function verdict(rounds: readonly number[], target: Target, fmt: (x: number) => string = fmtRatio): string {
  const atLeast = 'atLeast' in target;
  const bound = atLeast ? target.atLeast : target.atMost;
  if (rounds.length === 0) return `(target ${atLeast ? '≥' : '≤'} ${fmt(bound)}: NOT met, no rounds)`;
  const worst = atLeast ? Math.min(...rounds) : Math.max(...rounds);
  const met = atLeast ? worst >= bound : worst <= bound;
  return `(target ${atLeast ? '≥' : '≤'} ${fmt(bound)}: ${met ? 'met' : 'NOT met'}; worst round ${fmt(worst)})`;
}

/** One figure's line: its rounds' spread, and the verdict when it has a target. */
export function figure(label: string, rounds: readonly number[], options: { fmt?: (x: number) => string; target?: Target; note?: string } = {}): void {
  const fmt = options.fmt ?? fmtRatio;
  const v = options.target === undefined ? '' : `   ${verdict(rounds, options.target, fmt)}`;
  console.log(`${label.padEnd(44)} ${spread(rounds, fmt)}${v}${options.note ? `   ${options.note}` : ''}`);
}

/** A figure beside its limit measured in the same run: both medians, and the per-round ratios' spread and verdict. */
export function row(r: { label: string; value: string; limitLabel: string; limit: string; ratios: readonly number[]; atLeast?: number }): void {
  const v = r.atLeast === undefined ? '' : `  ${verdict(r.ratios, { atLeast: r.atLeast })}`;
  console.log(`${r.label.padEnd(44)} ${r.value.padStart(12)}   vs ${r.limitLabel.padEnd(30)} ${r.limit.padStart(12)}   ratio ${spread(r.ratios)}${v}`);
}

export function heading(s: string): void {
  console.log(`\n== ${s} ==`);
}

export interface Figure {
  name: string;
  opsPerSec: number;
  samples: number[];
}

/** Runs `batch` (which performs `ops` operations) repeatedly for ~`ms`, `repeats` times; median ops/s and every round's. */
export async function throughput(name: string, ops: number, batch: () => Promise<void>, options: { ms?: number; repeats?: number; warmup?: number } = {}): Promise<Figure> {
  const ms = options.ms ?? 400;
  for (let i = 0; i < (options.warmup ?? 2); i++) await batch();
  const samples: number[] = [];
  for (let r = 0; r < (options.repeats ?? 5); r++) samples.push(await rateOf(batch, ops, ms));
  return { name, opsPerSec: median(samples), samples };
}

async function rateOf(batch: () => Promise<void>, ops: number, ms: number): Promise<number> {
  let done = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    await batch();
    done += ops;
    t = performance.now();
  }
  return done / ((t - t0) / 1000);
}

/**
 * Measures `a` and `b` in alternating rounds (ABAB…) so drifting machine load hits both
 * alike; each side's median rate, and the per-round ratios a/b (for `row`).
 */
export async function paired(
  a: { name: string; ops: number; batch: () => Promise<void> },
  b: { name: string; ops: number; batch: () => Promise<void> },
  options: { ms?: number; rounds?: number } = {},
): Promise<{ a: number; b: number; ratio: number; ratios: number[] }> {
  const ms = options.ms ?? 250;
  await a.batch(); await b.batch(); await a.batch(); await b.batch();
  const ra: number[] = [], rb: number[] = [], ratios: number[] = [];
  for (let i = 0; i < (options.rounds ?? 9); i++) {
    const x = await rateOf(a.batch, a.ops, ms);
    const y = await rateOf(b.batch, b.ops, ms);
    ra.push(x); rb.push(y); ratios.push(x / y);
  }
  return { a: median(ra), b: median(rb), ratio: median(ratios), ratios };
}
