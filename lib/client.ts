// `epchat connect [host[:port]]`: the terminal client. Interactive in a terminal (lib/client-terminal.ts:
// incoming lines above the line being typed, passwords hidden, shortcuts), a plain pipe otherwise
// (stdin lines to the server as they are, server lines to stdout), so it can be scripted.
import { LineSplitter } from './client-lines.js';
import { connect, parseTarget, verdict, type Target } from './client-net.js';
import { interactiveSession } from './client-terminal.js';
import { isQuit } from './client-session.js';

export { classifyLine, colourLine, sanitize, LineSplitter, type LineKind } from './client-lines.js';
export { DEFAULT_TARGET, parseTarget, type Target } from './client-net.js';

export const CLIENT_USAGE = 'epchat connect [host[:port]]   run the terminal client (default 127.0.0.1:7000)';

/** Runs the client; resolves with the exit code: 0 when the connection closed after the user asked to
 *  leave (`/quit`, Ctrl-C, Ctrl-D, end of piped input), 1 when it could not connect, was lost, or the
 *  server closed it unasked (said on stderr), 2 on bad arguments. */
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

/** Not a terminal: lines in, lines out, nothing added or changed. */
function pipeSession(target: Target): Promise<number> {
  return new Promise((resolve) => {
    const input = new LineSplitter();
    const output = new LineSplitter();
    let quitting = false;
    let lastLine: string | undefined;
    const socket = connect(target, (ending) => {
      process.stdin.unpipe(socket);
      process.stdin.pause();
      const { code, message } = verdict(target, ending, quitting, output.flush() ?? lastLine);
      if (message !== undefined) process.stderr.write(`${message}\n`);
      resolve(code);
    });
    socket.once('connect', () => {
      // Both together: a 'data' listener alone would start reading stdin before anything takes it.
      process.stdin.on('data', (chunk: Buffer) => {
        if (input.push(chunk.toString('utf8')).some(isQuit)) quitting = true;
      });
      process.stdin.once('end', () => { quitting = true; }); // end of input: the client leaves
      process.stdin.pipe(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      const lines = output.push(chunk.toString('latin1'));
      if (lines.length > 0) lastLine = lines[lines.length - 1];
    });
    socket.pipe(process.stdout, { end: false });
  });
}
