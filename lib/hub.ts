// What the mailbox and group modules see of the community (lib/community.ts), and reply helpers.
import type { ClientId } from './native.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Storage } from './storage/storage.js';

/** What the mailbox and group modules need from the community. */
export interface Hub {
  readonly storage: Storage;
  readonly config: Config;
  readonly log: Logger;
  /** Sends text to each of `nicks` online (the engine decides who is); resolves with the nicks that
   *  were offline. Empty text: only asks who is offline. */
  deliver(nicks: readonly string[], text: string): Promise<string[]>;
  /** The account a connection is logged in to (lower-case key), if any. */
  accountOf(id: ClientId): string | undefined;
  /** Queues lines to a client; silently dropped when the server has closed. */
  send(id: ClientId, text: string): void;
  now(): number;
}

/** `!! CODE text` */
export const fail = (code: string, text: string) => `!! ${code} ${text}`;

/** The first word and the rest (with its inner spacing kept). */
export function splitWord(s: string): [string, string] {
  const t = s.replace(/^\s+/, '');
  const i = t.search(/\s/);
  return i < 0 ? [t, ''] : [t.slice(0, i), t.slice(i + 1)];
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
