/**
 * `granary init <dir>`: scaffolds a project that uses Granary — a grain, a TestCluster
 * test, a README, a Dockerfile that runs `granary-silo`, a wrangler.toml, a tsconfig and a
 * package.json that depends on `granary` — whose own `npm install && npm test` passes as it is.
 *
 * The files are `templates/init/` of this package, copied with `{{placeholders}}` filled in.
 * A template named `_x` is written as `.x` (npm leaves `.gitignore` out of a package).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface InitOptions {
  /** Directory to create the project in; it must not exist or be empty. */
  dir: string;
  /**
   * How the project depends on `granary`: an npm version range, a tag, or a path to a
   * tarball or checkout (written as `file:<absolute path>`). Default: `^<this package's version>`.
   */
  granary?: string;
  /** The project's package name (default: from the directory's name). */
  name?: string;
  /** What relative `dir` and `granary` paths are resolved against (default: `process.cwd()`). */
  cwd?: string;
}

export interface InitResult {
  /** Absolute path of the project. */
  dir: string;
  name: string;
  /** The dependency spec written for `granary`. */
  granary: string;
  /** Files written, relative to `dir`, sorted. */
  files: string[];
}

/** Init refused to run: `message` says why and what to do instead. */
export class InitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InitError';
  }
}

const NPM_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

/** Writes the scaffold into `options.dir`. Throws `InitError` when the directory is not empty. */
export function initProject(options: InitOptions): InitResult {
  const cwd = options.cwd ?? process.cwd();
  const dir = resolve(cwd, options.dir);
  refuseNonEmpty(dir);

  const own = ownPackage();
  const name = options.name ?? nameFromDir(dir);
  if (!NPM_NAME.test(name) || name.length > 214) {
    throw new InitError(`"${name}" is not a valid npm package name (lowercase letters, digits, - . _ ~, optionally @scope/); pass one with --name`);
  }
  const granary = dependencySpec(options.granary, own.version, cwd);
  const values: Record<string, string> = {
    name,
    granary,
    // The scaffold's tools at the versions this package is built and tested with.
    typescript: devVersion(own, 'typescript'),
    vitest: devVersion(own, 'vitest'),
    typesNode: devVersion(own, '@types/node'),
  };

  const templates = join(own.root, 'templates', 'init');
  const files = listFiles(templates);
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const file of files) {
    const target = file.split('/').map((part) => part.replace(/^_/, '.')).join('/');
    const text = fill(readFileSync(join(templates, file), 'utf8'), values, file);
    mkdirSync(dirname(join(dir, target)), { recursive: true });
    // 'wx': never overwrite, even if something appeared in the directory meanwhile.
    writeFileSync(join(dir, target), text, { flag: 'wx' });
    written.push(target);
  }
  return { dir, name, granary, files: written.sort() };
}

function refuseNonEmpty(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new InitError(`${dir} exists and is not a directory; choose a new directory name`);
  const entries = readdirSync(dir);
  if (entries.length > 0) {
    const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, … (${entries.length} entries)` : '');
    throw new InitError(`${dir} is not empty (it holds ${shown}); init only writes into a new or empty directory, so choose another one`);
  }
}

function nameFromDir(dir: string): string {
  const cleaned = basename(dir).toLowerCase().replace(/[^a-z0-9._~-]+/g, '-').replace(/^[._~-]+/, '').replace(/-+$/, '');
  return cleaned === '' ? 'granary-app' : cleaned;
}

/** An npm spec as given, except that a path becomes `file:<absolute path>` (the project lives elsewhere). */
function dependencySpec(spec: string | undefined, version: string, cwd: string): string {
  if (spec === undefined) return `^${version}`;
  if (spec.trim() === '') throw new InitError('--granary needs a value: a version range, a tag, or a path to a tarball or checkout');
  const path = spec.startsWith('file:') ? spec.slice('file:'.length) : looksLikePath(spec) ? spec : undefined;
  if (path === undefined) return spec;
  const absolute = resolve(cwd, path);
  if (!existsSync(absolute)) throw new InitError(`--granary ${spec}: ${absolute} does not exist (give a tarball from \`npm pack\`, a checkout, or a version range)`);
  return `file:${absolute}`;
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('~') || /^[A-Za-z]:[\\/]/.test(spec) || /\.(tgz|tar\.gz)$/.test(spec);
}

/** Replaces `{{key}}`; in JSON files the value is escaped as a JSON string's content. */
function fill(text: string, values: Record<string, string>, file: string): string {
  const json = file.endsWith('.json');
  const out = text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`template ${file} uses {{${key}}}, which init does not provide`);
    return json ? JSON.stringify(value).slice(1, -1) : value;
  });
  if (json) JSON.parse(out); // a template bug must not reach the user as a broken file
  return out;
}

function listFiles(root: string, sub = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, sub), { withFileTypes: true })) {
    const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listFiles(root, rel));
    else out.push(rel);
  }
  return out;
}

interface OwnPackage { root: string; version: string; devDependencies: Record<string, string> }

/** This package's root and package.json, found from this module's location (source or dist/). */
function ownPackage(): OwnPackage {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string; devDependencies?: Record<string, string> };
      if (pkg.name === 'granary') return { root: dir, version: pkg.version, devDependencies: pkg.devDependencies ?? {} };
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`granary's package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

function devVersion(own: OwnPackage, name: string): string {
  const v = own.devDependencies[name];
  if (v === undefined) throw new Error(`granary's package.json has no devDependency ${name}, which the init template needs`);
  return v;
}

export const INIT_USAGE = `usage:
  granary init <dir> [--granary SPEC] [--name NAME]
      creates a project in <dir> (new or empty): a grain, a TestCluster test, README,
      Dockerfile, wrangler.toml, tsconfig, package.json; then: cd <dir> && npm install && npm test

  --granary    the granary dependency: a version range, a tag, or a path to a tarball
               (default: ^ this granary's version)
  --name       the project's package name (default: from <dir>)
`;

/** The `granary init` command: returns the exit code (0 done, 1 refused, 2 bad usage). */
export function initCommand(args: string[], io: { out: (s: string) => void; err: (s: string) => void } = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
}): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { granary: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    io.err(`granary init: ${(err as Error).message}\n\n${INIT_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(INIT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    io.err(`granary init: ${positionals.length === 0 ? 'name the directory to create' : `one directory, got ${positionals.length}: ${positionals.join(' ')}`}\n\n${INIT_USAGE}`);
    return 2;
  }
  let result: InitResult;
  try {
    result = initProject({ dir: positionals[0]!, granary: values.granary, name: values.name });
  } catch (err) {
    if (!(err instanceof InitError)) throw err;
    io.err(`granary init: ${err.message}\n`);
    return 1;
  }
  const rel = relative(process.cwd(), result.dir);
  const shown = rel === '' ? '.' : rel.startsWith('..') ? result.dir : rel;
  io.out(`created ${result.name} in ${shown} (granary ${result.granary}):\n${result.files.map((f) => `  ${f}\n`).join('')}` +
    `next:\n${shown === '.' ? '' : `  cd ${shown}\n`}  npm install\n  npm test\n  npm start      # a silo on http://127.0.0.1:8080 hosting src/grains.ts\n`);
  return 0;
}
