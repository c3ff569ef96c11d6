/**
 * `granary check [paths…]`: finds grain methods that TypeScript calls private or protected
 * but that any client could call.
 *
 * Every method a grain class declares is callable through a reference and over HTTP
 * (API.md, "Callable methods"; runtime/grain-type.ts decides at run time), and TypeScript's
 * `private`/`protected` are gone by then. This reads the project's sources with the
 * TypeScript compiler API, finds the classes built on `Grain` (directly or through other
 * classes), applies the runtime's rule to their methods, and reports each private or
 * protected one that the rule makes callable, with its fix: `#name` or `_name`, or public.
 *
 * Paths are tsconfig files, folders (their tsconfig.json, else their TypeScript files) or
 * source files; the default is ./tsconfig.json. Exit codes: 0 clean (a summary lists what
 * each grain type exposes), 1 findings, 2 bad usage or no TypeScript to read with.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as TS from 'typescript';
import { LIFECYCLE_METHODS, isReservedMethod } from '../runtime/protocol.js';

type TypeScript = typeof TS;

/** A grain class the check found, and the methods the runtime will expose for it. */
export interface CheckedGrain {
  /** The class name (`(anonymous)` for an unnamed class expression). */
  readonly className: string;
  /** The grain type name: its own `static grainType` when a string literal, else the class name. */
  readonly typeName: string;
  readonly file: string;
  readonly line: number;
  readonly abstract: boolean;
  /** Callable methods, own and inherited from user classes, in declaration order. */
  readonly methods: readonly string[];
}

/** A `private` or `protected` method that the runtime would expose. */
export interface CheckFinding {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The class that declares the method. */
  readonly className: string;
  readonly method: string;
  readonly modifier: 'private' | 'protected';
  /** Grain classes that expose it (the declaring class and its subclasses found). */
  readonly exposedBy: readonly string[];
}

export interface CheckResult {
  readonly grains: readonly CheckedGrain[];
  readonly findings: readonly CheckFinding[];
}

export interface CheckOptions {
  /** Paths as given on the command line, relative to `cwd` (default: `['tsconfig.json']`). */
  readonly paths?: readonly string[];
  readonly cwd?: string;
  /** The compiler API (default: `loadTypeScript` from `cwd`, then from Granary's own folder). */
  readonly typescript?: TypeScript;
}

/** Bad input to the check: a path that does not exist, a tsconfig that does not parse. */
export class CheckUsageError extends Error {
  override readonly name = 'CheckUsageError';
}

/** The check needs the TypeScript compiler, an optional peer dependency of granary. */
export class TypeScriptMissingError extends Error {
  override readonly name = 'TypeScriptMissingError';
}

/**
 * The `typescript` package, resolved from the first of `fromDirs` that has it: the user's
 * project first (its own compiler version), then Granary's folder.
 */
export function loadTypeScript(fromDirs: readonly string[]): TypeScript {
  for (const dir of fromDirs) {
    try {
      return createRequire(join(dir, 'granary-check.cjs'))('typescript') as TypeScript;
    } catch (err) {
      if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  throw new TypeScriptMissingError(
    'granary check reads your grains with the TypeScript compiler, and none is installed here: '
    + `run \`npm install --save-dev typescript\` (looked from ${fromDirs.join(', ')})`,
  );
}

/** Finds the grain classes under `paths` and the private or protected methods they expose. */
export function checkGrains(options: CheckOptions = {}): CheckResult {
  const cwd = resolve(options.cwd ?? process.cwd());
  const ts = options.typescript ?? loadTypeScript([cwd, dirname(fileURLToPath(import.meta.url))]);
  const grains: CheckedGrain[] = [];
  const findings = new Map<string, CheckFinding>();
  const seenFiles = new Set<string>();
  for (const project of projectsFor(ts, cwd, options.paths ?? ['tsconfig.json'])) {
    const compilerOptions = { ...project.options, noEmit: true };
    const program = ts.createProgram({ rootNames: project.rootNames, options: compilerOptions, host: sharingHost(ts, compilerOptions) });
    const reader = new GrainReader(ts, program.getTypeChecker(), cwd);
    for (const name of project.rootNames) {
      const file = program.getSourceFile(name);
      if (file === undefined || file.isDeclarationFile || seenFiles.has(file.fileName)) continue;
      seenFiles.add(file.fileName);
      reader.read(file, grains, findings);
    }
  }
  return { grains, findings: [...findings.values()] };
}

/**
 * Parsed files, shared by the programs one process builds (a test checks several projects
 * that all load granary and its dependencies), as TypeScript's own DocumentRegistry shares
 * them between projects. A file changed on disk since (mtime) is parsed again.
 */
const parsedFiles = new Map<string, { mtimeMs: number; file: TS.SourceFile }>();

function sharingHost(ts: TypeScript, options: TS.CompilerOptions): TS.CompilerHost {
  const host = ts.createCompilerHost(options, true);
  const parse = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, target, onError, shouldCreate) => {
    const format = typeof target === 'object' ? `${target.languageVersion}/${target.impliedNodeFormat}` : String(target);
    const key = `${format}\0${fileName}`;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(fileName).mtimeMs;
    } catch {
      return parse(fileName, target, onError, shouldCreate);
    }
    const known = parsedFiles.get(key);
    if (known !== undefined && known.mtimeMs === mtimeMs) return known.file;
    const file = parse(fileName, target, onError, shouldCreate);
    if (file !== undefined) parsedFiles.set(key, { mtimeMs, file });
    return file;
  };
  return host;
}

