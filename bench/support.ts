/**
 * Benchmark helpers: every figure is measured beside its limit in the same process and
 * printed with the ratio; each is the median of several repeats (the machine is noisy).
 */
export interface Figure {
  name: string;
  opsPerSec: number;
  samples: number[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Runs `batch` (which performs `ops` operations) repeatedly for ~`ms`, `repeats` times; median ops/s. */
export async function throughput(name: string, ops: number, batch: () => Promise<void>, options: { ms?: number; repeats?: number; warmup?: number } = {}): Promise<Figure> {
  const ms = options.ms ?? 400;
  for (let i = 0; i < (options.warmup ?? 2); i++) await batch();
  const samples: number[] = [];
  for (let r = 0; r < (options.repeats ?? 5); r++) {
    let done = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      await batch();
      done += ops;
      t = performance.now();
    }
    samples.push(done / ((t - t0) / 1000));
  }
  return { name, opsPerSec: median(samples), samples };
}

export function fmtRate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k/s` : `${x.toFixed(0)}/s`;
}

export function row(label: string, value: string, limitLabel: string, limit: string, ratio: number, target?: number): void {
  const verdict = target === undefined ? '' : ratio >= target ? `  (target ≥ ${target}× met)` : `  (target ≥ ${target}× NOT met)`;
  console.log(`${label.padEnd(44)} ${value.padStart(12)}   vs ${limitLabel.padEnd(30)} ${limit.padStart(12)}   ratio ${ratio.toFixed(2)}×${verdict}`);
}

export function heading(s: string): void {
  console.log(`\n== ${s} ==`);
}

/**
 * Measures `a` and `b` in alternating rounds (ABAB…) so drifting machine load hits both
 * alike; returns each side's median rate and the median of the per-round ratios a/b.
 */
export async function paired(
  a: { name: string; ops: number; batch: () => Promise<void> },
  b: { name: string; ops: number; batch: () => Promise<void> },
  options: { ms?: number; rounds?: number } = {},
): Promise<{ a: number; b: number; ratio: number }> {
  const ms = options.ms ?? 250;
  const rate = async (x: typeof a) => {
    let done = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) { await x.batch(); done += x.ops; t = performance.now(); }
    return done / ((t - t0) / 1000);
  };
  await a.batch(); await b.batch(); await a.batch(); await b.batch();
  const ra: number[] = [], rb: number[] = [], ratios: number[] = [];
  for (let i = 0; i < (options.rounds ?? 9); i++) {
    const x = await rate(a);
    const y = await rate(b);
    ra.push(x); rb.push(y); ratios.push(x / y);
  }
  return { a: median(ra), b: median(rb), ratio: median(ratios) };
}
