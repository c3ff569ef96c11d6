/**
 * JSON Schema of a method's arguments, where the schema library provides it (the Standard
 * JSON Schema converter, `~standard.jsonSchema`): what `GET /openapi.json` describes.
 */
import type { GrainType } from '../../grain-type.js';
import { schemasOf } from './feature.js';

/** Per callable method: its arguments as a JSON Schema array (`prefixItems`), or undefined when unknown. */
export function methodJsonSchemas(type: GrainType): Map<string, Record<string, unknown> | undefined> {
  const schemas = schemasOf(type);
  const out = new Map<string, Record<string, unknown> | undefined>();
  for (const method of type.methods) {
    const list = schemas[method];
    if (list === undefined) {
      out.set(method, undefined);
      continue;
    }
    const items: Record<string, unknown>[] = [];
    let known = true;
    for (const s of list) {
      const convert = s['~standard'].jsonSchema;
      if (convert === undefined) { known = false; break; }
      try {
        const { $schema: _drop, ...schema } = convert.input({ target: 'draft-2020-12' });
        items.push(schema);
      } catch {
        known = false;
        break;
      }
    }
    out.set(method, known
      ? { type: 'array', prefixItems: items, maxItems: items.length }
      : { type: 'array', maxItems: list.length });
  }
  return out;
}
