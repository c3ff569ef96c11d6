/**
 * Argument schemas (API.md "Argument schemas"): `static schemas = { add: [z.number().int()] }`,
 * one Standard Schema per argument. A type that declares them gets an incoming call filter
 * (runtime/features.ts) that validates the arguments before the method runs, from every
 * caller, and hands the method the validated (possibly transformed) values.
 */
import { InvalidArgumentError } from '../../errors.js';
import { registerGrainTypeFeature } from '../../features.js';
import type { CallFilter } from '../../filters.js';
import type { GrainType } from '../../grain-type.js';
import { isStandardSchema, type StandardIssue, type StandardSchemaV1 } from './standard-schema.js';

declare module '../../grain-type.js' {
  interface GrainStatics {
    /** Per method, one Standard Schema per argument; methods absent here are not checked. */
    schemas?: Readonly<Record<string, readonly StandardSchemaV1[]>>;
  }
}

/** One problem with a call's arguments: `path[0]` is the argument's index. */
export interface ArgumentIssue {
  path: (string | number)[];
  message: string;
}

/** The schemas a class declares, checked against its callable methods. */
export function schemasOf(type: GrainType): Readonly<Record<string, readonly StandardSchemaV1[]>> {
  const schemas = type.cls.schemas ?? {};
  if (schemas === null || typeof schemas !== 'object') throw new TypeError(`${type.name}.schemas must be an object: { method: [schema, …] }`);
  for (const [m, list] of Object.entries(schemas)) {
    if (!type.methods.has(m)) throw new TypeError(`${type.name}.schemas names "${m}", which is not a callable method of ${type.name}`);
    if (!Array.isArray(list) || !list.every(isStandardSchema)) {
      throw new TypeError(`${type.name}.schemas.${m} must be an array with one Standard Schema (zod, valibot, arktype, …) per argument`);
    }
  }
  return schemas;
}

function pathOf(index: number, issue: StandardIssue): (string | number)[] {
  const path: (string | number)[] = [index];
  for (const p of issue.path ?? []) {
    const k = typeof p === 'object' && p !== null ? p.key : p;
    path.push(typeof k === 'number' ? k : String(k));
  }
  return path;
}

function refuse(type: GrainType, method: string, issues: ArgumentIssue[]): InvalidArgumentError {
  const list = issues.map((i) => `${i.path.length > 1 ? `argument ${i.path[0]} at ${i.path.slice(1).join('.')}` : `argument ${i.path[0]}`}: ${i.message}`);
  return new InvalidArgumentError(`${type.name}.${method} was called with invalid arguments: ${list.join('; ')}`, {
    code: 'invalid_argument',
    data: { issues },
  });
}

/**
 * Validates `args` against `schemas`: the validated values, or `InvalidArgumentError`. Synchronous
 * when every schema validates synchronously (zod, valibot and arktype do for plain schemas), so
 * the common call pays no extra promise or microtask; a Promise only when a schema returned one.
 */
export function checkArguments(type: GrainType, method: string, schemas: readonly StandardSchemaV1[], args: unknown[]): unknown[] | Promise<unknown[]> {
  if (args.length > schemas.length) {
    throw refuse(type, method, [{ path: [schemas.length], message: `${type.name}.${method} takes at most ${schemas.length} argument(s); got ${args.length}` }]);
  }
  const results = new Array<StandardResult>(schemas.length);
  let pending: Promise<unknown>[] | undefined;
  for (let i = 0; i < schemas.length; i++) {
    const result = schemas[i]!['~standard'].validate(args[i]);
    if (result instanceof Promise) {
      (pending ??= []).push(result.then((r: StandardResult) => { results[i] = r; }));
    } else {
      results[i] = result;
    }
  }
  if (pending === undefined) return collect(type, method, args, results);
  return Promise.all(pending).then(() => collect(type, method, args, results));
}

/** Validates `args` against `schemas`; resolves to the validated values or rejects with `InvalidArgumentError`. */
export async function validateArguments(type: GrainType, method: string, schemas: readonly StandardSchemaV1[], args: unknown[]): Promise<unknown[]> {
  return checkArguments(type, method, schemas, args);
}

type StandardResult = { readonly value?: unknown; readonly issues?: readonly StandardIssue[] };

function collect(type: GrainType, method: string, args: unknown[], results: readonly StandardResult[]): unknown[] {
  let issues: ArgumentIssue[] | undefined;
  const out = new Array<unknown>(results.length);
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    if (r.issues !== undefined) {
      for (const issue of r.issues) (issues ??= []).push({ path: pathOf(i, issue), message: issue.message });
    } else {
      out[i] = r.value;
    }
  }
  if (issues !== undefined) throw refuse(type, method, issues);
  // Trailing optional arguments the caller left out stay out (the method's defaults apply).
  out.length = Math.max(args.length, lastDefined(out) + 1);
  return out;
}

function lastDefined(values: unknown[]): number {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== undefined) return i;
  return -1;
}

function schemaFilter(type: GrainType): CallFilter | undefined {
  const schemas = schemasOf(type);
  if (Object.keys(schemas).length === 0) return undefined;
  const has = Object.prototype.hasOwnProperty;
  // Not an async function: a call whose schemas validate synchronously goes straight on to
  // `next()` (a refusal still rejects: runFilters turns a throw into a rejection).
  return (call, next) => {
    if (!has.call(schemas, call.method)) return next();
    const checked = checkArguments(type, call.method, schemas[call.method]!, call.args);
    if (checked instanceof Promise) return checked.then((args) => { call.args = args; return next(); });
    call.args = checked;
    return next();
  };
}

registerGrainTypeFeature({
  name: 'schemas',
  describe(type) {
    const filter = schemaFilter(type);
    return filter === undefined ? undefined : () => filter;
  },
});
