// The subset of the epchat protocol (docs/protocol.md) that the two baseline servers speak: nickname
// prompt and rules, welcome, room messages to the other members, /join, /create, /leave, /quit, and
// departures. Only how lines reach sockets differs between the baselines, so that is a `Sink` they pass in.
import { createServer, type Server, type Socket } from 'node:net';

export const DEFAULT_ROOM = 'lobby';
export const MAX_LINE_BYTES = 4096;
/** Above this many members a room stops announcing joins and departures (as epchat's quietRoomSize). */
export const QUIET_ROOM_SIZE = 1000;
const RESERVED = new Set(['server', 'admin', 'root', 'system', 'epchat', 'nickserv', 'chanserv', 'operator']);
const NICK_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,23}$/;
const ROOM_RE = /^#?([A-Za-z0-9_-]{1,32})$/;

export interface Room {
  readonly name: string;
  readonly members: Set<Client>;
}

export interface Client {
  readonly socket: Socket;
  nick: string | null;
  room: Room | null;
  pending: string;
}

/** How a baseline puts lines on the wire. `line` has no trailing newline. */
export interface Sink {
  one(to: Client, line: string): void;
  /** Send `line` to every member of `to` except `except`. */
  many(to: Iterable<Client>, except: Client | null, line: string): void;
}

export class ChatCore {
  private readonly nicks = new Map<string, Client>();
  private readonly rooms = new Map<string, Room>();

  constructor(private readonly sink: Sink) {
    this.rooms.set(DEFAULT_ROOM, { name: DEFAULT_ROOM, members: new Set() });
  }

  attach(socket: Socket): void {
    const client: Client = { socket, nick: null, room: null, pending: '' };
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(client, chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.depart(client));
    this.sink.one(client, '>> Enter pseudo:');
  }

  private onData(client: Client, chunk: string): void {
    client.pending += chunk;
    let start = 0;
    for (let nl = client.pending.indexOf('\n'); nl >= 0; nl = client.pending.indexOf('\n', start)) {
      let line = client.pending.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (client.socket.destroyed) return;
      if (Buffer.byteLength(line) > MAX_LINE_BYTES) this.sink.one(client, '!! LINE_TOO_LONG line discarded');
      else this.onLine(client, line);
    }
    client.pending = client.pending.slice(start);
    if (client.pending.length > MAX_LINE_BYTES * 4) client.pending = '';
  }

  private onLine(client: Client, line: string): void {
    if (line.startsWith('/') && !line.startsWith('//')) {
      this.command(client, line);
    } else if (client.nick === null) {
      this.register(client, line);
    } else if (line.length > 0) {
      const text = line.startsWith('//') ? line.slice(1) : line;
      this.sink.many(client.room!.members, client, `${client.nick}: ${text}`);
    }
  }

  private register(client: Client, nick: string): void {
    const key = nick.toLowerCase();
    let error: string | null = null;
    if (!NICK_RE.test(nick)) error = `!! NICK_INVALID nickname ${nick} is invalid`;
    else if (RESERVED.has(key)) error = `!! NICK_RESERVED nickname ${nick} is reserved`;
    else if (this.nicks.has(key)) error = `!! NICK_TAKEN nickname ${nick} is taken`;
    if (error !== null) {
      this.sink.one(client, error);
      this.sink.one(client, '>> Enter pseudo:');
      return;
    }
    client.nick = nick;
    this.nicks.set(key, client);
    this.enter(client, this.rooms.get(DEFAULT_ROOM)!, `>> Welcome ${nick} !`);
  }

  private command(client: Client, line: string): void {
    const space = line.indexOf(' ');
    const name = (space < 0 ? line.slice(1) : line.slice(1, space)).toLowerCase();
    const arg = space < 0 ? '' : line.slice(space + 1).trim();
    if (name === 'quit') return this.quit(client);
    if (name === 'help') {
      this.sink.one(client, '== HELP /join /create /leave /quit');
      return this.sink.one(client, '== END HELP 1');
    }
    if (client.nick === null) return this.sink.one(client, '!! NOT_REGISTERED choose a nickname first');
    if (name === 'join' || name === 'create') return this.joinOrCreate(client, name, arg);
    if (name === 'leave') return this.joinOrCreate(client, 'join', DEFAULT_ROOM);
    this.sink.one(client, `!! UNKNOWN_COMMAND /${name}`);
  }

  private joinOrCreate(client: Client, name: string, arg: string): void {
    const m = ROOM_RE.exec(arg);
    if (m === null) return this.sink.one(client, `!! ROOM_INVALID room name ${arg} is invalid`);
    const key = m[1]!.toLowerCase();
    let room = this.rooms.get(key);
    if (name === 'create') {
      if (room !== undefined) return this.sink.one(client, `!! ROOM_EXISTS room ${m[1]} exists`);
      room = { name: m[1]!, members: new Set() };
      this.rooms.set(key, room);
    } else if (room === undefined) {
      return this.sink.one(client, `!! NO_SUCH_ROOM no room ${m[1]}`);
    } else if (room === client.room) {
      return this.sink.one(client, `!! ALREADY_IN_ROOM you are in ${room.name}`);
    }
    this.leaveRoom(client, `>> ${client.nick} left ${client.room!.name}`);
    this.enter(client, room, `>> ${client.nick} joined ${room.name}`);
  }

  /** Put the client in `room` and announce it (to the client alone in a quiet room). */
  private enter(client: Client, room: Room, notice: string): void {
    client.room = room;
    room.members.add(client);
    if (room.members.size > QUIET_ROOM_SIZE) this.sink.one(client, notice);
    else this.sink.many(room.members, null, notice);
  }

  private leaveRoom(client: Client, notice: string): void {
    const room = client.room;
    if (room === null) return;
    room.members.delete(client);
    client.room = null;
    if (room.members.size === 0 && room.name !== DEFAULT_ROOM) this.rooms.delete(room.name.toLowerCase());
    else if (room.members.size < QUIET_ROOM_SIZE) this.sink.many(room.members, null, notice);
  }

  private quit(client: Client): void {
    if (client.nick !== null) this.sink.one(client, `>> Bye ${client.nick} !`);
    this.depart(client);
    client.socket.end();
  }

  private depart(client: Client): void {
    if (client.nick === null) return;
    this.leaveRoom(client, `>> Bye ${client.nick} !`);
    this.nicks.delete(client.nick.toLowerCase());
    client.nick = null;
  }
}

/** `--port N` (0 = ephemeral). */
export function parsePort(argv: readonly string[]): number {
  const i = argv.indexOf('--port');
  const port = i >= 0 ? Number(argv[i + 1]) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${argv[i + 1]}`);
  return port;
}

/** Start a baseline on 127.0.0.1 and print `listening PORT` once ready. */
export function startBaseline(sink: Sink, argv: readonly string[]): Server {
  const core = new ChatCore(sink);
  const server = createServer((socket) => core.attach(socket));
  server.listen({ host: '127.0.0.1', port: parsePort(argv), backlog: 4096 }, () => {
    const addr = server.address();
    if (addr !== null && typeof addr === 'object') process.stdout.write(`listening ${addr.port}\n`);
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(0));
  return server;
}
