// The terminal client in a terminal: readline for the line being typed; server lines are printed above
// it, and it is drawn again below them as it was, however many rows it spans. Passwords are drawn as
// `*` and never kept in the history; shortcuts (lib/shortcuts.ts) become server commands.
import { EventEmitter } from 'node:events';
import readline from 'node:readline';
import type net from 'node:net';
import { ClientSession } from './client-session.js';
import { LineSplitter, colourLine, sanitize } from './client-lines.js';
import { connect, verdict, type Target } from './client-net.js';
import { colourAllowed } from './log.js';

/** Columns a code point takes in a terminal: 0 (controls, combining marks), 2 (East Asian wide, most
 *  emoji) or 1 — the ranges node's readline uses when it has no ICU, close enough for a mask. */
function cellWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x20d0 && cp <= 0x20ff) ||
      (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xfe20 && cp <= 0xfe2f) || (cp >= 0xe0100 && cp <= 0xe01ef)) return 0;
  const wide = cp >= 0x1100 && (cp <= 0x115f || cp === 0x2329 || cp === 0x232a ||
    (cp >= 0x2e80 && cp <= 0x3247 && cp !== 0x303f) || (cp >= 0x3250 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0xa4c6) || (cp >= 0xa960 && cp <= 0xa97c) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe10 && cp <= 0xfe19) || (cp >= 0xfe30 && cp <= 0xfe6b) ||
    (cp >= 0xff01 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1b000 && cp <= 0x1b001) ||
    (cp >= 0x1f200 && cp <= 0x1f251) || (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x20000 && cp <= 0x3fffd));
  return wide ? 2 : 1;
}

/** `line.slice(from, to)` as drawn: from index `secret` on (-1: nothing is secret), every character but
 *  blanks becomes `*`, as many as the columns it would take, so readline's cursor arithmetic holds. */
export function masked(line: string, secret: number, from = 0, to = line.length): string {
  if (secret < 0 || to <= secret) return line.slice(from, to);
  let s = '';
  for (let i = from; i < to;) {
    const cp = line.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    const ch = line.slice(i, i + n);
    s += i < secret || /\s/.test(ch) ? ch : '*'.repeat(cellWidth(cp));
    i += n;
  }
  return s;
}

interface InputView { prompt: string; line: string; cursor: number; secret: number }

/**
 * The output readline draws on: the terminal, except that the secret part of the line being typed is
 * drawn masked. readline writes that line in two ways only: the prompt and the whole line (a redraw),
 * or the characters just inserted before the cursor (typing at the end); both are recognised by
 * comparing with the line itself, which cannot hold the escape sequences readline moves the cursor with.
 */
class MaskingOutput extends EventEmitter {
  readonly isTTY = true;
  readonly #out: NodeJS.WriteStream;
  readonly #view: () => InputView;
  readonly #resize = () => this.emit('resize');

