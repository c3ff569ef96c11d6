/**
 * Streams kept in memory and logged to a file (Node only): the embedded default's stream
 * provider (`npm start`), so streams, subscriptions and cursors survive a restart beside the
 * grain state in `./.granary/`. Every change is appended to the log as one JSON line before it
 * is acknowledged; at start the log is replayed (a torn last line, from a crash mid-write, is
 * dropped: its change was never acknowledged) and compacted to what is still retained.
 */
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { memoryStreams, type MemoryStreams, type MemoryStreamsOptions, type StreamOp } from './streams.js';

export type FileStreamsOptions = Omit<MemoryStreamsOptions, 'log'>;

export async function fileStreams(path: string, options: FileStreamsOptions = {}): Promise<MemoryStreams> {
  await mkdir(dirname(path), { recursive: true });
  let handle: FileHandle | undefined;
  let tail: Promise<unknown> = Promise.resolve();
  const provider = memoryStreams({
    ...options,
    log: {
      write(op: StreamOp) {
        // One write at a time, in order: the file is the changes' order.
        const run = tail.then(async () => {
          if (handle === undefined) throw new Error(`the stream log ${path} is closed`);
          await handle.appendFile(JSON.stringify(op) + '\n');
        });
        tail = run.catch(() => undefined);
        return run;
      },
    },
  });
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    let op: StreamOp;
    try {
      op = JSON.parse(line) as StreamOp;
    } catch (err) {
      if (i >= lines.length - 2) break; // the torn last line of a crash
      throw new Error(`stream log ${path} is damaged at line ${i + 1}; move it aside to start with no streams`, { cause: err });
    }
    provider.restore(op);
  }
  // Compacted: only what is still retained, written aside and renamed over the log.
  const compacted = provider.snapshot().map((op) => JSON.stringify(op) + '\n').join('');
  const tmp = `${path}.tmp`;
  const out = await open(tmp, 'w');
  await out.writeFile(compacted);
  await out.sync();
  await out.close();
  await rename(tmp, path);
  handle = await open(path, 'a');
  const close = provider.close.bind(provider);
  return Object.assign(provider, {
    async close() {
      await close();
      await tail;
      const h = handle;
      handle = undefined;
      await h?.close();
    },
  });
}
