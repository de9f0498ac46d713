// What the interactive terminal client knows about its session from the lines going each way: whether
// the next typed line is a nickname, a password or chat; which lines hold a password (never shown,
// never kept in the history); the user's groups (so `@NAME text` reaches a group); the unread count
// (shown in the prompt); and whether the user asked to leave. No I/O: lib/client.ts does that.
import { SHORTCUT_HELP, expandShortcut, secretStart } from './shortcuts.js';

export type InputStep = 'nick' | 'password' | 'chat';

export interface TypedLine {
  /** Lines for the server, in order (none for an empty line). */
  send: string[];
  /** Lines the client shows itself (its `/help`). */
  local: string[];
  /** The line held a password: it must not be kept in the history. */
  secret: boolean;
}

const PASSWORD_PROMPT = /^>> \S+ is a registered account; password:\s*$/;
const LOGGED_IN = /^>> Logged in as \S+: (\d+) unread messages?\b/;
const UNREAD = /^>> (\d+) unread messages?$/;
const END_MAIL = /^== END MAIL \d+$/;
const GROUP_ROW = /^== GROUP (\S+) \d+$/;
const END_GROUPS = /^== END GROUPS \d+$/;
/** Lines that show the user is a member of a group. */
const MEMBER_OF = [
  /^>> Group @(\S+) created with /,
  /^>> \S+ added you to @(\S+)$/,
  /^\[@(\S+) from \S+\] /,
  /^>> Sent to \d+ recipients? in @(\S+) /,
];
const LEFT_GROUP = /^>> You left @(\S+)$/;
const LOGGED_OUT = [/^>> You are no longer logged in\b/, /^>> Account \S+ deleted\b/];

export const isQuit = (line: string) => /^\s*\/quit(\s|$)/i.test(line);
const isHelp = (line: string) => /^\s*\/help\s*$/i.test(line);

export class ClientSession {
  /** What the next typed line is: the server starts every connection at the nickname prompt. */
  step: InputStep = 'nick';
  /** The user asked to leave (`/quit`, Ctrl-C, Ctrl-D): the server closing is then expected. */
  quitting = false;
  /** Unread mailbox messages, as the server last said. */
  unread = 0;
  readonly #groups = new Set<string>();
  #listing: Set<string> | undefined;

  /** The readline prompt for the current step. */
  prompt(): string {
    if (this.step === 'password') return 'password: ';
    return this.unread > 0 ? `[${this.unread} unread] > ` : '> ';
  }

  isGroup(name: string): boolean {
    return this.#groups.has(name.toLowerCase());
  }

  /** Where the password starts in the line being typed (0 at the password step), or -1. */
  secretFrom(line: string): number {
    return this.step === 'password' ? 0 : secretStart(line);
  }

  /** A line the user typed. */
  typed(raw: string): TypedLine {
    const step = this.step;
    const secret = this.secretFrom(raw) >= 0;
    // A command typed after blanks is still a command: sent as chat, `  /login bob PASS` would show
    // the password to the room.
    const line = /^\s+\//.test(raw) ? raw.trimStart() : raw;
    if (step === 'password') {
      if (line === '') return { send: [], local: [], secret: true }; // an empty password never counts as a try
      this.step = 'chat'; // the server prompts again if the password is refused
      return { send: [line], local: [], secret: true };
    }
    if (line === '') return { send: [], local: [], secret: false };
    if (isQuit(line)) this.quitting = true;
    if (isHelp(line)) return { send: [line.trim()], local: [...SHORTCUT_HELP], secret: false };
    if (step === 'nick') {
      // A nickname (or a command) at the prompt: no shortcut applies ("read" is a valid nickname).
      if (!line.startsWith('/') || /^\/(login|register)\s/i.test(line)) this.step = 'chat';
      return { send: [line], local: [], secret };
    }
    const expanded = expandShortcut(line, (name) => this.isGroup(name));
    return { send: expanded ?? [line], local: [], secret };
  }

  /** A line from the server; returns lines to send back (the `/group list` after a login, so that
   *  `@GROUP text` knows the user's groups). */
  received(line: string): string[] {
    if (line === '>> Enter pseudo:') {
      this.step = 'nick';
      return [];
    }
    if (PASSWORD_PROMPT.test(line)) {
      this.step = 'password';
      return [];
    }
    let m = LOGGED_IN.exec(line);
    if (m) {
      this.step = 'chat';
      this.unread = Number(m[1]);
      this.#groups.clear();
      return ['/group list'];
    }
    if ((m = UNREAD.exec(line))) this.unread = Number(m[1]);
    else if (END_MAIL.test(line)) this.unread = 0;
    else if ((m = GROUP_ROW.exec(line))) (this.#listing ??= new Set()).add(m[1]!.toLowerCase());
    else if (END_GROUPS.test(line)) {
      this.#groups.clear();
      for (const g of this.#listing ?? []) this.#groups.add(g);
      this.#listing = undefined;
    } else if ((m = LEFT_GROUP.exec(line))) this.#groups.delete(m[1]!.toLowerCase());
    else if (LOGGED_OUT.some((r) => r.test(line))) {
      this.#groups.clear();
      this.unread = 0;
    } else {
      for (const r of MEMBER_OF) {
        if ((m = r.exec(line))) this.#groups.add(m[1]!.toLowerCase());
      }
    }
    return [];
  }
}
