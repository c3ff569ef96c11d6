/**
 * How a state's codec text becomes item attributes: as is (small states, the common case,
 * no extra CPU), deflate-compressed above a threshold (DynamoDB bills and limits by size),
 * and split over chunk items when even the compressed bytes exceed one item.
 */
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { constants, deflateRaw, inflateRaw } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { InvalidArgumentError, type GrainId } from '../../runtime/index.js';
import { A, CHUNK_BYTES, MAX_INLINE_BYTES, grainName } from './layout.js';
import type { ResolvedOptions } from './options.js';

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);
/** Fast compression: state texts are JSON and shrink several-fold even at level 1. */
const DEFLATE_OPTIONS = { level: constants.Z_BEST_SPEED };

export interface EncodedPayload {
  /** Attributes for the head item (besides key, version, writeId, updatedAt). */
  attrs: Record<string, AttributeValue>;
  /** When the bytes are chunked: the chunk set's id and its parts, to write first. */
  chunks?: ChunkSet;
}

export interface ChunkSet {
  set: string;
  parts: Uint8Array[];
}

/** Where a stored payload lives, as read from a head item. */
export type StoredPayload =
  | { kind: 'none' }
  | { kind: 'text'; text: string }
  | { kind: 'zipped'; bytes: Uint8Array }
  | { kind: 'chunked'; set: string; count: number; zipped: boolean };

export async function encodePayload(text: string, o: ResolvedOptions, id: GrainId, stateName: string): Promise<EncodedPayload> {
  // Fast path: a UTF-8 byte is at most 3 per UTF-16 unit, so short texts need no measuring
  // (short against every limit: a maxStateBytes below compressAboveBytes must still refuse).
  const most = text.length * 3;
  if (most <= o.compressAboveBytes && most <= MAX_INLINE_BYTES && most <= o.maxStateBytes) {
    return { attrs: { [A.payload]: { S: text } } };
  }
  const size = Buffer.byteLength(text, 'utf8');
  if (size > o.maxStateBytes) {
    throw new InvalidArgumentError(
      `state "${stateName}" of ${grainName(id)} is ${formatBytes(size)} (${size} bytes of codec text), more than this storage accepts (maxStateBytes ${formatBytes(o.maxStateBytes)}); keep large blobs elsewhere (e.g. S3) and store a reference in the state`,
      { data: { grain: grainName(id), stateName, bytes: size, limit: o.maxStateBytes } },
    );
  }
  if (size <= o.compressAboveBytes && size <= MAX_INLINE_BYTES) return { attrs: { [A.payload]: { S: text } } };
  const raw = Buffer.from(text, 'utf8');
  let bytes: Uint8Array = raw;
  let zipped = false;
  if (size > o.compressAboveBytes) {
    const z = await deflate(raw, DEFLATE_OPTIONS);
    // Incompressible text (e.g. base64 of random bytes) is kept as is: no inflate on every read.
    if (z.length < size * 0.9) {
      bytes = z;
      zipped = true;
    }
  }
  if (bytes.length <= MAX_INLINE_BYTES) {
    return { attrs: zipped ? { [A.payloadZ]: { B: bytes } } : { [A.payload]: { S: text } } };
  }
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) parts.push(bytes.subarray(at, at + CHUNK_BYTES));
  const set = randomUUID();
  return {
    attrs: { [A.chunks]: { N: String(parts.length) }, [A.chunkSet]: { S: set }, [A.zipped]: { BOOL: zipped } },
    chunks: { set, parts },
  };
}

/** Where the payload of a head item is. */
export function storedPayload(item: Record<string, AttributeValue>): StoredPayload {
  const text = item[A.payload]?.S;
  if (text !== undefined) return { kind: 'text', text };
  const z = item[A.payloadZ]?.B;
  if (z !== undefined) return { kind: 'zipped', bytes: z };
  const count = item[A.chunks]?.N;
  const set = item[A.chunkSet]?.S;
  if (count !== undefined && set !== undefined) return { kind: 'chunked', set, count: Number(count), zipped: item[A.zipped]?.BOOL === true };
  return { kind: 'none' };
}

/** The text of compressed or chunked bytes. */
export async function textOf(bytes: Uint8Array, zipped: boolean): Promise<string> {
  const raw = zipped ? await inflate(bytes) : bytes;
  return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
