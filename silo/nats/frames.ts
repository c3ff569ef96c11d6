/**
 * The framing of silo-to-silo NATS messages. One NATS message carries one or more records,
 * so several calls to the same silo (and several replies to the same caller) travel
 * together: at high concurrency that is fewer messages for the server, the parser and the
 * subscription callbacks, which is what makes the cluster transport faster than a plain
 * request/reply per call.
 *
 * A record is `[u32 id][u8 kind][u32 byteLength][utf-8 text]`, big-endian. The text is the
 * codec's payload, untouched: the framing knows nothing of what the calls mean.
 */

/** Bytes a record adds around its text. */
export const RECORD_OVERHEAD = 9;

/** Kinds of request records. */
export const RequestKind = {
  /** A call for the silo's inbound handler. */
  Call: 0,
  /** "Are you there?" (membership checks before declaring a silo dead). */
  Ping: 1,
} as const;

/** Kinds of reply records. */
export const ReplyKind = {
  /** The handler's answer. */
  Ok: 0,
  /** The handler failed, or the reply could not travel; the text is a `WireError` as JSON. */
  Failed: 1,
  /** The answer to a ping. */
  Pong: 2,
} as const;

export interface OutRecord {
  id: number;
  kind: number;
  text: string;
  /** UTF-8 length of `text`, measured once when the record is queued. */
  bytes: number;
}

/** Packs records into as few frames as fit in `maxFrame` bytes each, in order. */
export function packFrames(records: readonly OutRecord[], maxFrame: number): { frame: Uint8Array; records: OutRecord[] }[] {
  const out: { frame: Uint8Array; records: OutRecord[] }[] = [];
  let start = 0;
  while (start < records.length) {
    let size = 0;
    let end = start;
    while (end < records.length) {
      const next = RECORD_OVERHEAD + records[end]!.bytes;
      if (end > start && size + next > maxFrame) break;
      size += next;
      end++;
    }
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    for (let i = start; i < end; i++) {
      const r = records[i]!;
      buf.writeUInt32BE(r.id >>> 0, off);
      buf.writeUInt8(r.kind, off + 4);
      buf.writeUInt32BE(r.bytes, off + 5);
      off += RECORD_OVERHEAD;
      if (r.bytes > 0) off += buf.write(r.text, off, r.bytes, 'utf8');
    }
    out.push({ frame: buf, records: records.slice(start, end) as OutRecord[] });
    start = end;
  }
  return out;
}

/** Calls `each(id, kind, text)` for every record of a frame; returns false if the frame is malformed. */
export function readFrame(data: Uint8Array, each: (id: number, kind: number, text: string, bytes: number) => void): boolean {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  while (off < buf.length) {
    if (off + RECORD_OVERHEAD > buf.length) return false;
    const id = buf.readUInt32BE(off);
    const kind = buf.readUInt8(off + 4);
    const len = buf.readUInt32BE(off + 5);
    off += RECORD_OVERHEAD;
    if (off + len > buf.length) return false;
    each(id, kind, len === 0 ? '' : buf.toString('utf8', off, off + len), len);
    off += len;
  }
  return true;
}

export interface InRecord {
  id: number;
  kind: number;
  text: string;
  /** UTF-8 length of `text` as it arrived. */
  bytes: number;
}

/**
 * The records of a request frame, or undefined when the frame is malformed: truncated, empty,
 * or a record of an unknown kind. A malformed frame is refused whole, before any of its
 * records runs.
 */
export function parseRequestFrame(data: Uint8Array): InRecord[] | undefined {
  if (data.byteLength === 0) return undefined;
  const out: InRecord[] = [];
  const ok = readFrame(data, (id, kind, text, bytes) => {
    out.push({ id, kind, text, bytes });
  });
  if (!ok) return undefined;
  for (const r of out) {
    if (r.kind !== RequestKind.Call && r.kind !== RequestKind.Ping) return undefined;
  }
  return out;
}

export function record(id: number, kind: number, text: string): OutRecord {
  return { id, kind, text, bytes: text.length === 0 ? 0 : Buffer.byteLength(text, 'utf8') };
}
