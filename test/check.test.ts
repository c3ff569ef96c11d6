/**
 * `granary check`: real TypeScript projects written to a temp dir, read with the real
 * compiler. A project whose grains have private/protected methods fails and names each; a
 * clean one passes, and what it says each type exposes is what the runtime exposes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callableMethods, type GrainClass } from '../runtime/grain-type.js';
import { TypeScriptMissingError, checkGrains, loadTypeScript, runCheck } from '../silo/check.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let root: string;

/** Writes `files` under `dir` (paths relative to it). */
function write(dir: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** A project whose `granary` is this repository's sources (the package's granary-source condition). */
function sourceProject(name: string, files: Record<string, string>): string {
  return write(join(root, name), {
    'tsconfig.json': JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true,
        customConditions: ['granary-source'], types: [], noEmit: true,
      },
      include: ['src'],
    }),
    ...files,
  });
}

async function run(cwd: string, args: string[] = []): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCheck(args, { cwd, out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'granary-check-'));
  mkdirSync(join(root, 'node_modules'));
  symlinkSync(REPO, join(root, 'node_modules', 'granary'), 'dir');
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const CART = `import { Grain } from 'granary';

export class ShoppingCart extends Grain<{ items: string[]; discount: number }> {
  protected override initialState() { return { items: [], discount: 0 }; }
  async add(item: string): Promise<number> { this.state.items.push(item); return this.state.items.length; }
  private async applyDiscount(pct: number): Promise<void> { this.state.discount = pct; }
  protected recompute(): void {}
  #secret(): void {}
  _internal(): void { this.#secret(); }
}
`;

const AUDITED = `import { Grain } from 'granary';

/** A user base class: its protected method is reachable through every grain built on it. */
export abstract class Audited<S> extends Grain<S> {
  protected audit(what: string): string { return what; }
}
`;

const BOOKS = `import { Audited } from './audited.js';

export class Books extends Audited<{ n: number }> {
  async post(n: number): Promise<void> { this.audit('post ' + n); }
}
export const Anonymous = class extends Audited<{}> {
  private hidden(): void {}
};
`;

