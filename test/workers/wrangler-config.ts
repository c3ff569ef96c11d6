/**
 * Reads the parts of wrangler.toml the tests run miniflare with, so what is tested is what
 * `wrangler deploy` deploys: main module, compatibility date and flags, the Durable Object
 * binding and its SQLite migration, and the vars. The file is parsed by `smol-toml` (TOML
 * 1.0); a field of the wrong type fails loudly, naming it.
 */
import { readFileSync } from 'node:fs';
import { parse, type TomlTable, type TomlValue } from 'smol-toml';

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

export function readWranglerConfig(path = 'wrangler.toml'): WranglerConfig {
  const top = parse(readFileSync(path, 'utf8'));
  const durableObjects = optionalTable(top, 'durable_objects');
  const vars: Record<string, string> = {};
  // wrangler passes non-string vars as JSON values; the tests hand miniflare their text.
  for (const [k, v] of Object.entries(optionalTable(top, 'vars') ?? {})) vars[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return {
    main: string(top, 'main'),
    compatibilityDate: string(top, 'compatibility_date'),
    compatibilityFlags: strings(top, 'compatibility_flags') ?? [],
    noBundle: top.no_bundle === true,
    buildCommand: optionalString(optionalTable(top, 'build') ?? {}, 'command'),
    bindings: tables(durableObjects ?? {}, 'bindings').map((b) => ({ name: string(b, 'name'), className: string(b, 'class_name') })),
    sqliteClasses: tables(top, 'migrations').flatMap((m) => strings(m, 'new_sqlite_classes') ?? []),
    vars,
  };
}

function fail(key: string, expected: string, got: TomlValue | undefined): never {
  throw new Error(`wrangler.toml: ${key} must be ${expected} (got ${JSON.stringify(got)})`);
}

function string(t: TomlTable, key: string): string {
  const v = t[key];
  return typeof v === 'string' ? v : fail(key, 'a string', v);
}

function optionalString(t: TomlTable, key: string): string | undefined {
  return t[key] === undefined ? undefined : string(t, key);
}

function strings(t: TomlTable, key: string): string[] | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : fail(key, 'an array of strings', v);
}

function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function optionalTable(t: TomlTable, key: string): TomlTable | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  return isTable(v) ? v : fail(key, 'a table', v);
}

/** An array of tables (`[[key]]`); absent: none. */
function tables(t: TomlTable, key: string): TomlTable[] {
  const v = t[key];
  if (v === undefined) return [];
  return Array.isArray(v) && v.every(isTable) ? (v as TomlTable[]) : fail(key, 'an array of tables', v);
}
