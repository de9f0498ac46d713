// A real terminal for tests: a program run in a detached tmux session of a given size, driven with
// send-keys and read with capture-pane (the screen and its scrollback). Each session has its own tmux
// server (its own socket), killed by kill() or killAllTerminals(). tmux is required, never skipped: the
// project's set-up installs it (.ci/run).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** The exit status of process `pid` if it is a zombie (exited, not yet reaped), else null. */
function zombieStatus(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
  if (fields[0] !== 'Z') return null;
  const code = Number(fields[52 - 3]);
  if ((code & 0x7f) !== 0) throw new Error(`the program was killed by signal ${code & 0x7f}`);
  return (code >> 8) & 0xff;
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
      '-x', String(opts.columns ?? 40), '-y', String(opts.rows ?? 15), `exec ${argv.map(shellQuote).join(' ')}`], env);
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
    const out = (await run(['-S', this.#socket, 'display-message', '-p', '#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}:#{pane_pid}'])).trim();
    const [, status, signal, pid] = out.split(':');
    if (signal) throw new Error(`the program was killed by signal ${signal}`);
    if (status) return Number(status);
    // tmux 3.3 sometimes marks the pane dead without reaping the program for a long while: read the
    // status of the zombie from /proc (its exit_code field, as waitpid reports it).
    const zombie = zombieStatus(Number(pid));
    if (zombie !== null) return zombie;
    return null;
  }

  /** Waits for the program to end; returns its exit status. */
  async exited(ms = 8000): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = await this.exitStatus();
      if (s !== null) return s;
      if (Date.now() > deadline) {
        const pane = (await run(['-S', this.#socket, 'display-message', '-p', '#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}:#{pane_pid}'])).trim();
        const pid = pane.split(':')[3]!;
        let proc = 'gone';
        try { proc = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').filter((l) => /^(State|Name)/.test(l)).join(' '); } catch { /* gone */ }
        throw new Error(`timeout after ${ms} ms waiting for the program to exit (pane ${pane}, process ${proc}); it shows:\n${(await this.capture()).join('\n')}`);
      }
      await sleep(25);
    }
  }

  /** The program's process id (it is exec'd by the pane's shell). */
  async pid(): Promise<number> {
    return Number((await run(['-S', this.#socket, 'display-message', '-p', '#{pane_pid}'])).trim());
  }

  async kill(): Promise<void> {
    if (this.#killed) return;
    this.#killed = true;
    live.delete(this);
    try {
      // tmux would send SIGHUP, which a server takes as "reload": end the program first.
      if ((await this.exitStatus().catch(() => 0)) === null) process.kill(await this.pid(), 'SIGKILL');
    } catch { /* gone */ }
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
