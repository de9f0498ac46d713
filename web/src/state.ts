// Chat state: conversations (rooms, private conversations, the server view), their members,
// messages and unread counts, and the room list. Knows nothing about the DOM or the socket.
import { foldCase, isChannel } from './irc.js';

export type ConvKind = 'server' | 'room' | 'dm';
export type LineKind = 'message' | 'action' | 'notice' | 'event' | 'error' | 'info';

export interface Line {
  id: number;
  time: Date;
  kind: LineKind;
  nick: string;
  text: string;
  self: boolean;
  /** Mentions the user's nick (or is a private message to them). */
  highlight: boolean;
}

export interface Member {
  nick: string;
  /** Channel status prefixes ("@", "+", ...), most important first. */
  modes: string;
}

export interface Conversation {
  key: string;
  name: string;
  kind: ConvKind;
  topic: string;
  members: Map<string, Member>;
  lines: Line[];
  unread: number;
  mentions: number;
  /** Id of the first line counted in `unread` (0 when nothing is unread). */
  firstUnread: number;
  /** Id of the line where the "new messages" divider goes in view (0: none). */
  newFrom: number;
  /** For rooms: currently joined. */
  joined: boolean;
}

export interface RoomInfo {
  name: string;
  users: number;
  topic: string;
}

export type Change = 'sidebar' | 'header' | 'members' | 'messages' | 'rooms' | 'status';

export const SERVER_KEY = '*server';
export const MAX_LINES = 1000;
const STATUS_PREFIXES = '~&@%+';

let nextLineId = 1;

export class ChatState {
  nick = '';
  activeKey = SERVER_KEY;
  readonly conversations = new Map<string, Conversation>();
  roomList: RoomInfo[] = [];
  listing = false;
  listedAt: Date | null = null;
  status = 'offline';
  /** Rooms the user asked to join; the first JOIN back makes the room active. */
  private pendingFocus = new Set<string>();
  private namesBuffer = new Map<string, Map<string, Member>>();
  private listBuffer: RoomInfo[] = [];
  /** Lines appended to the active conversation since the view last drew it. */
  appended: Line[] = [];
  private changes = new Set<Change>();
  private listener: ((changes: Set<Change>) => void) | null = null;
  private scheduled = false;

  constructor() {
    this.conversations.set(SERVER_KEY, this.newConv(SERVER_KEY, 'Server', 'server'));
  }

  onChange(fn: (changes: Set<Change>) => void): void {
    this.listener = fn;
  }

