#!/usr/bin/env node
/**
 * Bundles a Granary Worker (its grain module + Granary) into ONE ES module for workerd, the
 * file wrangler.toml's `main` names.
 *
 *   node deploy/build-worker.mjs [--entry silo/workers/entry.ts] [--outfile dist/worker/worker.js] [--minify]
 *
 * Workers have no Node: only `node:*` modules that `nodejs_compat` provides may remain
 * (they stay external imports, as do `cloudflare:*`). Inside the bundle, `granary` (what
 * grain modules import) resolves to the runtime API, and `granary/workers` to the Workers
 * face: the silo's Node-only parts (NATS, the Node HTTP server, dynalite, the container
 * entry point) never enter it, and importing one of them from grain code fails the build.
 * The metafile is checked afterwards, so a Node-only module that sneaks in fails too.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** `node:` modules workerd provides under `nodejs_compat` that Granary's Worker path uses. */
export const NODE_COMPAT_MODULES = ['node:async_hooks', 'node:crypto', 'node:http', 'node:https', 'node:util', 'node:zlib', 'node:buffer', 'node:stream', 'node:events'];

/** Packages and source folders that must never be in a Worker bundle. */
const FORBIDDEN = [/node_modules\/nats\//, /node_modules\/@hono\/node-server\//, /node_modules\/dynalite\//, /node_modules\/ulid\//,
  /^silo\/nats\//, /^silo\/main\.ts$/, /^silo\/silo\.ts$/, /^silo\/memory\//, /^silo\/gateway\/node-server\.ts$/, /^silo\/dynamodb\/dynalite\.ts$/];

const SUBPATHS = {
  granary: 'silo/workers/root.ts',
  'granary/runtime': 'runtime/index.ts',
  'granary/workers': 'silo/workers/index.ts',
};

/** Resolves `granary` imports to the Worker-safe faces, and refuses Node-only modules. */
const workerSafe = {
  name: 'granary-worker-safe',
  setup(b) {
    b.onResolve({ filter: /^granary(\/.*)?$/ }, (args) => {
      const target = SUBPATHS[args.path];
      if (target === undefined) {
        return { errors: [{ text: `${args.path} is not available in a Worker (use "granary" for grain code, "granary/workers" for the Worker entry)` }] };
      }
      return { path: resolve(root, target) };
    });
    b.onResolve({ filter: /^node:/ }, (args) => {
      if (NODE_COMPAT_MODULES.includes(args.path)) return { path: args.path, external: true };
      return { errors: [{ text: `${args.path} (imported by ${relative(root, args.importer)}) is not provided to Workers by nodejs_compat here; keep Node-only code off the Worker's path` }] };
    });
  },
};

export async function buildWorker({ entry = 'silo/workers/entry.ts', outfile = 'dist/worker/worker.js', minify = false, quiet = false } = {}) {
  const result = await build({
    entryPoints: [resolve(root, entry)],
    outfile: resolve(root, outfile),
    bundle: true,
    format: 'esm',
    // "browser" picks the fetch-based HTTP handler of the AWS SDK (package.json browser maps).
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    target: 'es2022',
    external: ['cloudflare:*'],
    plugins: [workerSafe],
    // Grain type names default to class names: keep them through bundling and minifying
    // (esbuild otherwise names a self-referencing class `_Pinger`, and --minify `e`). A grain
    // class that still reaches the runtime with a one- or two-character name and no static
    // grainType is refused at registration (runtime/grain-type.ts), never silently renamed.
    keepNames: true,
    minify,
    sourcemap: false,
    metafile: true,
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'warning',
  });
  cheapenNameHelper(resolve(root, outfile));
  const inputs = Object.keys(result.metafile.inputs);
  const forbidden = inputs.filter((p) => FORBIDDEN.some((re) => re.test(p)));
  if (forbidden.length > 0) throw new Error(`Node-only modules ended up in the Worker bundle: ${forbidden.join(', ')}`);
  const out = Object.values(result.metafile.outputs)[0];
  const metaPath = resolve(root, outfile.replace(/\.js$/, '') + '.meta.json');
  mkdirSync(dirname(metaPath), { recursive: true });
  writeFileSync(metaPath, JSON.stringify(result.metafile));
  return { outfile: resolve(root, outfile), bytes: out.bytes, inputs: inputs.length, imports: out.imports.map((i) => i.path) };
}

/**
 * `keepNames` makes esbuild call `__name(fn, "name")` wherever a function is created, also
 * per call in hot paths (`{ cancel: __name(() => …, "cancel") }` for every timer), and each
 * call was an `Object.defineProperty` (measured: a few µs of Worker CPU per grain call, 3 %
 * of a simulation's CPU). Names matter for classes (grain types and error names are class
 * names, and a bundle renames classes: `var Pinger = class _Pinger`), and a function
 * declaration keeps its own. So the helper names only functions with a prototype (classes,
 * `function`s) whose name differs; arrows and methods, which have none, keep the name the
 * engine inferred (in a stack trace, an arrow wrapped this way shows as anonymous).
 */
export function cheapenNameHelper(file) {
  const code = readFileSync(file, 'utf8');
  const helper = 'var __name = (target, value) => __defProp(target, "name", { value, configurable: true });';
  if (!code.includes(helper)) return; // no keepNames helper in this bundle (or esbuild changed it: left as is)
  writeFileSync(file, code.replace(helper, 'var __name = (target, value) => target.prototype === undefined || target.name === value ? target : __defProp(target, "name", { value, configurable: true });'));
}

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildWorker({ entry: arg('--entry'), outfile: arg('--outfile'), minify: process.argv.includes('--minify') }).then(
    (r) => console.log(`worker bundle ${relative(root, r.outfile)}: ${(r.bytes / 1024).toFixed(0)} KiB from ${r.inputs} modules; external: ${[...new Set(r.imports)].join(', ') || 'none'}`),
    (err) => { console.error(err.message); process.exit(1); },
  );
}
