// What the mailbox and group modules see of the community (lib/community.ts), and text helpers.
import type { ClientId, HostLine } from './native.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Storage } from './storage/storage.js';

/** What the mailbox and group modules need from the community. */
export interface Hub {
  readonly storage: Storage;
  readonly config: Config;
  readonly log: Logger;
  /** Sends lines to each of `nicks` online (the engine decides who is); resolves with the nicks that
   *  were offline. No lines: only asks who is offline. */
  deliver(nicks: readonly string[], lines?: HostLine | readonly HostLine[]): Promise<string[]>;
  /** The account a connection is logged in to (lower-case key), if any. */
  accountOf(id: ClientId): string | undefined;
  now(): number;
}

/** The first word and the rest (with its inner spacing kept). */
export function splitWord(s: string): [string, string] {
  const t = s.replace(/^\s+/, '');
  const i = t.search(/\s/);
  return i < 0 ? [t, ''] : [t.slice(0, i), t.slice(i + 1)];
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
