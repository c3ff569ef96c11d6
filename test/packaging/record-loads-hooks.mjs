/** The loader hooks of record-loads.mjs (they run on the loader's own thread). */
import { appendFileSync } from 'node:fs';

let file;

export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  // Written before the module loads, so the record is complete when the import settles.
  if (file) appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
