/**
 * The table layout. One item per grain state, keyed `pk = "type/key#stateName"`:
 *
 * | attribute  | type | meaning |
 * | ---------- | ---- | ------- |
 * | `pk`       | S    | `type/key#stateName` (the only key) |
 * | `version`  | N    | 1, 2, 3 … — every write and clear adds one; the ETag is its decimal text |
 * | `writeId`  | S    | random id of the write that made this version (recognises our own retried write) |
 * | `payload`  | S    | the state's codec text, when stored as is |
 * | `payloadZ` | B    | the text deflate-compressed (raw deflate of its UTF-8) |
 * | `chunks`   | N    | the (possibly compressed) bytes live in this many chunk items … |
 * | `chunkSet` | S    | … keyed `pk@chunkSet/i`, `i` = 0 … chunks-1, each holding `data` (B) |
 * | `zipped`   | BOOL | the chunked bytes are deflate-compressed |
 * | `updatedAt`| N    | epoch ms of the write (for operators); on chunk items, when they were written (the orphan sweep's age) |
 *
 * A cleared state is a tombstone: `pk`, `version`, `writeId`, `updatedAt` and no payload, so
 * versions never repeat (no ABA). A chunk set is written before the conditional write of the
 * head item that names it and is never modified, so a head always names complete chunks.
 */
import { InvalidArgumentError, type GrainId } from '../../runtime/index.js';

export const A = {
  pk: 'pk',
  version: 'version',
  writeId: 'writeId',
  payload: 'payload',
  payloadZ: 'payloadZ',
  chunks: 'chunks',
  chunkSet: 'chunkSet',
  zipped: 'zipped',
  updatedAt: 'updatedAt',
  data: 'data',
} as const;

/** DynamoDB's item limit is 400 KB including names and key; keep well under it. */
export const MAX_INLINE_BYTES = 350_000;
export const CHUNK_BYTES = 350_000;

/** The partition key of a grain's state item. */
export function itemKey(id: GrainId, stateName: string): string {
  // '#' separates the state name, so a state name must not contain it: otherwise two
  // different (key, stateName) pairs could name the same item.
  if (stateName.includes('#')) {
    throw new InvalidArgumentError(`state name ${JSON.stringify(stateName)} of ${id.type}/${id.key} contains "#", which the DynamoDB storage uses as a separator; pick another name`);
  }
  const pk = `${id.type}/${id.key}#${stateName}`;
  // DynamoDB counts a key in UTF-8 bytes; dynalite counts characters, so it would take a key
  // of 1,024 × "é" (2,048 characters, over 2,048 bytes) that DynamoDB refuses: check here.
  const bytes = Buffer.byteLength(pk, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(
      `grain ${id.type}/${id.key.length > 64 ? `${id.key.slice(0, 64)}…` : id.key} with state "${stateName}" makes a DynamoDB key of ${bytes} bytes ("type/key#stateName" in UTF-8), more than the ${MAX_KEY_BYTES} DynamoDB allows; use a shorter key (e.g. a hash of it)`,
      { data: { grain: `${id.type}/${id.key}`, stateName, bytes, limit: MAX_KEY_BYTES } },
    );
  }
  return pk;
}

/** DynamoDB's limit on a partition key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 2_048;

/** The partition key of chunk `i` of a chunk set. */
export function chunkKey(pk: string, chunkSet: string, i: number): string {
  return `${pk}@${chunkSet}/${i}`;
}

/**
 * The head key and chunk set of a chunk item's key, or undefined when `pk` is not shaped like
 * one (`<head pk>@<set>/<i>`; the set is a UUID, so the last `@` splits it off).
 */
export function parseChunkKey(pk: string): { head: string; set: string; index: number } | undefined {
  const m = /^(.+#[^#]*)@([0-9a-f-]{36})\/(\d+)$/.exec(pk);
  return m === null ? undefined : { head: m[1]!, set: m[2]!, index: Number(m[3]) };
}

/** `"type/key"` for messages. */
export function grainName(id: GrainId): string {
  return `${id.type}/${id.key}`;
}
