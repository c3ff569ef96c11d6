/** Shared pieces of the gateway tests: raw HTTP, and a storage that counts what changes. */
import http from 'node:http';
import { memoryStorage, type StorageProvider } from 'granary';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * One HTTP request exactly as given (path not normalised, any method, optional chunked body,
 * optional local address to connect from), which `fetch` would not always send.
 */
export function raw(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string | number>; body?: string | Buffer; chunks?: (string | Buffer)[]; localAddress?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: options.headers, agent: false, localAddress: options.localAddress }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.chunks) {
      for (const c of options.chunks) req.write(c);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

/** POST a grain call with a JSON body. */
export function call(port: number, path: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return raw(port, 'POST', path, { headers: { 'content-type': 'application/json', ...headers }, body: text });
}

/** Memory storage that counts the writes and clears that reach it. */
export function countedStorage(): StorageProvider & { writes: number; clears: number; failReadsFor?: string } {
  const inner = memoryStorage();
  const s = {
    name: 'counted-memory',
    writes: 0,
    clears: 0,
    failReadsFor: undefined as string | undefined,
    read: (id: Parameters<StorageProvider['read']>[0], name: string) => {
      if (s.failReadsFor !== undefined && id.key === s.failReadsFor) return Promise.reject(new Error(`storage is down for ${String(id)}`));
      return inner.read(id, name);
    },
    write: (...a: Parameters<StorageProvider['write']>) => { s.writes++; return inner.write(...a); },
    clear: (...a: Parameters<StorageProvider['clear']>) => { s.clears++; return inner.clear(...a); },
  };
  return s;
}
