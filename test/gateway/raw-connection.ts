/**
 * One TCP connection to a gateway, written byte by byte as the test says (duplicate headers,
 * a body that trickles, a request held open), and read as it comes. Tests wait on what it
 * received or on its closing, never on time.
 */
import net from 'node:net';

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class RawConnection {
  received = '';
  /** Set when the connection was closed (by either side), with the error if it broke. */
  readonly closed: Promise<{ error: NodeJS.ErrnoException | undefined }>;
  private readonly waiters = new Set<() => void>();
  private isClosed = false;

  private constructor(readonly socket: net.Socket) {
    let error: NodeJS.ErrnoException | undefined;
    socket.on('data', (d: Buffer) => {
      this.received += d.toString('latin1');
      for (const w of [...this.waiters]) w();
    });
    socket.on('error', (err) => { error = err; });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true;
      for (const w of [...this.waiters]) w();
      resolve({ error });
    }));
  }

  /** Connects (from `localAddress`, e.g. 127.0.0.2, when given). */
  static open(port: number, localAddress?: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** Resolves once what was received satisfies `pred`; rejects if the connection closes first. */
  waitFor(pred: (received: string) => boolean, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pred(this.received)) { this.waiters.delete(check); resolve(this.received); }
        else if (this.isClosed) { this.waiters.delete(check); reject(new Error(`connection closed before ${what}; received ${JSON.stringify(this.received)}`)); }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The first complete response (by content-length). */
  async response(): Promise<ParsedResponse> {
    const text = await this.waitFor((r) => completeResponse(r) !== undefined, 'a whole response');
    return completeResponse(text)!;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A connection holding a request the server has taken (it answered `100 Continue` to the
 * whole head) whose body is not sent yet. A connection the server refused (a cap still
 * counting one that just closed) closes instead: tried again, a bounded number of times.
 */
export async function holdRequest(port: number, head: string): Promise<RawConnection> {
  for (let attempt = 1; ; attempt++) {
    const c = await RawConnection.open(port);
    c.write(head);
    try {
      await c.waitFor((r) => r.startsWith('HTTP/1.1 100 Continue'), '100 Continue');
      return c;
    } catch (err) {
      if (attempt >= 50) throw err;
    }
  }
}

/** A request's head: request line, then the headers in order (duplicates allowed). */
export function requestHead(method: string, path: string, headers: [string, string | number][]): string {
  return `${method} ${path} HTTP/1.1\r\nhost: gateway.test\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** A whole POST with a JSON body. */
export function jsonPost(path: string, body: string, headers: [string, string][] = []): string {
  return requestHead('POST', path, [['content-type', 'application/json'], ['content-length', Buffer.byteLength(body)], ...headers]) + body;
}

function completeResponse(text: string): ParsedResponse | undefined {
  // Skip interim responses (100 Continue).
  let rest = text;
  while (/^HTTP\/1\.1 1\d\d /.test(rest)) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    rest = rest.slice(end + 4);
  }
  const end = rest.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = headers['transfer-encoding'] === 'chunked' ? dechunk(rest.slice(end + 4)) : sized(rest.slice(end + 4), Number(headers['content-length'] ?? 0));
  if (body === undefined) return undefined;
  let json: unknown;
  try { json = JSON.parse(Buffer.from(body, 'latin1').toString('utf8')); } catch { json = undefined; }
  return { status: Number(statusLine!.split(' ')[1]), headers, json };
}

function sized(body: string, length: number): string | undefined {
  return body.length < length ? undefined : body.slice(0, length);
}

/** A chunked body once its last chunk arrived. */
function dechunk(body: string): string | undefined {
  let out = '';
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(body.slice(at, lineEnd), 16);
    if (size === 0) return out;
    if (body.length < lineEnd + 2 + size + 2) return undefined;
    out += body.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}
