/**
 * Reads the parts of wrangler.toml the tests run miniflare with, so what is tested is what
 * `wrangler deploy` deploys: main module, compatibility date and flags, the Durable Object
 * binding and its SQLite migration, and the vars. A small TOML subset parser (tables,
 * arrays of tables, strings, booleans, numbers, string arrays, comments) — enough for this
 * file; anything else in it fails loudly.
 */
import { readFileSync } from 'node:fs';

type Value = string | number | boolean | string[];
type Table = Record<string, Value>;

export interface WranglerConfig {
  main: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  noBundle: boolean;
  /** `[build] command`: what wrangler runs before dev and deploy. */
  buildCommand: string | undefined;
  bindings: { name: string; className: string }[];
  sqliteClasses: string[];
  vars: Record<string, string>;
}

export function parseToml(text: string): { tables: Map<string, Table>; arrays: Map<string, Table[]> } {
  const tables = new Map<string, Table>([['', {}]]);
  const arrays = new Map<string, Table[]>();
  let current = tables.get('')!;
  text.split('\n').forEach((rawLine, i) => {
    const line = stripComment(rawLine).trim();
    if (line === '') return;
    let m: RegExpExecArray | null;
    if ((m = /^\[\[([\w.]+)\]\]$/.exec(line))) {
      const list = arrays.get(m[1]!) ?? [];
      arrays.set(m[1]!, list);
      list.push((current = {}));
    } else if ((m = /^\[([\w.]+)\]$/.exec(line))) {
      current = {};
      tables.set(m[1]!, current);
    } else if ((m = /^([\w-]+)\s*=\s*(.+)$/.exec(line))) {
      current[m[1]!] = parseValue(m[2]!, i + 1);
    } else {
      throw new Error(`wrangler.toml line ${i + 1}: not understood by the test's TOML reader: ${rawLine}`);
    }
  });
  return { tables, arrays };
}

function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    else if (line[i] === '#' && !quoted) return line.slice(0, i);
  }
  return line;
}

function parseValue(raw: string, lineNo: number): Value {
  const v = raw.trim();
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  try {
    const parsed = JSON.parse(v) as unknown;
    if (typeof parsed === 'string') return parsed;
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
  } catch {
    // fall through
  }
  throw new Error(`wrangler.toml line ${lineNo}: value not understood by the test's TOML reader: ${raw}`);
}

export function readWranglerConfig(path = 'wrangler.toml'): WranglerConfig {
  const { tables, arrays } = parseToml(readFileSync(path, 'utf8'));
  const top = tables.get('')!;
  const str = (t: Table, k: string): string => {
    const v = t[k];
    if (typeof v !== 'string') throw new Error(`wrangler.toml: ${k} must be a string`);
    return v;
  };
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(tables.get('vars') ?? {})) vars[k] = String(v);
  return {
    main: str(top, 'main'),
    compatibilityDate: str(top, 'compatibility_date'),
    compatibilityFlags: (top.compatibility_flags as string[] | undefined) ?? [],
    noBundle: top.no_bundle === true,
    buildCommand: tables.get('build')?.command as string | undefined,
    bindings: (arrays.get('durable_objects.bindings') ?? []).map((b) => ({ name: str(b, 'name'), className: str(b, 'class_name') })),
    sqliteClasses: (arrays.get('migrations') ?? []).flatMap((m) => (m.new_sqlite_classes as string[] | undefined) ?? []),
    vars,
  };
}