  constructor(out: NodeJS.WriteStream, view: () => InputView) {
    super();
    this.#out = out;
    this.#view = view;
    out.on('resize', this.#resize);
  }

  get columns(): number { return this.#out.columns; }
  get rows(): number { return this.#out.rows; }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean {
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof chunk === 'string' && chunk.length > 0) {
      const v = this.#view();
      if (v.secret >= 0) {
        if (chunk === v.prompt + v.line) chunk = v.prompt + masked(v.line, v.secret);
        else if (v.cursor >= chunk.length && v.line.slice(v.cursor - chunk.length, v.cursor) === chunk) {
          chunk = masked(v.line, v.secret, v.cursor - chunk.length, v.cursor);
        }
      }
    }
    return this.#out.write(chunk, done);
  }

  detach(): void { this.#out.off('resize', this.#resize); }
}

/** Runs the client on the terminal; resolves with the exit code (see runClient). */
export function interactiveSession(target: Target): Promise<number> {
  return new Promise((resolve) => {
    const out = process.stdout;
    const colour = colourAllowed(out);
    const session = new ClientSession();
    const splitter = new LineSplitter();
    let closed = false; // the connection
    let inputClosed = false; // readline (Ctrl-D)
    let lastLine: string | undefined;

    let rl: readline.Interface;
    const output = new MaskingOutput(out, () => ({
      prompt: rl.getPrompt(), line: rl.line, cursor: rl.cursor, secret: session.secretFrom(rl.line),
    }));
    rl = readline.createInterface({
      input: process.stdin, output: output as unknown as NodeJS.WritableStream, prompt: session.prompt(), terminal: true,
    });
    // node's readline turns this off for all but the last character of a chunk read at once (a paste,
    // or a key and Enter typed quickly), and then appends those characters at the end of the line
    // whatever the cursor's place, and without following the rows it wraps to. There is no tab
    // completion here, so it stays on: every character is inserted where the cursor is.
    Object.defineProperty(rl, 'isCompletionEnabled', { get: () => true, set: () => {}, configurable: true });

    /** Moves to the first row of the prompt and erases it and the input below it. */
    const eraseInput = () => {
      const at = rl.getCursorPos(); // the cursor's row and column within the prompt and input
      // At column 0 of a row past the first, the terminal may still be at the end of the row above
      // (a full row written, the wrap pending: readline writes typed and pasted text as it comes).
      // A blank and a carriage return put it at column 0 of that row in either case.
      if (at.cols === 0 && at.rows > 0) out.write(' \r');
      if (at.rows > 0) readline.moveCursor(out, 0, -at.rows);
      readline.cursorTo(out, 0);
      readline.clearScreenDown(out);
    };

    /** Prints lines where the prompt was, then draws the prompt and the input again below them. */
    const printAbove = (lines: readonly string[]) => {
      out.cork(); // one write to the terminal: no flicker, never a screen without the input
      try {
        eraseInput();
        out.write(lines.map((l) => `${colour ? colourLine(l) : l}\n`).join(''));
        if (closed || inputClosed) return;
        // readline redraws by going up as many rows as it believes the cursor was below the prompt's
        // first row (a belief node's readline lets go stale). The cursor is now where the prompt starts.
        (rl as unknown as { prevRows: number }).prevRows = 0;
        rl.setPrompt(session.prompt());
        rl.prompt(true);
      } finally {
        out.uncork();
      }
    };

    const send = (socket: net.Socket, lines: readonly string[]) => {
      for (const line of lines) if (socket.writable) socket.write(`${line}\n`);
    };

    const socket = connect(target, (ending) => {
      const last = splitter.flush();
      if (last !== undefined) {
        lastLine = last;
        printAbove([sanitize(last)]);
      }
      closed = true;
      if (!inputClosed) eraseInput(); // what was being typed was never sent
      rl.close();
      output.detach();
      const { code, message } = verdict(target, ending, session.quitting, lastLine);
      if (message !== undefined) process.stderr.write(`${message}\n`);
      resolve(code);
    });
    socket.setEncoding('utf8');
    socket.once('connect', () => { if (!inputClosed) rl.prompt(); });
    socket.on('data', (chunk: string) => {
      const lines = splitter.push(chunk);
      if (lines.length === 0) return;
      lastLine = lines[lines.length - 1];
      const replies = lines.flatMap((l) => session.received(l));
      printAbove(lines.map(sanitize));
      send(socket, replies);
    });

    const quit = () => {
      if (closed) return;
      if (session.quitting) { socket.destroy(); return; } // asked twice: do not wait for the server
      session.quitting = true;
      if (socket.writable) socket.write('/quit\n');
      else socket.destroy();
    };

    // A password is never kept in the history ('history' comes before 'line', with rl.line still set).
    rl.on('history', (history: string[]) => {
      if (session.secretFrom(rl.line) >= 0 && history[0] === rl.line) history.shift();
    });
    rl.on('line', (line) => {
      if (closed) return;
      const typed = session.typed(line);
      if (typed.local.length > 0) printAbove(typed.local);
      send(socket, typed.send);
      rl.setPrompt(session.prompt());
      rl.prompt();
    });
    rl.on('SIGINT', quit);
    rl.on('close', () => { // Ctrl-D on an empty line, or our own close
      inputClosed = true;
      if (!closed) quit();
    });
  });
}