describe('granary check', () => {
  it('fails for private and protected methods a client could call, naming file, line, class, method and fix', async () => {
    const dir = sourceProject('bad', { 'src/cart.ts': CART, 'src/audited.ts': AUDITED, 'src/books.ts': BOOKS });
    const { code, out } = await run(dir);
    expect(code).toBe(1);
    const lines = out.trim().split('\n');
    expect(lines).toContain(
      'src/cart.ts:6:3 ShoppingCart.applyDiscount is private, but any client can call it: '
      + "TypeScript's private does not exist at run time. Rename it to #applyDiscount or _applyDiscount, or make it public.",
    );
    expect(out).toMatch(/^src\/cart\.ts:7:3 ShoppingCart\.recompute is protected, but any client can call it: .*#recompute or _recompute, or make it public\.$/m);
    expect(out).toMatch(/^src\/audited\.ts:5:3 Audited\.audit is protected, but any client can call it \(exposed through Books, Anonymous\): /m);
    expect(out).toMatch(/^src\/books\.ts:7:3 Anonymous\.hidden is private/m);
    // Not callable, so not reported: lifecycle hooks, #private, _names, public methods.
    expect(out).not.toMatch(/initialState|secret|_internal|\.add |\.post /);
    expect(lines.at(-1)).toBe('granary check: 4 private or protected methods callable by any client');

    // What it reports is what the runtime exposes: TypeScript's private is gone at run time.
    const { ShoppingCart } = (await import(/* @vite-ignore */ pathToFileURL(join(dir, 'src/cart.ts')).href)) as Record<string, GrainClass>;
    expect([...callableMethods(ShoppingCart!)].sort()).toEqual(['add', 'applyDiscount', 'recompute']);
  }, 120_000);

  it('passes a clean project and lists what each type exposes, exactly as the runtime does', async () => {
    const dir = sourceProject('good', {
      'src/shop.ts': `import { Grain, RequestContext } from 'granary';

export class Shop extends Grain<{ total: number }> {
  static readonly grainType = 'Store';
  static interleave = ['total'];
  private static helper(): number { return 1; }
  private readonly onTick = () => undefined;
  private cache = new Map<string, number>();
  protected override initialState() { return { total: 0 }; }
  override async onActivate(): Promise<void> {}
  get size(): number { return this.cache.size; }
  async buy(n: number): Promise<number>;
  async buy(n: string): Promise<number>;
  async buy(n: number | string): Promise<number> { return (this.state.total += Number(n) + Shop.helper()); }
  async total(): Promise<number> { return this.state.total; }
  async who(): Promise<unknown> { return RequestContext.get('user'); }
  #applyDiscount(): void {}
  _recompute(): void { this.#applyDiscount(); }
}

export class Outlet extends Shop {
  async clearance(): Promise<void> {}
}
`,
    });
    const { code, out } = await run(dir);
    expect(code).toBe(0);
    expect(out).toContain('granary check: 2 grain classes; no private or protected method is callable. They expose:');
    expect(out).toContain('  Store (class Shop): buy, total, who  src/shop.ts:3');
    expect(out).toContain('  Outlet: clearance, buy, total, who  src/shop.ts:21');

    // The same classes, loaded and described by the runtime: the same callable methods.
    const mod = (await import(/* @vite-ignore */ pathToFileURL(join(dir, 'src/shop.ts')).href)) as Record<string, GrainClass>;
    const { grains } = checkGrains({ cwd: dir });
    for (const g of grains) expect([...callableMethods(mod[g.className]!)].sort()).toEqual([...g.methods].sort());
  }, 120_000);

  it('reads grains built on the published declarations (.d.ts) of granary too', async () => {
    // Emit runtime/'s declarations as a package would ship them, and point `granary` there.
    const pkg = join(root, 'dts', 'node_modules', 'granary');
    const program = ts.createProgram({
      rootNames: [join(REPO, 'runtime', 'index.ts')],
      options: {
        target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
        declaration: true, emitDeclarationOnly: true, rootDir: join(REPO, 'runtime'), outDir: join(pkg, 'dist'), skipLibCheck: true, types: ['node'],
      },
    });
    expect(program.emit().emitSkipped).toBe(false);
    write(pkg, { 'package.json': JSON.stringify({ name: 'granary', type: 'module', exports: { '.': { types: './dist/index.d.ts' } } }) });
    const dir = write(join(root, 'dts'), {
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: [] }, include: ['*.ts'] }),
      'cart.ts': CART,
    });
    const { code, out } = await run(dir);
    expect(code).toBe(1);
    expect(out).toMatch(/^cart\.ts:6:3 ShoppingCart\.applyDiscount is private/m);
    expect(out).toMatch(/^cart\.ts:7:3 ShoppingCart\.recompute is protected/m);
    expect(out).toMatch(/2 private or protected methods callable by any client\n$/);
  }, 120_000);

  it('takes files and folders as paths; with no tsconfig.json in the folder it says what to do', async () => {
    const empty = mkdtempSync(join(root, 'empty-'));
    const none = await run(empty);
    expect(none.code).toBe(2);
    expect(none.err).toBe(`granary check: no tsconfig.json in ${empty}: run granary check in your project's folder, or name its tsconfig, folders or files\n`);
    const missing = await run(empty, ['nope.ts']);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe(`granary check: nope.ts does not exist (in ${empty})\n`);

    // Files and folders without a tsconfig of their own take the compiler options of the one above them.
    const dir = sourceProject('paths', {
      'src/cart.ts': CART,
      'lib/nested/clean.ts': "import { Grain } from 'granary';\nexport class Fine extends Grain { async ok() { return 1; } }\n",
    });
    const clean = await run(dir, ['lib/nested']);
    expect(clean.code).toBe(0);
    expect(clean.out).toContain('  Fine: ok  lib/nested/clean.ts:2');
    const bad = await run(dir, ['src/cart.ts', 'lib/nested/clean.ts']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^src\/cart\.ts:6:3 ShoppingCart\.applyDiscount is private/m);
    expect(bad.out).not.toContain('Fine');
  }, 120_000);

  it('without TypeScript installed, says to install it', () => {
    const empty = mkdtempSync(join(root, 'no-ts-'));
    expect(() => loadTypeScript([empty])).toThrow(TypeScriptMissingError);
    expect(() => loadTypeScript([empty])).toThrow(/run `npm install --save-dev typescript`/);
    expect(loadTypeScript([empty, REPO]).version).toBe(ts.version);
  });

  it('is the `granary check` command of the CLI', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'dist', 'silo', 'cli.js'), 'check', 'missing-dir'], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe(`granary check: missing-dir does not exist (in ${root})\n`);
    expect(r.status).toBe(2);
  });
});
