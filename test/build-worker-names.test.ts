/**
 * Grain type names survive the Worker build, minified too: the bundle's grain classes keep
 * the names the runtime addresses them (and keys their state) by.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script without type declarations
import { buildWorker } from '../deploy/build-worker.mjs';
import { describeGrainClass } from '../runtime/grain-type.js';
import { sampleGrains } from '../grains/index.js';

const dir = mkdtempSync(join(tmpdir(), 'granary-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a minified Worker bundle keeps every sample grain type name', async () => {
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, `import { describeGrainClass } from 'granary/runtime';
import { sampleGrains } from ${JSON.stringify(join(process.cwd(), 'grains', 'index.ts'))};
export const names = sampleGrains.map((c) => describeGrainClass(c).name);
`);
  const outfile = join(dir, 'bundle.js');
  await (buildWorker as (o: object) => Promise<unknown>)({ entry, outfile, minify: true, quiet: true });
  const { names } = (await import(/* @vite-ignore */ pathToFileURL(outfile).href)) as { names: string[] };
  expect(names).toEqual(sampleGrains.map((c) => describeGrainClass(c).name));
  expect(names).toContain('GameSession');
});
