import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now (the OS picks it). It is released before the caller
 * uses it, so another process can take it in between: start servers on port 0 where they
 * can report the port they got, and otherwise start them through `onFreePort`, which tries
 * again on another port when that happened.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A server could not start because its port was taken (code `EADDRINUSE`, like Node's own error). */
export class PortTakenError extends Error {
  readonly code = 'EADDRINUSE';
  constructor(readonly port: number, detail: string) {
    super(`port ${port} was taken before the server could bind it: ${detail}`);
    this.name = 'PortTakenError';
  }
}

/** Whether `err` (or its cause) says the port was already in use. */
export function isPortTaken(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 'EADDRINUSE') return true;
    if (typeof e.message === 'string' && /EADDRINUSE|address already in use/i.test(e.message)) return true;
  }
  return false;
}

/**
 * Runs `start` on a free port; when the port turns out taken (`isPortTaken`), again on a
 * fresh one, at most `attempts` times in all. Any other failure is thrown at once.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (!isPortTaken(err) || attempt >= attempts) throw err;
    }
  }
}

/**
 * Who listens on TCP `port` (any local address), as Linux's /proc tells: `pid`'s own socket,
 * another process's, nobody, or `unknown` where /proc cannot tell. For servers that can
 * neither bind port 0 nor exit when their port is taken (DynamoDB Local's JVM then stays up
 * and silent), so that a start does not mistake another server on that port for its own.
 */
export function listenerOf(port: number, pid: number): 'mine' | 'other' | 'none' | 'unknown' {
  let inodes: Set<string>;
  try {
    inodes = new Set();
    const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && f[1]!.endsWith(hexPort) && f[3] === '0A') inodes.add(f[9]!);
      }
    }
  } catch {
    return 'unknown';
  }
  if (inodes.size === 0) return 'none';
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(safeReadlink(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1]!)) return 'mine';
    }
  } catch {
    return 'unknown';
  }
  return 'other';
}

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}
