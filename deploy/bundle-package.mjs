#!/usr/bin/env node
/**
 * Bundles the built package (`dist`, as `tsc -p tsconfig.build.json` left it) so that each
 * entry point an application can reach — every `exports` target and every `bin` — is one ES
 * module plus the chunks it shares with the others.
 *
 *   node deploy/bundle-package.mjs
 *
 * Why: Node links ES modules one file at a time, and the root import had to load ~65 of
 * them (measured 2× Hono's root import). One file per entry brings `import('granary')` to
 * about Hono's time (`npm run bench -- import`).
 *
 * What stays true:
 * - One copy of the runtime. All entries are bundled in ONE build with code splitting, so
 *   `granary`, `granary/internal`, `granary/testing` and the silo's `bin` share the chunks
 *   that hold `Grain`, the feature registry and the call scope (a second copy would be
 *   refused by the grain brand check, runtime/grain-brand.ts).
 * - Lazy adapters stay lazy: dynamic `import()`s (NATS, DynamoDB, dynalite, the sample
 *   grains) become chunks loaded on first use; packages stay external imports.
 * - Types are tsc's `.d.ts` files, untouched (and the API reports read them).
 * The unbundled `.js` files that no entry needs any more are removed, so no path in the
 * package can load a module outside the shared chunks.
 */
import { build } from 'esbuild';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cheapenNameHelper } from './build-worker.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const CHUNKS = 'chunks';

/** The `dist/*.js` files the package's `exports` and `bin` name. */
function entryPoints() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const targets = new Set();
  const visit = (value) => {
    if (typeof value === 'string') {
      if (value.startsWith('./dist/') && value.endsWith('.js')) targets.add(value.slice(2));
    } else if (value !== null && typeof value === 'object') {
      for (const v of Object.values(value)) visit(v);
    }
  };
  visit(pkg.exports);
  for (const bin of Object.values(pkg.bin ?? {})) targets.add(bin.replace(/^\.\//, ''));
  return [...targets].sort().map((p) => join(root, p));
}

/** Every `.js` under `dir` (and its source map), except the folders other builds own. */
function builtModules(dir, skip) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!skip.has(relative(dist, path))) out.push(...builtModules(path, skip));
    } else if (name.endsWith('.js')) out.push(path);
  }
  return out;
}

export async function bundlePackage({ quiet = false } = {}) {
  const entries = entryPoints();
  // Bundling a bundle would lose the modules its chunks came from: dist must be tsc's output.
  const bundled = entries.filter((e) => existsSync(e) && readFileSync(e, 'utf8').includes(`/${CHUNKS}/`));
  if (bundled.length > 0) {
    throw new Error(`${bundled.map((e) => relative(root, e)).join(', ')} ${bundled.length === 1 ? 'is' : 'are'} already bundled: `
      + 'dist is not fresh tsc output (did `tsc -p tsconfig.build.json` fail?). Run `npm run build`.');
  }
  // bench/ and test/ are compiled by their own tsconfigs; worker/ is the Worker bundle.
  const otherBuilds = new Set(['bench', 'test', 'worker']);
  // Old chunks are in this list too: removed below unless this build wrote them again.
  const before = builtModules(dist, otherBuilds);
  const result = await build({
    entryPoints: entries,
    outdir: dist,
    outbase: dist,
    allowOverwrite: true,
    bundle: true,
    splitting: true,
    chunkNames: `${CHUNKS}/[name]-[hash]`,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Packages stay imports, except the few the root import needs (BUNDLED_PACKAGES): each
    // would be resolved and loaded module by module — @opentelemetry/api is CommonJS, ~45
    // modules; its ESM build is bundled. It is made to exist in several copies: the SDK a
    // user registers is found through a global.
    external: externalPackages(),
    mainFields: ['module', 'main'],
    // Class names are grain type and error names at run time, and a bundle renames classes
    // (`var Silo = class _Silo` for one that refers to itself). The naming helper this adds
    // around functions is made cheap below.
    keepNames: true,
    sourcemap: true,
    metafile: true,
    logLevel: quiet ? 'error' : 'warning',
  });
  const kept = new Set(Object.keys(result.metafile.outputs).map((p) => resolve(root, p)));
  let removed = 0;
  for (const file of before) {
    if (kept.has(file)) continue;
    rmSync(file, { force: true });
    rmSync(`${file}.map`, { force: true });
    removed++;
  }
  const outputs = Object.keys(result.metafile.outputs).filter((p) => p.endsWith('.js'));
  for (const file of outputs) cheapenNameHelper(resolve(root, file));
  return { entries: entries.length, outputs: outputs.length, removed };
}

/** Bundled into the package rather than imported (see the build options). */
const BUNDLED_PACKAGES = new Set(['@opentelemetry/api', 'ulid', 'croner']);

/** Every dependency except those bundled, as esbuild `external` patterns (with their subpaths). */
function externalPackages() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const names = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies, ...pkg.devDependencies });
  // cloudflare:* are workerd's own modules (the Workers face is built too, for its types and bundlers).
  return ['cloudflare:*', ...names.filter((n) => !BUNDLED_PACKAGES.has(n)).flatMap((n) => [n, `${n}/*`])];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  bundlePackage().then(
    (r) => console.log(`bundled ${r.entries} entry points into ${r.outputs} modules (removed ${r.removed} unbundled modules)`),
    (err) => { console.error(err.message); process.exit(1); },
  );
}
