// The façade under test. lib/index.ts is being written in parallel; until it lands this module loads
// it dynamically against the API the brief describes. Once it exists, this becomes a plain re-export
// (`export { createServer } from '../lib/index.js'`) so the compiler checks the tests against it.
import type { EventEmitter } from 'node:events';
import type { EngineOptions, EngineReloadable, EngineStats, RoomInfo, UserInfo } from '../lib/native.js';

export type ServerOptions = Partial<EngineOptions> & { logLevel?: string; logFormat?: string };

export interface ChatServer extends EventEmitter {
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<EngineStats>;
  stats(): EngineStats;
  announce(text: string): void;
  kick(nick: string, reason?: string): Promise<boolean>;
  users(): Promise<UserInfo[]> | UserInfo[];
  rooms(): Promise<RoomInfo[]> | RoomInfo[];
  reload(policy: EngineReloadable): unknown;
}

const spec = '../lib/index.js';
const mod = (await import(spec)) as { createServer: (options?: ServerOptions) => ChatServer };
export const createServer = mod.createServer;
