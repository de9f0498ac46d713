// The little of irc-framework (no bundled types) the IRC tests use.
declare module 'irc-framework' {
  import { EventEmitter } from 'node:events';
  export interface ConnectOptions {
    host: string;
    port: number;
    nick: string;
    username?: string;
    gecos?: string;
    account?: { account: string; password: string };
    auto_reconnect?: boolean;
    ping_interval?: number;
  }
  export class Client extends EventEmitter {
    constructor(options?: Record<string, unknown>);
    user: { nick: string };
    connect(options: ConnectOptions): void;
    join(channel: string): void;
    part(channel: string, message?: string): void;
    say(target: string, message: string): void;
    action(target: string, message: string): void;
    setTopic(channel: string, topic: string): void;
    who(target: string, cb: (result: { target: string; users: Array<{ nick: string; channel: string }> }) => void): void;
    whois(nick: string, cb: (info: Record<string, unknown>) => void): void;
    raw(line: string): void;
    quit(message?: string): void;
    connection: { connected: boolean };
  }
}
