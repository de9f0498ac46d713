// Where the terminal client connects (`host[:port]`), and the connection itself, reported the same way
// in both of its modes.
import net from 'node:net';
import { EpchatError, ErrorCodes } from './errors.js';

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

export function label(t: Target): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** How a connection ended: `error` is set when it failed or was lost (an errno code or message). */
export interface Ending { connected: boolean; error: string | undefined }

/** Connects; `done` is called once, when the socket has closed. */
export function connect(target: Target, done: (ending: Ending) => void): net.Socket {
  const socket = net.connect({ host: target.host, port: target.port });
  let connected = false;
  let error: string | undefined;
  socket.once('connect', () => { connected = true; socket.setNoDelay(true); });
  socket.on('error', (err: NodeJS.ErrnoException) => { error ??= err.code ?? err.message; });
  socket.once('close', () => done({ connected, error }));
  return socket;
}

/** The exit code for an ending, and what to say on stderr (nothing after a requested quit).
 *  `quitting`: the user asked to leave; `lastLine`: the last line the server sent (its `!! CODE text`
 *  says why it closed). */
export function verdict(target: Target, e: Ending, quitting: boolean, lastLine?: string): { code: number; message?: string } {
  const where = label(target);
  if (!e.connected) return { code: 1, message: `epchat: cannot connect to ${where}: ${e.error ?? 'closed'}` };
  if (quitting) return { code: 0 };
  if (e.error !== undefined) return { code: 1, message: `epchat: connection to ${where} lost: ${e.error}` };
  const why = lastLine?.startsWith('!! ') ? ` (${lastLine.slice(3)})` : '';
  return { code: 1, message: `epchat: the server at ${where} closed the connection${why}` };
}
