// Baseline 2: what a careful node:net user writes. A message is formatted once into a Buffer shared by
// all recipients; each recipient socket is corked on its first write of an event-loop turn and all are
// uncorked together in one setImmediate (after the poll phase), so one turn's lines to a socket go out
// in one writev. A socket whose queued output passes MAX_OUTPUT_BYTES is dropped (as epchat's
// maxOutputBytes), so a reader that never reads cannot grow the heap without bound.
import type { Socket } from 'node:net';
import { startBaseline, type Client, type Sink } from './chat-proto.js';

const MAX_OUTPUT_BYTES = 1 << 20;

class CorkedSink implements Sink {
  private readonly corked = new Set<Socket>();
  private scheduled = false;

  one(to: Client, line: string): void {
    this.write(to.socket, Buffer.from(line + '\n'));
  }

  many(to: Iterable<Client>, except: Client | null, line: string): void {
    const buf = Buffer.from(line + '\n');
    for (const c of to) if (c !== except) this.write(c.socket, buf);
  }

  private write(socket: Socket, buf: Buffer): void {
    if (socket.destroyed) return;
    if (socket.writableLength > MAX_OUTPUT_BYTES) {
      socket.destroy();
      return;
    }
    if (!this.corked.has(socket)) {
      socket.cork();
      this.corked.add(socket);
    }
    socket.write(buf);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    for (const s of this.corked) s.uncork();
    this.corked.clear();
  };
}

startBaseline(new CorkedSink(), process.argv.slice(2));
