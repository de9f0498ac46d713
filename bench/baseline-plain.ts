// Baseline 1: a plain node:net chat server. Every recipient gets its own `socket.write(string)`, the
// way most chat-server tutorials do it. No output limit: a reader that never reads grows the heap.
import { startBaseline, type Client, type Sink } from './chat-proto.js';

const sink: Sink = {
  one(to: Client, line: string): void {
    if (!to.socket.destroyed) to.socket.write(line + '\n');
  },
  many(to: Iterable<Client>, except: Client | null, line: string): void {
    for (const c of to) if (c !== except && !c.socket.destroyed) c.socket.write(line + '\n');
  },
};

startBaseline(sink, process.argv.slice(2));
