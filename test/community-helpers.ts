// Helpers for the accounts, mailbox, groups and durability suites: a temporary data directory per test,
// a server with cheap scrypt parameters, and the login flows as a client sees them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROMPT, welcome, withServer, type LineClient, type ServerOptions, type TestServer } from './helpers.js';

/** Cheap hashing for tests (the default is N = 16384). */
export const FAST_SCRYPT = { scryptN: 1024, scryptR: 8, scryptP: 1 } as const;

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `epchat-${tag}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A server with accounts on, in a fresh data directory that is removed afterwards. */
export async function withAccounts(options: ServerOptions, fn: (t: TestServer, dataDir: string) => Promise<void>, dir?: string): Promise<void> {
  const dataDir = dir ?? tempDir('test');
  try {
    await withServer({ ...FAST_SCRYPT, accounts: true, dataDir, ...options } as ServerOptions, (t) => fn(t, dataDir));
  } finally {
    if (dir === undefined) removeDir(dataDir);
  }
}

export const loggedIn = (nick: string, unread = 0) =>
  `>> Logged in as ${nick}: ${unread} unread message${unread === 1 ? '' : 's'}${unread > 0 ? ' (/read)' : ''}`;

export const passwordPrompt = (nick: string) => `>> ${nick} is a registered account; password:`;

/** A guest `nick` that registers the account `nick`; stays connected and logged in. */
export async function registerAccount(t: TestServer, nick: string, password: string): Promise<LineClient> {
  const c = await t.register(nick);
  c.send(`/register ${nick} ${password}`);
  await c.expectNext(`>> Account ${nick} registered`);
  await c.expectNext(loggedIn(nick));
  return c;
}

/** Creates accounts and disconnects them (offline, with empty mailboxes). */
export async function createOffline(t: TestServer, password: string, ...nicks: string[]): Promise<void> {
  for (const nick of nicks) {
    const c = await registerAccount(t, nick, password);
    c.send('/quit');
    await c.closed();
  }
}

/** Logs in at the nickname prompt: nick, then the password. */
export async function loginAtPrompt(t: TestServer, nick: string, password: string, unread = 0): Promise<LineClient> {
  const c = await t.connect(nick);
  await c.expectNext(PROMPT);
  c.send(nick);
  await c.expectNext(passwordPrompt(nick));
  c.send(password);
  await c.expectNext(welcome(nick));
  await c.expectNext(loggedIn(nick, unread));
  return c;
}

/** `== MAIL TIME FROM TEXT` → its parts. */
export function parseMail(line: string): { time: string; from: string; text: string } {
  const m = /^== MAIL (\S+) (\S+) (.*)$/.exec(line);
  if (!m) throw new Error(`not a MAIL line: ${JSON.stringify(line)}`);
  return { time: m[1]!, from: m[2]!, text: m[3]! };
}