// ---------------------------------------------------------------------------------------
// Which files, with which compiler options.

interface Project {
  readonly rootNames: string[];
  readonly options: TS.CompilerOptions;
}

const SOURCE_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts'];

function projectsFor(ts: TypeScript, cwd: string, paths: readonly string[]): Project[] {
  const projects: Project[] = [];
  const loose: string[] = [];
  for (const p of paths) {
    const full = resolve(cwd, p);
    if (!existsSync(full)) {
      throw new CheckUsageError(p === 'tsconfig.json' && paths.length === 1
        ? `no tsconfig.json in ${cwd}: run granary check in your project's folder, or name its tsconfig, folders or files`
        : `${p} does not exist (in ${cwd})`);
    }
    if (statSync(full).isDirectory()) {
      const config = join(full, 'tsconfig.json');
      if (existsSync(config)) projects.push(parseTsconfig(ts, config));
      else loose.push(...ts.sys.readDirectory(full, SOURCE_EXTENSIONS, ['**/node_modules/**', '**/*.d.ts']));
    } else if (full.endsWith('.json')) {
      projects.push(parseTsconfig(ts, full));
    } else if (SOURCE_EXTENSIONS.some((ext) => full.endsWith(ext))) {
      loose.push(full);
    } else {
      throw new CheckUsageError(`${p} is neither a tsconfig (.json), a folder nor a TypeScript file`);
    }
  }
  if (loose.length > 0) {
    // Loose files take the compiler options of the tsconfig above them (module resolution
    // and export conditions decide where `granary` is), else NodeNext defaults.
    const config = ts.findConfigFile(dirname(loose[0]!), ts.sys.fileExists);
    const options = config ? parseTsconfig(ts, config).options : {
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true,
    };
    projects.push({ rootNames: loose, options });
  }
  return projects;
}

function parseTsconfig(ts: TypeScript, path: string): Project {
  let failure: string | undefined;
  const parsed = ts.getParsedCommandLineOfConfigFile(path, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { failure = ts.flattenDiagnosticMessageText(d.messageText, '\n'); },
  });
  if (parsed === undefined || failure !== undefined) throw new CheckUsageError(`cannot read ${path}: ${failure ?? 'unknown error'}`);
  const errors = parsed.errors.filter((d) => d.category === ts.DiagnosticCategory.Error && d.code !== 18003 /* no inputs: reported below */);
  if (errors.length > 0) throw new CheckUsageError(`${path}: ${ts.flattenDiagnosticMessageText(errors[0]!.messageText, '\n')}`);
  return { rootNames: parsed.fileNames, options: parsed.options };
}

// ---------------------------------------------------------------------------------------
// Grain classes and their methods, by the runtime's rule.

/** The brand constant a framework base (`Grain`) declares as its own static member. */
const BRAND_CONSTANT = 'GRAIN_BRAND';

class GrainReader {
  /** Per class declaration: its chain up to the framework base, or null when it is no grain. */
  private readonly chains = new Map<TS.ClassLikeDeclaration, { users: TS.ClassLikeDeclaration[]; baseMembers: Set<string> } | null>();

  constructor(private readonly ts: TypeScript, private readonly checker: TS.TypeChecker, private readonly cwd: string) {}

  read(file: TS.SourceFile, grains: CheckedGrain[], findings: Map<string, CheckFinding>): void {
    const visit = (node: TS.Node): void => {
      if (this.ts.isClassLike(node)) this.readClass(node, grains, findings);
      this.ts.forEachChild(node, visit);
    };
    visit(file);
  }

