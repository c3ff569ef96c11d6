/**
 * Builds a Worker with the real build script and runs the bundle in miniflare (workerd),
 * configured from wrangler.toml: the same main-module format, compatibility date and flags,
 * Durable Object binding and SQLite migration that `wrangler deploy` uses.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll } from 'vitest';
import { GrainClient } from 'granary';
import { readWranglerConfig, type WranglerConfig } from './wrangler-config.js';

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, '../..');

/** Bundles `entry` with `deploy/build-worker.mjs` into `outfile`; returns the script's report line. */
export async function buildWorker(entry: string, outfile: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['deploy/build-worker.mjs', '--entry', entry, '--outfile', outfile], { cwd: ROOT });
  return stdout.trim();
}

export interface RunningWorker {
  readonly url: string;
  readonly mf: Miniflare;
  dispose(): Promise<void>;
}

export interface StartOptions {
  scriptPath: string;
  /** Added to (and overriding) wrangler.toml's [vars]. */
  vars?: Record<string, string>;
  /** Durable Object storage directory; omitted: in memory, gone on dispose. */
  persistDir?: string;
  /** Build the Durable Object without SQLite (to test the error for `new_classes`). */
  legacyStorage?: boolean;
}

export function wranglerConfig(): WranglerConfig {
  return readWranglerConfig(join(ROOT, 'wrangler.toml'));
}

export async function startWorker(options: StartOptions): Promise<RunningWorker> {
  const cfg = wranglerConfig();
  const durableObjects: Record<string, { className: string; useSQLite: boolean }> = {};
  for (const b of cfg.bindings) {
    durableObjects[b.name] = { className: b.className, useSQLite: !options.legacyStorage && cfg.sqliteClasses.includes(b.className) };
  }
  const mf = new Miniflare({
    modules: true,
    scriptPath: options.scriptPath,
    // Module names are paths relative to this root; the bundle is one file, its own root.
    modulesRoot: dirname(options.scriptPath),
    compatibilityDate: cfg.compatibilityDate,
    compatibilityFlags: cfg.compatibilityFlags,
    durableObjects,
    bindings: { ...cfg.vars, ...options.vars },
    host: '127.0.0.1',
    port: 0,
    durableObjectsPersist: options.persistDir ?? false,
  });
  const url = await mf.ready;
  return {
    url: url.href.replace(/\/$/, ''),
    mf,
    dispose: () => mf.dispose(),
  };
}

/** A temp dir removed by `remove()`. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The test Worker (test/workers/worker-entry.ts) built and started for the calling test file,
 * with a `GrainClient.http` on it; stopped and removed after the file's tests.
 */
export function useTestWorker(prefix: string): { readonly worker: RunningWorker; readonly client: GrainClient } {
  const build = tempDir(prefix);
  let worker: RunningWorker | undefined;
  let client: GrainClient | undefined;
  beforeAll(async () => {
    await buildWorker('test/workers/worker-entry.ts', `${build.dir}/worker.js`);
    worker = await startWorker({ scriptPath: `${build.dir}/worker.js` });
    client = GrainClient.http(worker.url);
  });
  afterAll(async () => {
    await client?.close();
    await worker?.dispose();
    build.remove();
  });
  return {
    get worker() { return worker!; },
    get client() { return client!; },
  };
}
