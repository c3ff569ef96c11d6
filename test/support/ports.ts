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
