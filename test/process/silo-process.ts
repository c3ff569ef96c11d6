/**
 * Runs the container entry point as a real process: exactly the Dockerfile's CMD, from the
 * repository root, with a clean environment plus the test's variables.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The exec-form CMD of deploy/Dockerfile, e.g. ["node", "dist/silo/main.js"]. */
export function dockerfileCommand(): string[] {
  const text = readFileSync(join(REPO, 'deploy', 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => /^CMD\s/.test(l));
  if (lines.length !== 1) throw new Error(`expected exactly one CMD in deploy/Dockerfile, found ${lines.length}`);
  return JSON.parse(lines[0]!.replace(/^CMD\s+/, '')) as string[];
}

export interface LogLine { level: string; msg: string; [k: string]: unknown }

export interface SiloProcess {
  child: ChildProcess;
  /** Every stdout line, parsed (a line that is not JSON fails `nonJson`). */
  logs: LogLine[];
  nonJson: string[];
  stderr: string;
  port: number;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and resolves with the exit code and the time it took. */
  signal(sig: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/** The environment without any GRANARY_* / AWS_* of the machine, plus `env`. */
export function cleanEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('GRANARY_') && !k.startsWith('AWS_')) base[k] = v;
  }
  return { ...base, GRANARY_HOST: '127.0.0.1', GRANARY_PORT: '0', ...env };
}

/** Spawns the entry point; with `waitReady`, resolves once it logged "silo ready". */
export async function spawnSilo(env: Record<string, string>, options: { waitReady?: boolean; timeoutMs?: number } = {}): Promise<SiloProcess> {
  const [cmd, ...args] = dockerfileCommand();
  const child = spawn(cmd!, args, { cwd: REPO, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  const nonJson: string[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  const proc: SiloProcess = {
    child,
    logs,
    nonJson,
    stderr: '',
    port: 0,
    url: '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    waitForLog(pred, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs.find(pred);
          if (hit) { cleanup(); resolve(hit); }
        };
        const timer = setTimeout(() => { cleanup(); reject(new Error(`no matching log line within ${timeoutMs} ms; logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${proc.stderr}`)); }, timeoutMs);
        const onExit = () => { setTimeout(() => { if (waiters.has(check)) { cleanup(); reject(new Error(`the silo exited before the log line; logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${proc.stderr}`)); } }, 50); };
        const cleanup = () => { clearTimeout(timer); waiters.delete(check); child.off('exit', onExit); };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async signal(sig) {
      const t0 = Date.now();
      child.kill(sig);
      const { code } = await proc.exited;
      return { code, ms: Date.now() - t0 };
    },
  };
  child.stdout!.on('data', (b: Buffer) => {
    buffered += b.toString();
    let i: number;
    while ((i = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      if (line.trim() === '') continue;
      try { logs.push(JSON.parse(line) as LogLine); } catch { nonJson.push(line); }
    }
    for (const w of [...waiters]) w();
  });
  child.stderr!.on('data', (b: Buffer) => { proc.stderr += b.toString(); });
  if (options.waitReady ?? true) {
    const ready = await proc.waitForLog((l) => l.msg === 'silo ready', options.timeoutMs);
    proc.port = ready.port as number;
    proc.url = `http://127.0.0.1:${proc.port}`;
  }
  return proc;
}

/** POST a grain call with plain JSON; resolves to status and parsed body. */
export async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}
