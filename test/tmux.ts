// A real terminal for tests: a program run in a detached tmux session of a given size, driven with
// send-keys and read with capture-pane (the screen and its scrollback). Each session has its own tmux
// server (its own socket), killed by kill() or killAllTerminals(). tmux is required, never skipped: the
// project's set-up installs it (.ci/run).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './helpers.js';

const TMUX = process.env.EPCHAT_TMUX ?? 'tmux';

let counter = 0;
const live = new Set<Terminal>();

function run(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(TMUX, args, { env: env ?? process.env, timeout: 10_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(`${TMUX} is not installed: the terminal tests need it (apt-get install tmux; .ci/run installs it)`));
      } else if (err) {
        reject(new Error(`tmux ${args.join(' ')}: ${stderr.trim() || err.message}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface TerminalOptions {
  columns?: number;
  rows?: number;
  env?: NodeJS.ProcessEnv;
}

export class Terminal {
  readonly #socket: string;
  readonly #dir: string;
  #killed = false;

  private constructor(socket: string, dir: string) {
    this.#socket = socket;
    this.#dir = dir;
  }

  /** Runs `argv` in a new terminal of `columns` × `rows` (default 40 × 15). */
  static async start(argv: readonly string[], opts: TerminalOptions = {}): Promise<Terminal> {
    const dir = mkdtempSync(join(tmpdir(), 'epchat-tmux-'));
    // remain-on-exit: the pane stays after the program ends, so its exit status can be read.
    const conf = join(dir, 'tmux.conf');
    writeFileSync(conf, 'set -g remain-on-exit on\nset -g history-limit 5000\nset -g status off\n');
    const socket = join(dir, 'sock');
    const t = new Terminal(socket, dir);
    live.add(t);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...opts.env };
    delete env.TMUX;
    delete env.FORCE_COLOR;
    await run(['-S', socket, '-f', conf, 'new-session', '-d', '-s', `t${++counter}`,
      '-x', String(opts.columns ?? 40), '-y', String(opts.rows ?? 15), argv.map(shellQuote).join(' ')], env);
    return t;
  }

  /** Types `text` as it is (one chunk, as a paste or fast typing arrives). */
  async type(text: string): Promise<void> {
    await run(['-S', this.#socket, 'send-keys', '-l', text]);
  }

  /** Presses keys by tmux name: `Enter`, `Left`, `Up`, `C-a`, `C-d`, `Escape`… */
  async press(...keys: string[]): Promise<void> {
    await run(['-S', this.#socket, 'send-keys', ...keys]);
  }

  /** The rows on screen and in the scrollback, as shown (a long line is several rows); with `join`,
   *  wrapped rows joined into their lines. Trailing blank rows removed. */
  async capture(join = false): Promise<string[]> {
    const out = await run(['-S', this.#socket, 'capture-pane', '-p', '-S', '-', ...(join ? ['-J'] : [])]);
    const rows = out.split('\n').map((r) => r.replace(/\s+$/, ''));
    while (rows.length > 0 && rows[rows.length - 1] === '') rows.pop();
    return rows;
  }

  /** Only what is on the screen now. */
  async screen(): Promise<string[]> {
    const out = await run(['-S', this.#socket, 'capture-pane', '-p']);
    const rows = out.split('\n').map((r) => r.replace(/\s+$/, ''));
    while (rows.length > 0 && rows[rows.length - 1] === '') rows.pop();
    return rows;
  }

  /** Polls the capture until `pred` holds; fails after `ms` with what was on screen. */
  async waitFor(pred: (rows: string[]) => boolean, what: string, opts: { ms?: number; join?: boolean } = {}): Promise<string[]> {
    const deadline = Date.now() + (opts.ms ?? 8000);
    for (;;) {
      const rows = await this.capture(opts.join ?? false);
      if (pred(rows)) return rows;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}; the terminal shows:\n${rows.join('\n')}`);
      await sleep(25);
    }
  }

  /** Waits for a row (or, with join, a line) equal to `line` (string) or matching it (RegExp). */
  waitForLine(line: string | RegExp, opts: { ms?: number; join?: boolean } = {}): Promise<string[]> {
    const ok = (r: string) => (typeof line === 'string' ? r === line : line.test(r));
    return this.waitFor((rows) => rows.some(ok), JSON.stringify(String(line)), opts);
  }

  /** The program's exit status once it has ended (null while it runs). */
  async exitStatus(): Promise<number | null> {
    const out = (await run(['-S', this.#socket, 'display-message', '-p', '#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}'])).trim();
    const [dead, status, signal] = out.split(':');
    if (dead !== '1') return null;
    if (signal) throw new Error(`the program was killed by signal ${signal}`);
    return status ? Number(status) : null; // the status can show a moment after the pane is dead
  }

  /** Waits for the program to end; returns its exit status. */
  async exited(ms = 8000): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = await this.exitStatus();
      if (s !== null) return s;
      if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms waiting for the program to exit; it shows:\n${(await this.capture()).join('\n')}`);
      await sleep(25);
    }
  }

  async kill(): Promise<void> {
    if (this.#killed) return;
    this.#killed = true;
    live.delete(this);
    try { await run(['-S', this.#socket, 'kill-server']); } catch { /* already gone */ }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Kills every terminal still open (for a test's `finally`). */
export async function killAllTerminals(): Promise<void> {
  for (const t of [...live]) await t.kill();
}

/** Runs `fn` with a terminal running `argv`, and kills it afterwards whatever happens. */
export async function withTerminal<T>(argv: readonly string[], opts: TerminalOptions, fn: (t: Terminal) => Promise<T>): Promise<T> {
  const t = await Terminal.start(argv, opts);
  try {
    return await fn(t);
  } finally {
    await t.kill();
  }
}
