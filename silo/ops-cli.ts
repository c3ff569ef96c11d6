/**
 * The operator commands of `npx granary`, against a silo's gateway over HTTP:
 *
 *   granary silos                                  the cluster's silos, status, activations
 *   granary grains [--type T] [--limit N] [--cursor C]   active grains, a page at a time
 *   granary grain <Type>/<key>                     whether a grain is active, and where
 *   granary call <Type>/<key> <method> [json args…]      calls a grain, prints the result
 *   granary deactivate <Type>/<key>                deactivates a grain wherever it is
 *   granary tail <namespace>/<key> [--from N]      follows a stream, one JSON line per item
 *
 * Every command takes --url (default http://127.0.0.1:8080, or $GRANARY_URL) and --token
 * (or $GRANARY_TOKEN), and --help. Output is JSON on stdout. Exit codes: 0 done; 1 the
 * gateway answered an error (its code and message on stderr, as JSON); 2 bad usage; 3 the
 * gateway could not be reached.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const OPS_COMMANDS = ['silos', 'grains', 'grain', 'call', 'deactivate', 'tail'] as const;
export type OpsCommand = (typeof OPS_COMMANDS)[number];

const COMMON = `  --url URL      the gateway (default $GRANARY_URL, else http://127.0.0.1:8080)
  --token TOKEN  its bearer token (default $GRANARY_TOKEN)
  --help         this text`;

const HELP: Record<OpsCommand, string> = {
  silos: `usage: granary silos [--url URL] [--token TOKEN]
  lists the cluster's silos: {"silos": [{"id", "status", "activations", "activationsByType", …}]}`,
  grains: `usage: granary grains [--type T] [--limit N] [--cursor C] [--url URL] [--token TOKEN]
  lists active grains across the cluster, ordered by type and key, N (default 100, at most
  1000) at a time: {"grains": [{"type", "key", "silo"}], "next"?}; pass "next" as --cursor
  --type T       only grains of type T
  --limit N      page size
  --cursor C     continue after C (the "next" of the previous page)`,
  grain: `usage: granary grain <Type>/<key> [--url URL] [--token TOKEN]
  whether the grain is active, and on which silo: {"type", "key", "active", "silo"?}`,
  call: `usage: granary call <Type>/<key> <method> [json args…] [--url URL] [--token TOKEN]
  calls the grain method with the arguments (each a JSON value; a word that is not JSON is
  taken as a string) and prints the result as JSON; on failure prints the error and exits 1
  e.g.  granary call Counter/alice add 5`,
  deactivate: `usage: granary deactivate <Type>/<key> [--url URL] [--token TOKEN]
  deactivates the grain on the silo that hosts it (its state stays stored):
  {"type", "key", "active", "silo"?, "deactivated"}`,
  tail: `usage: granary tail <namespace>/<key> [--from N] [--url URL] [--token TOKEN]
  follows the stream and prints each item as one JSON line {"seq", "item"} until interrupted
  --from N       start at sequence number N (default: new items only)`,
};

export class OpsUsageError extends Error {}

interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  fetch: typeof fetch;
}

const defaultIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
  fetch: (...a) => globalThis.fetch(...a),
};

/** Splits `Type/key` (the key may contain more slashes). */
function target(arg: string | undefined, what: string): { type: string; key: string } {
  const slash = arg?.indexOf('/') ?? -1;
  if (arg === undefined || slash < 1 || slash === arg.length - 1) throw new OpsUsageError(`expected ${what} as <Type>/<key>, got ${arg === undefined ? 'nothing' : JSON.stringify(arg)}`);
  return { type: arg.slice(0, slash), key: arg.slice(slash + 1) };
}

function jsonArg(text: string): unknown {
  try { return JSON.parse(text); } catch { return text; }
}

const seg = encodeURIComponent;