  private readClass(cls: TS.ClassLikeDeclaration, grains: CheckedGrain[], findings: Map<string, CheckFinding>): void {
    const chain = this.chainOf(cls);
    if (chain === null) return;
    const className = classNameOf(this.ts, cls);
    const methods: string[] = [];
    for (const decl of chain.users) {
      for (const m of this.callableMembers(decl, chain.baseMembers)) {
        if (!methods.includes(m.name)) methods.push(m.name);
        if (m.modifier === undefined) continue;
        const where = this.position(m.node);
        const key = `${where.file}:${where.line}:${where.column}`;
        const known = findings.get(key);
        if (known !== undefined) {
          if (!known.exposedBy.includes(className)) (known.exposedBy as string[]).push(className);
          continue;
        }
        findings.set(key, { ...where, className: classNameOf(this.ts, decl), method: m.name, modifier: m.modifier, exposedBy: [className] });
      }
    }
    const where = this.position(cls);
    grains.push({
      className,
      typeName: ownGrainType(this.ts, cls) ?? className,
      file: where.file,
      line: where.line,
      abstract: hasModifier(this.ts, cls, this.ts.SyntaxKind.AbstractKeyword),
      methods,
    });
  }

  /**
   * The user classes from `cls` up to its framework base (the first class declaring the
   * brand itself, as the runtime's `brandedBase`), and the member names of that base and
   * its bases; null when the chain reaches no framework base.
   */
  private chainOf(cls: TS.ClassLikeDeclaration): { users: TS.ClassLikeDeclaration[]; baseMembers: Set<string> } | null {
    if (this.chains.has(cls)) return this.chains.get(cls)!;
    this.chains.set(cls, null); // a cycle (broken code) ends as "no grain"
    let result: { users: TS.ClassLikeDeclaration[]; baseMembers: Set<string> } | null = null;
    if (!this.isFrameworkBase(cls)) {
      const base = this.baseClassOf(cls);
      if (base !== undefined) {
        if (this.isFrameworkBase(base.decl)) {
          result = { users: [cls], baseMembers: this.memberNamesFrom(base.type) };
        } else {
          const up = this.chainOf(base.decl);
          if (up !== null) result = { users: [cls, ...up.users], baseMembers: up.baseMembers };
        }
      }
    }
    this.chains.set(cls, result);
    return result;
  }

  /** The class `cls` extends, resolved through imports and re-exports. */
  private baseClassOf(cls: TS.ClassLikeDeclaration): { decl: TS.ClassLikeDeclaration; type: TS.Type } | undefined {
    // The instance type (a class expression's own type is its constructor's).
    const symbol = this.checker.getTypeAtLocation(cls).getSymbol();
    if (symbol === undefined) return undefined;
    const type = this.checker.getDeclaredTypeOfSymbol(symbol);
    if (!(type.flags & this.ts.TypeFlags.Object) || !((type as TS.ObjectType).objectFlags & this.ts.ObjectFlags.ClassOrInterface)) return undefined;
    for (const base of this.checker.getBaseTypes(type as TS.InterfaceType)) {
      const decl = base.getSymbol()?.declarations?.find((d): d is TS.ClassLikeDeclaration => this.ts.isClassLike(d));
      if (decl !== undefined) return { decl, type: base };
    }
    return undefined;
  }

  /** Declares `static [GRAIN_BRAND]` itself: `Grain` (source or .d.ts), or a base Granary builds on it. */
  private isFrameworkBase(cls: TS.ClassLikeDeclaration): boolean {
    return cls.members.some((m) => {
      if (!m.name || !this.ts.isComputedPropertyName(m.name) || !hasModifier(this.ts, m, this.ts.SyntaxKind.StaticKeyword)) return false;
      let symbol = this.checker.getSymbolAtLocation(m.name.expression);
      if (symbol && symbol.flags & this.ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
      return symbol?.name === BRAND_CONSTANT;
    });
  }

  /** Every member name of a base's instance type (merged declarations and its own bases included). */
  private memberNamesFrom(type: TS.Type): Set<string> {
    return new Set(this.checker.getPropertiesOfType(type).map((p) => p.name));
  }

  /** The methods of one class declaration that the runtime's rule makes callable. */
  private *callableMembers(decl: TS.ClassLikeDeclaration, baseMembers: Set<string>): Generator<{ name: string; node: TS.MethodDeclaration; modifier: 'private' | 'protected' | undefined }> {
    const declarationFile = decl.getSourceFile().isDeclarationFile;
    for (const m of decl.members) {
      if (!this.ts.isMethodDeclaration(m) || hasModifier(this.ts, m, this.ts.SyntaxKind.StaticKeyword)) continue;
      // Overload signatures and abstract methods put nothing on the prototype (in a .d.ts
      // no method has a body). A .d.ts writes private methods as bare properties, so a
      // compiled base class's private methods cannot be seen here.
      if (m.body === undefined && !declarationFile) continue;
      const name = propertyName(this.ts, m.name);
      if (name === undefined || LIFECYCLE_METHODS.has(name) || baseMembers.has(name) || name.startsWith('_') || isReservedMethod(name)) continue;
      const flags = this.ts.getCombinedModifierFlags(m);
      const modifier = flags & this.ts.ModifierFlags.Private ? 'private' : flags & this.ts.ModifierFlags.Protected ? 'protected' : undefined;
      yield { name, node: m, modifier };
    }
  }

  private position(node: TS.Node): { file: string; line: number; column: number } {
    const file = node.getSourceFile();
    const at = file.getLineAndCharacterOfPosition(node.getStart(file));
    return { file: relative(this.cwd, file.fileName) || file.fileName, line: at.line + 1, column: at.character + 1 };
  }
}

/** A property name as the runtime sees it; undefined for `#private`, symbols and computed keys. */
function propertyName(ts: TypeScript, name: TS.PropertyName): string | undefined {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) return name.text;
  if (ts.isComputedPropertyName(name) && (ts.isStringLiteral(name.expression) || ts.isNoSubstitutionTemplateLiteral(name.expression))) return name.expression.text;
  return undefined;
}