  /** Marks parts of the view dirty; the listener runs once per microtask batch. */
  touch(...changes: Change[]): void {
    for (const c of changes) this.changes.add(c);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const set = this.changes;
      this.changes = new Set();
      this.listener?.(set);
    });
  }

  private newConv(key: string, name: string, kind: ConvKind): Conversation {
    return { key, name, kind, topic: '', members: new Map(), lines: [], unread: 0, mentions: 0, firstUnread: 0, newFrom: 0, joined: false };
  }

  keyOf(name: string): string {
    return foldCase(name);
  }

  isMe(nick: string): boolean {
    return foldCase(nick) === foldCase(this.nick);
  }

  get active(): Conversation {
    return this.conversations.get(this.activeKey) ?? this.conversations.get(SERVER_KEY)!;
  }

  get server(): Conversation {
    return this.conversations.get(SERVER_KEY)!;
  }

  get(name: string): Conversation | undefined {
    return this.conversations.get(this.keyOf(name));
  }

  /** The conversation for a room or nick, created when missing. */
  ensure(name: string): Conversation {
    const key = this.keyOf(name);
    let conv = this.conversations.get(key);
    if (!conv) {
      conv = this.newConv(key, name, isChannel(name) ? 'room' : 'dm');
      this.conversations.set(key, conv);
      this.touch('sidebar');
    }
    return conv;
  }

  rooms(): Conversation[] {
    return [...this.conversations.values()].filter((c) => c.kind === 'room').sort((a, b) => a.key.localeCompare(b.key));
  }

  dms(): Conversation[] {
    return [...this.conversations.values()].filter((c) => c.kind === 'dm').sort((a, b) => a.key.localeCompare(b.key));
  }

  totalUnread(): number {
    let n = 0;
    for (const c of this.conversations.values()) if (c.kind !== 'server') n += c.unread;
    return n;
  }

  setActive(key: string): void {
    if (!this.conversations.has(key)) return;
    const previous = this.conversations.get(this.activeKey);
    this.activeKey = key;
    const conv = this.active;
    // The divider marks what arrived while the conversation was out of view; it stays while the
    // conversation is in view and goes when the user looks elsewhere and comes back with nothing new.
    if (conv.unread > 0) conv.newFrom = conv.firstUnread;
    else if (previous !== conv) conv.newFrom = 0;
    conv.firstUnread = 0;
    conv.unread = 0;
    conv.mentions = 0;
    this.appended = [];
    this.touch('sidebar', 'header', 'members', 'messages');
  }

  /** Closes a conversation (after PART, or a private conversation the user dismisses). */
  remove(key: string): void {
    if (key === SERVER_KEY || !this.conversations.has(key)) return;
    this.conversations.delete(key);
    if (this.activeKey === key) {
      const next = this.rooms()[0] ?? this.dms()[0];
      this.setActive(next ? next.key : SERVER_KEY);
    }
    this.touch('sidebar');
  }

  expectJoin(room: string): void {
    this.pendingFocus.add(this.keyOf(room));
  }

  /** Appends a line; counts it as unread when the conversation is not in view. */
  addLine(conv: Conversation, kind: LineKind, nick: string, text: string, time?: Date, self = false): Line {
    const highlight =
      !self && (kind === 'message' || kind === 'action' || kind === 'notice') && (conv.kind === 'dm' || this.mentionsMe(text));
    const line: Line = { id: nextLineId++, time: time ?? new Date(), kind, nick, text, self, highlight };
    conv.lines.push(line);
    if (conv.lines.length > MAX_LINES) conv.lines.splice(0, conv.lines.length - MAX_LINES);
    const hidden = typeof document !== 'undefined' && document.visibilityState === 'hidden';
    const inView = conv.key === this.activeKey && !hidden;
    if (conv.key === this.activeKey) {
      this.appended.push(line);
      this.touch('messages');
    }
    // Unread: not in view, or in view while the page is hidden (the title then shows the count).
    if (!inView && !self && (kind === 'message' || kind === 'action' || kind === 'notice')) {
      if (conv.unread === 0) conv.firstUnread = line.id;
      conv.unread += 1;
      if (highlight) conv.mentions += 1;
      this.touch('sidebar', 'status');
    }
    return line;
  }

  private mentionsMe(text: string): boolean {
    if (!this.nick) return false;
    const escaped = this.nick.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(^|[^\\w])${escaped}($|[^\\w])`, 'i').test(text);
  }

  // --- members ---

  static parseMember(entry: string): Member {
    let i = 0;
    while (i < entry.length && STATUS_PREFIXES.includes(entry[i]!)) i += 1;
    // userhost-in-names form "nick!user@host": keep the nick only.
    const nick = entry.slice(i).split('!')[0]!;
    return { nick, modes: entry.slice(0, i) };
  }

  addNames(room: string, entries: string[]): void {
    const key = this.keyOf(room);
    let buf = this.namesBuffer.get(key);
    if (!buf) {
      buf = new Map();
      this.namesBuffer.set(key, buf);
    }
    for (const e of entries) {
      if (!e) continue;
      const m = ChatState.parseMember(e);
      buf.set(foldCase(m.nick), m);
    }
  }

  endNames(room: string): void {
    const key = this.keyOf(room);
    const conv = this.conversations.get(key);
    const buf = this.namesBuffer.get(key) ?? new Map<string, Member>();
    this.namesBuffer.delete(key);
    if (!conv) return;
    conv.members = buf;
    this.touch('members', 'header');
  }

  joined(room: string, nick: string): Conversation {
    const conv = this.ensure(room);
    if (this.isMe(nick)) {
      conv.joined = true;
      conv.members = new Map();
      conv.name = room;
      if (this.pendingFocus.delete(conv.key) || this.activeKey === SERVER_KEY) this.setActive(conv.key);
      this.touch('sidebar', 'header');
    }
    conv.members.set(foldCase(nick), { nick, modes: conv.members.get(foldCase(nick))?.modes ?? '' });
    this.touch('members', 'header');
    return conv;
  }

  left(room: string, nick: string): Conversation | undefined {
    const conv = this.get(room);
    if (!conv) return undefined;
    conv.members.delete(foldCase(nick));
    if (this.isMe(nick)) {
      conv.joined = false;
      conv.members.clear();
      this.touch('sidebar');
    }
    this.touch('members', 'header');
    return conv;
  }

  /** Rooms where a nick is a member (for QUIT and NICK). */
  roomsWith(nick: string): Conversation[] {
    const k = foldCase(nick);
    return this.rooms().filter((c) => c.members.has(k));
  }

  renamed(oldNick: string, newNick: string): void {
    for (const conv of this.roomsWith(oldNick)) {
      const m = conv.members.get(foldCase(oldNick))!;
      conv.members.delete(foldCase(oldNick));
      conv.members.set(foldCase(newNick), { nick: newNick, modes: m.modes });
    }
    const dm = this.get(oldNick);
    if (dm && dm.kind === 'dm' && !this.get(newNick)) {
      this.conversations.delete(dm.key);
      dm.key = this.keyOf(newNick);
      dm.name = newNick;
      this.conversations.set(dm.key, dm);
      if (this.activeKey === this.keyOf(oldNick)) this.activeKey = dm.key;
    }
    if (this.isMe(oldNick)) this.nick = newNick;
    this.touch('members', 'sidebar', 'header', 'status');
  }

  setModes(room: string, nick: string, add: boolean, prefix: string): void {
    const conv = this.get(room);
    const m = conv?.members.get(foldCase(nick));
    if (!conv || !m) return;
    const set = new Set(m.modes.split('').filter(Boolean));
    if (add) set.add(prefix);
    else set.delete(prefix);
    m.modes = STATUS_PREFIXES.split('').filter((c) => set.has(c)).join('');
    this.touch('members');
  }

  // --- room list (LIST) ---

  listStart(): void {
    this.listing = true;
    this.listBuffer = [];
    this.touch('rooms');
  }

  listEntry(info: RoomInfo): void {
    if (!this.listing) this.listStart();
    this.listBuffer.push(info);
  }

  listEnd(): void {
    this.listing = false;
    this.roomList = this.listBuffer.sort((a, b) => b.users - a.users || a.name.localeCompare(b.name));
    this.listBuffer = [];
    this.listedAt = new Date();
    this.touch('rooms');
  }

  /** Forgets per-connection state (members, joined flags) when the link drops; keeps the history. */
  disconnected(): void {
    for (const conv of this.conversations.values()) {
      conv.members.clear();
      if (conv.kind === 'room') conv.joined = false;
    }
    this.listing = false;
    this.namesBuffer.clear();
    this.touch('sidebar', 'members', 'header');
  }
}
