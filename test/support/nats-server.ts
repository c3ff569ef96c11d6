/**
 * Starts the machine's own `nats-server` for a test: a port on 127.0.0.1 that the server picks
 * itself (`-p -1`, read back from its log, so no other process can take it first), JetStream on,
 * its store in a temp dir, optionally a config file (auth). Never the machine's instance on
 * 4222. `restart()` keeps the port and the store (an outage); `restartEmpty()` keeps the port
 * and loses the store; `stop()` removes both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
export { freePort };

const CANDIDATES = [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** The nats-server binary, or a clear failure naming the package to install. */
export function natsServerBinary(): string {
  for (const c of CANDIDATES) if (c && existsSync(c)) return c;
  throw new Error(
    'nats-server binary not found (looked in /usr/sbin, /usr/bin, /usr/local/bin, $NATS_SERVER_BIN). ' +
      'Install the Debian package "nats-server" (apt-get install nats-server) to run the NATS tests.',
  );
}


export interface NatsServerOptions {
  /** Extra config text (e.g. an `authorization { ... }` block); written to a config file. */
  config?: string;
  /** `max_payload` in bytes (default: the server's 1 MB). */
  maxPayload?: number;
  /** JetStream on (default true); off only to test the error for a server without it. */
  jetstream?: boolean;
  /** Environment of the server process, added to this one's (variables the config refers to). */
  env?: Record<string, string>;
  /** More command-line arguments (e.g. `--cluster`, `--routes`, as deploy/compose.yaml passes them). */
  args?: string[];
}

export class NatsServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly dir: string;
  private readonly configFile: string | undefined;
  /** What the server wrote (for failure messages). */
  output = '';

  private readonly jetstream: boolean;
  private readonly env: Record<string, string> | undefined;
  private readonly args: string[];

  /** -1 until the server has picked its port at the first start; kept across restarts. */
  private picked = -1;

  private constructor(options: NatsServerOptions) {
    this.jetstream = options.jetstream ?? true;
    this.env = options.env;
    this.args = options.args ?? [];
    this.dir = mkdtempSync(join(tmpdir(), 'granary-nats-'));
    const lines: string[] = [];
    if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
    if (options.config !== undefined) lines.push(options.config);
    if (lines.length > 0) {
      this.configFile = join(this.dir, 'server.conf');
      writeFileSync(this.configFile, lines.join('\n') + '\n');
    }
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    natsServerBinary();
    const server = new NatsServer(options);
    await server.launch();
    return server;
  }

  /** The client port. */
  get port(): number {
    return this.picked;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  private async launch(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.picked)];
    if (this.jetstream) args.push('-js', '-sd', join(this.dir, 'store'));
    if (this.configFile) args.push('-c', this.configFile);
    args.push(...this.args);
    const child = spawn(natsServerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.env && { ...process.env, ...this.env } });
    this.child = child;
    const collect = (b: Buffer) => { this.output = (this.output + b.toString()).slice(-20_000); };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => { if (this.child === child) this.child = undefined; });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.child !== child) throw new Error(`nats-server exited at start:\n${this.output}`);
      // JetStream is ready once the server says so; the port answering alone is not enough.
      const listening = /Listening for client connections on [^\s]*:(\d+)/.exec(this.output);
      if (listening && this.picked === -1) this.picked = Number(listening[1]);
      if (/Server is ready/.test(this.output) && this.picked !== -1 && (await canConnect(this.port))) return;
      if (Date.now() > deadline) throw new Error(`nats-server did not become ready on port ${this.port}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Kills the server (SIGKILL by default: a crash) and keeps its store. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
  }

  /** Kills the server, then starts it again on the same port with the same store. */
  async restart(downMs = 0, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.kill(signal);
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    this.output = '';
    await this.launch();
  }

  /**
   * Kills the server and starts it again on the same port with an empty store: whatever
   * JetStream held (the KV buckets) is gone, as after losing the server's disk.
   */
  async restartEmpty(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.kill(signal);
    rmSync(join(this.dir, 'store'), { recursive: true, force: true });
    this.output = '';
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
