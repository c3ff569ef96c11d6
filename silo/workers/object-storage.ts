/**
 * Durable Object storage of other grain ids: the state of an id lives in the object named by
 * that id (`idFromName("type/key")`), read and written there by RPC. A grain's own state
 * never takes this path (it is local); what does is state one object keeps for another —
 * a transaction's commit record (`$txn/<id>`), written by the coordinator and read by
 * participants during recovery. The conditional write runs inside the owning object, so
 * the ETag semantics hold across objects.
 */
import {
  InvalidArgumentError, decode, encode, errorFromWire, parseGrainId, toGrainError,
  type GrainId, type JournalBatch, type JournalSnapshot, type JournalStorage, type LoadedJournal, type StorageProvider, type WireError,
} from '../../runtime/index.js';
import type { DurableObjectNamespaceLike, GrainObjectStub } from './cloudflare.js';
import { stubError } from './stub-router.js';

interface StorageOp {
  op: 'read' | 'write' | 'clear' | 'delete' | 'journal.load' | 'journal.readEvents' | 'journal.append' | 'journal.writeSnapshot';
  /** `"type/key"`. */
  id: string;
  name: string;
  payload?: string;
  etag?: string;
  /** The journal operation's arguments (after the id). */
  args?: unknown[];
}

type StorageReply = { k: 'ok'; value: unknown } | { k: 'err'; error: WireError };

export function remoteObjectStorage(namespace: DurableObjectNamespaceLike<GrainObjectStub>): StorageProvider {
  async function send(id: GrainId, op: StorageOp): Promise<unknown> {
    const key = `${id.type}/${id.key}`;
    let text: string;
    try {
      text = await namespace.get(namespace.idFromName(key)).storage(encode(op));
    } catch (err) {
      throw stubError(key, err);
    }
    const reply = decode(text) as StorageReply;
    if (reply.k === 'ok') return reply.value;
    throw errorFromWire(reply.error);
  }
  return {
    name: 'durable-object',
    read: (id, name) => send(id, { op: 'read', id: String(id), name }) as ReturnType<StorageProvider['read']>,
    write: (id, name, payload, etag) => send(id, { op: 'write', id: String(id), name, payload, etag }) as Promise<string>,
    clear: (id, name, etag) => send(id, { op: 'clear', id: String(id), name, etag }) as Promise<string>,
    delete: (id, name, etag) => send(id, { op: 'delete', id: String(id), name, etag }).then(() => undefined),
    // The journal of a grain lives in its own object (silo/workers/durable-journal.ts).
    journal: {
      load: (id, hint) => send(id, { op: 'journal.load', id: String(id), name: '', args: [hint] }) as Promise<LoadedJournal>,
      readEvents: (id, from, to) => send(id, { op: 'journal.readEvents', id: String(id), name: '', args: [from, to] }) as Promise<JournalBatch[]>,
      append: (id, batch) => send(id, { op: 'journal.append', id: String(id), name: '', args: [batch] }) as Promise<void>,
      writeSnapshot: (id, snap) => send(id, { op: 'journal.writeSnapshot', id: String(id), name: '', args: [snap] }) as Promise<void>,
    },
  };
}

/** Runs one storage operation sent by `remoteObjectStorage` on this object's own storage. */
export async function serveStorageOp(local: StorageProvider, payload: string): Promise<string> {
  try {
    const op = decode(payload) as Partial<StorageOp> | null;
    if (op === null || typeof op !== 'object' || typeof op.id !== 'string' || typeof op.name !== 'string') {
      throw new InvalidArgumentError('malformed storage request');
    }
    const id = parseGrainId(op.id);
    let value: unknown;
    if (op.op === 'read') value = await local.read(id, op.name);
    else if (op.op === 'write' && typeof op.payload === 'string') value = await local.write(id, op.name, op.payload, op.etag);
    else if (op.op === 'clear') value = await local.clear(id, op.name, op.etag);
    else if (op.op === 'delete' && typeof op.etag === 'string' && local.delete !== undefined) value = await local.delete(id, op.name, op.etag);
    else if (typeof op.op === 'string' && op.op.startsWith('journal.') && local.journal !== undefined && Array.isArray(op.args)) value = await journalOp(local.journal, id, op.op, op.args);
    else throw new InvalidArgumentError(`malformed storage request: ${JSON.stringify(op.op)}`);
    return encode({ k: 'ok', value } satisfies StorageReply);
  } catch (err) {
    return encode({ k: 'err', error: toGrainError(err).toWire() } satisfies StorageReply);
  }
}

/** Runs one journal operation sent by `remoteObjectStorage`'s journal. */
function journalOp(journal: JournalStorage, id: GrainId, op: string, args: unknown[]): Promise<unknown> {
  switch (op) {
    case 'journal.load': return journal.load(id, args[0] as number | undefined);
    case 'journal.readEvents': return journal.readEvents(id, args[0] as number, args[1] as number);
    case 'journal.append': return journal.append(id, args[0] as JournalBatch);
    case 'journal.writeSnapshot': return journal.writeSnapshot(id, args[0] as JournalSnapshot);
    default: throw new InvalidArgumentError(`malformed storage request: ${JSON.stringify(op)}`);
  }
}
