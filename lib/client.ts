// `epchat connect [host[:port]]`: a terminal client. Interactive in a terminal (incoming lines are
// printed above the line being typed, which is redrawn, never clobbered; colours by line kind), a plain
// pipe otherwise (stdin lines to the server, server lines to stdout), so it can be scripted.
import net from 'node:net';
import readline from 'node:readline';
import { EpchatError, ErrorCodes } from './errors.js';
import { colourAllowed } from './log.js';

export const CLIENT_USAGE = 'epchat connect [host[:port]]   run the terminal client (default 127.0.0.1:7000)';
export const DEFAULT_TARGET = { host: '127.0.0.1', port: 7000 } as const;

export interface Target { host: string; port: number }

/** `host`, `host:port`, `:port`, `port`, `[v6]:port` or `v6`. Throws EPCHAT_INVALID_ARGUMENT. */
export function parseTarget(arg: string | undefined): Target {
  if (arg === undefined || arg === '') return { ...DEFAULT_TARGET };
  const bad = () => new EpchatError(ErrorCodes.INVALID_ARGUMENT, `invalid address ${JSON.stringify(arg)}: expected host[:port]`);
  const toPort = (s: string): number => {
    if (!/^\d{1,5}$/.test(s) || Number(s) > 65535 || Number(s) === 0) throw bad();
    return Number(s);
  };
  if (/^\d+$/.test(arg)) return { host: DEFAULT_TARGET.host, port: toPort(arg) };
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(arg);
  if (v6) return { host: v6[1]!, port: v6[2] === undefined ? DEFAULT_TARGET.port : toPort(v6[2]) };
  const colons = arg.split(':').length - 1;
  if (colons > 1) return { host: arg, port: DEFAULT_TARGET.port }; // a bare IPv6 address
  const [host, port] = arg.split(':') as [string, string | undefined];
  if (/\s/.test(host)) throw bad();
  return { host: host || DEFAULT_TARGET.host, port: port === undefined ? DEFAULT_TARGET.port : toPort(port) };
}

export type LineKind = 'notice' | 'error' | 'reply' | 'pm' | 'action' | 'chat' | 'other';

/** The kind of a server line, from its first bytes (docs/protocol.md). */
export function classifyLine(line: string): LineKind {
  if (line.startsWith('>> ')) return 'notice';
  if (line.startsWith('!! ')) return 'error';
  if (line.startsWith('== ')) return 'reply';
  if (line.startsWith('[pm ')) return 'pm';
  if (line.startsWith('* ')) return 'action';
  if (/^[^\s:[*!=>]+: /.test(line)) return 'chat';
  return 'other';
}

const SGR: Record<Exclude<LineKind, 'chat' | 'other'>, string> = {
  notice: '36', // cyan
  error: '1;31', // bold red
  reply: '32', // green
  pm: '35', // magenta
  action: '33', // yellow
};

const paintWith = (codes: string, s: string) => `\x1b[${codes}m${s}\x1b[0m`;

/** Colours a line by kind (chat: the nick in bold). */
export function colourLine(line: string): string {
  const kind = classifyLine(line);
  if (kind === 'other') return line;
  if (kind === 'chat') {
    const i = line.indexOf(': ');
    return paintWith('1', line.slice(0, i + 1)) + line.slice(i + 1);
  }
  return paintWith(SGR[kind], line);
}

/** Control characters other than tab are shown as U+FFFD, so no line can drive the terminal (the server
 *  refuses them already; this is defence in depth). */
export function sanitize(line: string): string {
  return line.replace(/[\x00-\x08\x0a-\x1f\x7f\x80-\x9f]/g, '\ufffd');
}

/** Splits a stream of text into lines (`\n` or `\r\n`); `flush` returns a last unterminated line. */
export class LineSplitter {
  #rest = '';
  push(chunk: string): string[] {
    const parts = (this.#rest + chunk).split('\n');
    this.#rest = parts.pop()!;
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }
  flush(): string | undefined {
    const rest = this.#rest;
    this.#rest = '';
    return rest === '' ? undefined : rest;
  }
}

const isQuit = (line: string) => /^\s*\/quit(\s|$)/i.test(line);

/** Runs the client; resolves with the exit code: 0 when the server closed the connection (after /quit
 *  or not), 1 on a connection error, 2 on bad arguments. */
export async function runClient(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`Usage: ${CLIENT_USAGE}\n`);
    return 0;
  }
  const unknown = argv.find((a) => a.startsWith('-'));
  if (unknown !== undefined || argv.length > 1) {
    process.stderr.write(`epchat: ${unknown !== undefined ? `unknown flag ${unknown}` : 'too many arguments'}\nUsage: ${CLIENT_USAGE}\n`);
    return 2;
  }
  let target: Target;
  try {
    target = parseTarget(argv[0]);
  } catch (err) {
    process.stderr.write(`epchat: ${(err as Error).message}\n`);
    return 2;
  }
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  return interactive ? interactiveSession(target) : pipeSession(target);
}

