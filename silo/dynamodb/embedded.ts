/**
 * `startEmbeddedDynalite` as the package exports it: dynalite.ts (Node's HTTP server, the
 * signature check, the store lock) is imported when it is called, not when `granary` is.
 */
import type { EmbeddedDynalite, EmbeddedDynaliteOptions } from './dynalite.js';

export async function startEmbeddedDynalite(options: EmbeddedDynaliteOptions): Promise<EmbeddedDynalite> {
  return (await import('./dynalite.js')).startEmbeddedDynalite(options);
}
