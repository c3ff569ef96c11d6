/**
 * GRANARY_GRAINS naming a module built on another installed copy of granary: the silo
 * process refuses it at start with an error that says so and names both copies (a grain of
 * one copy cannot run in the other: each keeps its own request context and transactions).
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO, spawnSilo } from './silo-process.js';

let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('a grain module built on a second copy of granary fails the start, naming both copies', async () => {
  dir = mkdtempSync(join(tmpdir(), 'granary-copy-'));
  // A second installation, as npm would lay it out in the grain package's own node_modules.
  const copy = join(dir, 'node_modules', 'granary');
  mkdirSync(copy, { recursive: true });
  cpSync(join(REPO, 'package.json'), join(copy, 'package.json'));
  cpSync(join(REPO, 'dist'), join(copy, 'dist'), { recursive: true, filter: (src) => !src.startsWith(join(REPO, 'dist', 'worker')) });
  symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'), 'dir'); // its own dependencies
  const grains = join(dir, 'grains.mjs');
  writeFileSync(grains, "import { Grain } from 'granary';\nexport class Copied extends Grain { async hi() { return 'hi'; } }\n");

  const p = await spawnSilo({ GRANARY_GRAINS: grains, GRANARY_STORAGE: 'memory' }, { waitReady: false });
  const { code } = await p.exited;
  expect(code).toBe(1);
  const failure = p.logs.find((l) => l.msg === 'silo failed to start');
  expect(String(failure?.detail)).toBe(
    `Copied extends Grain from another copy of granary, at ${copy}, not the one hosting it, `
    + `at ${REPO}. Each copy has its own request context, transactions and error classes, `
    + 'so a grain of one copy cannot run in the other: build the grain module against the granary that hosts it '
    + '(see `npm ls granary`; `npm dedupe`, or make granary a peerDependency of the package that holds the grains)',
  );
  expect(p.logs.some((l) => l.msg === 'silo ready')).toBe(false);
});