function label(t: Target): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** Connects and reports errors the same way in both modes; `done` gets the exit code on close. */
function connect(target: Target, done: (code: number) => void): net.Socket {
  const socket = net.connect({ host: target.host, port: target.port });
  let connected = false;
  let failed = false;
  socket.once('connect', () => { connected = true; socket.setNoDelay(true); });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    failed = true;
    const why = err.code ?? err.message;
    process.stderr.write(connected ? `\nconnection to ${label(target)} lost: ${why}\n` : `cannot connect to ${label(target)}: ${why}\n`);
  });
  socket.once('close', () => done(failed ? 1 : 0));
  return socket;
}

/** Not a terminal: lines in, lines out, nothing added. */
function pipeSession(target: Target): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(target, (code) => {
      process.stdin.unpipe(socket);
      process.stdin.pause();
      resolve(code);
    });
    socket.once('connect', () => process.stdin.pipe(socket));
    socket.pipe(process.stdout, { end: false });
  });
}

/** A terminal: readline for input; server lines are printed above the prompt, which is redrawn with the
 *  partial input intact. */
function interactiveSession(target: Target): Promise<number> {
  return new Promise((resolve) => {
    const out = process.stdout;
    const colour = colourAllowed(out);
    const rl = readline.createInterface({ input: process.stdin, output: out, prompt: '> ', terminal: true });
    const splitter = new LineSplitter();
    let quitting = false;
    let closed = false;

    const show = (line: string) => {
      const clean = sanitize(line);
      readline.clearLine(out, 0);
      readline.cursorTo(out, 0);
      out.write(`${colour ? colourLine(clean) : clean}\n`);
      if (!closed) rl.prompt(true);
    };

    const socket = connect(target, (code) => {
      const last = splitter.flush();
      closed = true;
      if (last !== undefined) show(last);
      readline.clearLine(out, 0);
      readline.cursorTo(out, 0);
      if (code === 0 && !quitting) out.write('connection closed by the server\n');
      rl.close();
      resolve(code);
    });
    socket.setEncoding('utf8');
    socket.once('connect', () => rl.prompt());
    socket.on('data', (chunk: string) => { for (const line of splitter.push(chunk)) show(line); });

    const quit = () => {
      if (closed) return;
      if (quitting) { socket.destroy(); return; } // second Ctrl-C: do not wait for the server
      quitting = true;
      if (socket.writable) socket.write('/quit\n');
    };

    rl.on('line', (line) => {
      if (closed) return;
      if (isQuit(line)) quitting = true;
      if (socket.writable) socket.write(`${line}\n`);
      rl.prompt();
    });
    rl.on('SIGINT', quit);
    rl.on('close', () => { if (!closed) quit(); }); // Ctrl-D
  });
}