/** Runs one operator command; resolves to the exit code. */
export async function runOpsCommand(command: OpsCommand, argv: string[], io: Io = defaultIo): Promise<number> {
  const options: ParseArgsConfig['options'] = { url: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' } };
  if (command === 'grains') Object.assign(options, { type: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } });
  if (command === 'tail') Object.assign(options, { from: { type: 'string' } });
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new OpsUsageError(`${(err as Error).message}\n\n${HELP[command]}\n${COMMON}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const positionals = parsed.positionals;
  if (values.help) { io.out(`${HELP[command]}\n${COMMON}\n`); return 0; }
  const base = String(values.url ?? io.env.GRANARY_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = (values.token ?? io.env.GRANARY_TOKEN) as string | undefined;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const usage = (msg: string) => new OpsUsageError(`${msg}\n\n${HELP[command]}\n${COMMON}`);
  const expectArgs = (min: number, max: number) => {
    if (positionals.length < min || positionals.length > max) throw usage(`${command} takes ${min === max ? min : `${min} to ${max === Infinity ? 'any number of' : max}`} argument${max === 1 ? '' : 's'}, got ${positionals.length}`);
  };

  let path: string;
  let init: RequestInit = { headers };
  switch (command) {
    case 'silos':
      expectArgs(0, 0);
      path = '/admin/silos';
      break;
    case 'grains': {
      expectArgs(0, 0);
      const q = new URLSearchParams();
      if (values.type) q.set('type', String(values.type));
      if (values.limit !== undefined) q.set('limit', String(values.limit));
      if (values.cursor) q.set('cursor', String(values.cursor));
      path = `/admin/grains${q.size > 0 ? `?${q}` : ''}`;
      break;
    }
    case 'grain': {
      expectArgs(1, 1);
      const t = target(positionals[0], 'the grain');
      path = `/admin/grains/${seg(t.type)}/${seg(t.key)}`;
      break;
    }
    case 'deactivate': {
      expectArgs(1, 1);
      const t = target(positionals[0], 'the grain');
      path = `/admin/grains/${seg(t.type)}/${seg(t.key)}/deactivate`;
      init = { method: 'POST', headers };
      break;
    }
    case 'call': {
      expectArgs(2, Infinity);
      const t = target(positionals[0], 'the grain');
      path = `/grains/${seg(t.type)}/${seg(t.key)}/${seg(positionals[1]!)}`;
      init = { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ args: positionals.slice(2).map(jsonArg) }) };
      break;
    }
    case 'tail': {
      expectArgs(1, 1);
      const t = target(positionals[0], 'the stream');
      const from = values.from === undefined ? '' : `?from=${seg(String(values.from))}`;
      path = `/streams/${seg(t.type)}/${seg(t.key)}${from}`;
      init = { headers: { ...headers, accept: 'text/event-stream' } };
      break;
    }
  }

  let res: Response;
  try {
    res = await io.fetch(base + path, init);
  } catch (err) {
    io.err(`granary: cannot reach the gateway at ${base}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}\n`);
    return 3;
  }
  if (!res.ok) {
    const text = await res.text();
    let error: { code?: string; message?: string } = {};
    try { error = (JSON.parse(text) as { error?: typeof error }).error ?? {}; } catch { /* not JSON: shown as text */ }
    io.err(JSON.stringify({ error: { code: error.code ?? `http_${res.status}`, message: error.message ?? text.slice(0, 500), status: res.status } }) + '\n');
    return 1;
  }
  if (command === 'tail') return tail(res, io);
  const body = (await res.json()) as Record<string, unknown>;
  io.out(JSON.stringify(command === 'call' ? body.result ?? null : body, null, 2) + '\n');
  return 0;
}

/** Prints each server-sent event as `{"seq", "item"}` until the stream ends. */
async function tail(res: Response, io: Io): Promise<number> {
  const decoder = new TextDecoder();
  let buffer = '';
  let id: string | undefined;
  let data: string[] = [];
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length > 0) io.out(JSON.stringify({ seq: id === undefined ? null : Number(id), item: jsonArg(data.join('\n')) }) + '\n');
        id = undefined;
        data = [];
      } else if (line.startsWith('id:')) id = line.slice(3).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
  return 0;
}