function hasModifier(ts: TypeScript, node: TS.Node, kind: TS.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node)?.some((m) => m.kind === kind) ?? false);
}

function classNameOf(ts: TypeScript, cls: TS.ClassLikeDeclaration): string {
  if (cls.name) return cls.name.text;
  if (ts.isVariableDeclaration(cls.parent) && ts.isIdentifier(cls.parent.name)) return cls.parent.name.text;
  return '(anonymous)';
}

/** The class's own `static grainType = 'Name'` (with `as const`, `satisfies` or parentheses around it). */
function ownGrainType(ts: TypeScript, cls: TS.ClassLikeDeclaration): string | undefined {
  for (const m of cls.members) {
    if (!ts.isPropertyDeclaration(m) || !hasModifier(ts, m, ts.SyntaxKind.StaticKeyword) || propertyName(ts, m.name) !== 'grainType') continue;
    let init = m.initializer;
    while (init && (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init))) init = init.expression;
    if (init && (ts.isStringLiteral(init) || ts.isNoSubstitutionTemplateLiteral(init))) return init.text;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// The command.

/** One line per finding: where, what, and the fix. */
export function formatFinding(f: CheckFinding): string {
  const others = f.exposedBy.filter((c) => c !== f.className);
  const via = others.length > 0 ? ` (exposed through ${others.join(', ')})` : '';
  return `${f.file}:${f.line}:${f.column} ${f.className}.${f.method} is ${f.modifier}, but any client can call it${via}: `
    + `TypeScript's ${f.modifier} does not exist at run time. Rename it to #${f.method} or _${f.method}, or make it public.`;
}

/** What each grain type exposes, one line per class. */
export function formatSummary(result: CheckResult): string[] {
  const lines = result.grains.map((g) => {
    const named = g.typeName === g.className ? g.className : `${g.typeName} (class ${g.className})`;
    return `  ${named}${g.abstract ? ' (abstract)' : ''}: ${g.methods.join(', ') || '(no callable methods)'}  ${g.file}:${g.line}`;
  });
  return lines;
}

const USAGE = `usage: granary check [paths…]
  finds private or protected grain methods that clients could call (every method a grain
  class declares is callable; TypeScript's private/protected do not exist at run time)
  paths: tsconfig files, folders or TypeScript files (default: ./tsconfig.json)
`;

export interface CheckIo {
  readonly cwd?: string;
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
}

/** `granary check [paths…]`: prints findings or the summary; resolves with the exit code. */
export async function runCheck(args: readonly string[], io: CheckIo = {}): Promise<number> {
  const out = io.out ?? ((t) => process.stdout.write(t));
  const err = io.err ?? ((t) => process.stderr.write(t));
  let positionals: string[];
  let help: boolean | undefined;
  try {
    ({ positionals, values: { help } } = parseArgs({ args: [...args], options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true }));
  } catch (e) {
    err(`granary check: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (help) {
    out(USAGE);
    return 0;
  }
  let result: CheckResult;
  try {
    result = checkGrains({ cwd: io.cwd, paths: positionals.length > 0 ? positionals : undefined });
  } catch (e) {
    if (e instanceof CheckUsageError || e instanceof TypeScriptMissingError) {
      err(`granary check: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const { grains, findings } = result;
  if (findings.length > 0) {
    out(findings.map((f) => formatFinding(f) + '\n').join(''));
    out(`granary check: ${findings.length} private or protected method${findings.length === 1 ? '' : 's'} callable by any client\n`);
    return 1;
  }
  if (grains.length === 0) {
    out('granary check: found no grain classes (classes extending Grain) to check\n');
    return 0;
  }
  out(`granary check: ${grains.length} grain class${grains.length === 1 ? '' : 'es'}; no private or protected method is callable. They expose:\n`);
  out(formatSummary(result).map((l) => l + '\n').join(''));
  return 0;
}
