// The admin console as the CLI shows it. The engine reads the commands from stdin (native/core/admin.cc);
// here its replies go to stdout, apart from the log, which goes to stderr while the console is on. In a
// terminal the console shows a prompt once it is ready for a command, and a log line arriving while the
// prompt shows is printed in its place, the prompt drawn again below it.
import { Writable } from 'node:stream';
import pino from 'pino';
import type { ChatServer } from './server.js';

export const CONSOLE_PROMPT = 'epchat> ';

/** The terminal's "erase this row" (carriage return, erase to the end of the line). */
const ERASE_ROW = '\r\x1b[K';

export class ConsoleScreen {
  readonly #out: NodeJS.WriteStream;
  readonly #prompting: boolean;
  /** The prompt is the last thing written to the terminal (nothing after it but what is typed). */
  #showing = false;
  #done = false;

  /** `prompting`: show the prompt (stdin and stdout are terminals). */
  constructor(out: NodeJS.WriteStream, prompting: boolean) {
    this.#out = out;
    this.#prompting = prompting;
  }

  /** One line of console output. */
  line(text: string): void {
    this.#erase();
    this.#out.write(`${text}\n`);
  }

  /** The console waits for a command (the cursor is at the start of a row: after Enter, or after
   *  output). */
  ready(): void {
    if (!this.#prompting || this.#done) return;
    this.#out.write(CONSOLE_PROMPT);
    this.#showing = true;
  }

  /** No more prompts (the server stops). */
  end(): void {
    this.#erase();
    this.#done = true;
  }

  /** The log's destination: file descriptor `fd`, each record put above the prompt. */
  logStream(fd: number): Writable {
    // Synchronous, so records and console output keep their order; retries a full pipe (EAGAIN).
    const sink = pino.destination({ dest: fd, sync: true });
    return new Writable({
      write: (chunk: Buffer | string, _encoding, cb) => {
        const wasShowing = this.#showing;
        this.#erase();
        try {
          sink.write(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
        } catch { /* a closed stderr loses the log, never the server */ }
        if (wasShowing) this.ready();
        cb();
      },
    });
  }

  #erase(): void {
    if (!this.#showing) return;
    // What was typed after the prompt stays in the terminal's line buffer (Ctrl-R shows it again).
    this.#out.write(ERASE_ROW);
    this.#showing = false;
  }
}

/** Wires the engine's console events to the screen. Call before anything else listens for `close`, so
 *  the prompt is gone before the final statistics are printed. */
export function attachConsole(server: ChatServer, screen: ConsoleScreen): void {
  server.on('console', (text) => screen.line(text));
  server.on('consoleReady', () => screen.ready());
  server.on('signal', (signal) => { if (signal !== 'SIGHUP') screen.end(); });
  server.on('close', () => screen.end());
}
