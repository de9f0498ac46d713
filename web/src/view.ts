// DOM rendering. Every piece of text from the network goes in through textContent (or an attribute
// set with setAttribute on an element we created); nothing here parses HTML.
import { initial, nickHue } from './colour.js';
import { foldCase } from './irc.js';
import { SERVER_KEY, type Change, type ChatState, type Conversation, type Line, type Member } from './state.js';

export interface ViewActions {
  select(key: string): void;
  openDm(nick: string): void;
  joinRoom(name: string): void;
  refreshRooms(): void;
  retryNow(): void;
}

const GROUP_MS = 5 * 60 * 1000;
const RANK = '~&@%+';
const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function hueOf(e: HTMLElement, nick: string): HTMLElement {
  e.style.setProperty('--hue', String(nickHue(nick)));
  return e;
}

function avatar(nick: string, cls = 'avatar'): HTMLElement {
  const a = hueOf(el('span', cls, initial(nick)), nick);
  a.setAttribute('aria-hidden', 'true');
  return a;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** "11:36" without the day period: fits the narrow gutter beside grouped lines and events. */
function shortTime(d: Date): string {
  return timeFmt
    .formatToParts(d)
    .filter((p) => p.type === 'hour' || p.type === 'minute' || (p.type === 'literal' && p.value.trim() !== ''))
    .map((p) => p.value)
    .join('');
}

function timeEl(d: Date, short = false): HTMLTimeElement {
  const t = el('time', 'time', short ? shortTime(d) : timeFmt.format(d));
  t.dateTime = d.toISOString();
  t.title = fullFmt.format(d);
  return t;
}

function dayKey(d: Date): string {
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function dayLabel(d: Date): string {
  const today = new Date();
  if (dayKey(d) === dayKey(today)) return 'Today';
  const y = new Date(today.getTime() - 86400000);
  if (dayKey(d) === dayKey(y)) return 'Yesterday';
  return dayFmt.format(d);
}

/** Appends text to a parent, turning http(s) URLs into links (built as elements, never as markup). */
export function appendRichText(parent: HTMLElement, text: string): void {
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0].replace(/[.,;:!?)\]]+$/, '');
    const start = m.index ?? 0;
    if (start > at) parent.append(text.slice(at, start));
    let href: URL | null = null;
    try {
      href = new URL(url);
    } catch {
      href = null;
    }
    if (href && (href.protocol === 'http:' || href.protocol === 'https:')) {
      const a = el('a', 'link', url);
      a.href = href.href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      parent.append(a);
    } else {
      parent.append(url);
    }
    at = start + url.length;
  }
  if (at < text.length) parent.append(text.slice(at));
}

function rankOf(m: Member): number {
  const i = m.modes ? RANK.indexOf(m.modes[0]!) : -1;
  return i < 0 ? RANK.length : i;
}

export class View {
  private readonly messages = $('messages');
  private readonly jump = $('jump');
  private readonly roomsNav = $('nav-rooms');
  private readonly dmsNav = $('nav-dms');
  private readonly memberList = $('member-list');
  private lastLine: Line | null = null;
  /** The next message starts a new group (after the "new messages" divider). */
  private breakGroup = false;
  private renderedKey = '';

  constructor(
    private readonly state: ChatState,
    private readonly actions: ViewActions,
  ) {
    $('rooms-refresh').addEventListener('click', () => actions.refreshRooms());
    $('banner-retry').addEventListener('click', () => actions.retryNow());
    $('rooms-filter').addEventListener('input', () => this.renderRooms());
    // Scrolled up to read while messages arrive: a button says so and goes back down.
    this.jump.addEventListener('click', () => {
      this.messages.scrollTop = this.messages.scrollHeight;
      this.jump.hidden = true;
    });
    this.messages.addEventListener('scroll', () => {
      if (!this.jump.hidden && this.atBottom()) this.jump.hidden = true;
    });
    window.setInterval(() => this.renderStatus(), 1000);
  }

  private atBottom(): boolean {
    const box = this.messages;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  render(changes: Set<Change>): void {
    if (changes.has('sidebar')) this.renderSidebar();
    if (changes.has('header')) this.renderHeader();
    if (changes.has('members')) {
      this.renderMembers();
      this.renderHeader();
    }
    if (changes.has('messages')) this.renderMessages();
    if (changes.has('rooms')) this.renderRooms();
    if (changes.has('status') || changes.has('sidebar')) this.renderStatus();
  }

  renderAll(): void {
    this.render(new Set<Change>(['sidebar', 'header', 'members', 'messages', 'rooms', 'status']));
  }

  // --- sidebar ---

  private navItem(conv: Conversation): HTMLLIElement {
    const li = el('li');
    const b = el('button', 'nav-item');
    b.type = 'button';
    b.dataset['key'] = conv.key;
    if (conv.key === this.state.activeKey) {
      b.classList.add('active');
      b.setAttribute('aria-current', 'page');
    }
    if (conv.kind === 'room') {
      b.append(el('span', 'nav-hash', '#'));
      b.append(el('span', 'nav-name', conv.name.replace(/^[#&]/, '')));
      if (!conv.joined) b.classList.add('parted');
    } else {
      const a = avatar(conv.name, 'avatar small');
      b.append(a, el('span', 'nav-name', conv.name));
    }
    if (conv.unread > 0) {
      b.classList.add('unread');
      const badge = el('span', conv.mentions > 0 ? 'badge mention' : 'badge', conv.unread > 99 ? '99+' : String(conv.unread));
      badge.setAttribute('aria-label', `${conv.unread} unread`);
      b.append(badge);
    }
    b.addEventListener('click', () => this.actions.select(conv.key));
    li.append(b);
    return li;
  }

  private renderSidebar(): void {
    const rooms = this.state.rooms();
    this.roomsNav.replaceChildren(...rooms.map((c) => this.navItem(c)));
    if (rooms.length === 0) this.roomsNav.append(el('li', 'nav-empty', 'No rooms yet'));
    const dms = this.state.dms();
    this.dmsNav.replaceChildren(...dms.map((c) => this.navItem(c)));
    if (dms.length === 0) this.dmsNav.append(el('li', 'nav-empty', 'Click a member to talk'));
    const server = $('nav-server');
    server.classList.toggle('active', this.state.activeKey === SERVER_KEY);
    const total = this.state.totalUnread();
    const name = this.state.active.kind === 'server' ? 'epchat' : `${this.state.active.name} · epchat`;
    document.title = total > 0 ? `(${total}) ${name}` : name;
    $('menu-dot').hidden = total === 0;
  }

  // --- header ---

  private renderHeader(): void {
    const conv = this.state.active;
    const title = $('conv-name');
    const topic = $('conv-topic');
    title.replaceChildren();
    if (conv.kind === 'room') title.append(el('span', 'hash', '#'), conv.name.replace(/^[#&]/, ''));
    else if (conv.kind === 'dm') title.append(avatar(conv.name, 'avatar small'), conv.name);
    else title.append('Server');
    topic.replaceChildren();
    if (conv.kind === 'room') {
      if (conv.topic) appendRichText(topic, conv.topic);
      else topic.append(conv.joined ? 'No topic set' : 'You are not in this room');
      topic.classList.toggle('empty', !conv.topic);
    } else if (conv.kind === 'dm') {
      topic.append('Private conversation');
      topic.classList.add('empty');
    } else {
      topic.append('Messages from the server');
      topic.classList.add('empty');
    }
    topic.title = conv.topic;
    const toggle = $('members-toggle');
    toggle.hidden = conv.kind !== 'room';
    $('members-count').textContent = String(conv.members.size);
    const input = $('input') as HTMLTextAreaElement;
    input.placeholder =
      conv.kind === 'room' ? `Message ${conv.name}` : conv.kind === 'dm' ? `Message ${conv.name}` : 'Type /join #room, or /help';
    document.body.classList.toggle('no-members', conv.kind !== 'room');
  }

  // --- members ---

  private renderMembers(): void {
    const conv = this.state.active;
    const members = [...conv.members.values()].sort((a, b) => rankOf(a) - rankOf(b) || foldCase(a.nick).localeCompare(foldCase(b.nick)));
    $('members-title').textContent = `Members · ${members.length}`;
    this.memberList.replaceChildren(
      ...members.map((m) => {
        const li = el('li');
        const b = el('button', 'member');
        b.type = 'button';
        b.title = this.state.isMe(m.nick) ? 'You' : `Message ${m.nick}`;
        b.append(avatar(m.nick, 'avatar small'));
        const name = hueOf(el('span', 'member-nick nick', m.nick), m.nick);
        b.append(name);
        if (this.state.isMe(m.nick)) b.append(el('span', 'you', 'you'));
        if (m.modes) b.append(el('span', 'role', m.modes[0] === '+' ? 'voice' : 'op'));
        b.addEventListener('click', () => {
          if (!this.state.isMe(m.nick)) this.actions.openDm(m.nick);
        });
        li.append(b);
        return li;
      }),
    );
  }

  // --- messages ---

  private renderMessages(): void {
    const conv = this.state.active;
    const box = this.messages;
    const nearBottom = this.atBottom();
    if (this.renderedKey !== conv.key || this.state.appended.length === 0 || box.childElementCount === 0) {
      this.jump.hidden = true;
      this.renderedKey = conv.key;
      this.lastLine = null;
      const frag = document.createDocumentFragment();
      if (conv.lines.length === 0) frag.append(this.emptyState(conv));
      let divider: HTMLElement | null = null;
      for (const line of conv.lines) {
        if (line.id === conv.newFrom) {
          divider = el('div', 'new-divider');
          divider.append(el('span', '', 'New messages'));
          frag.append(divider);
          this.breakGroup = true;
        }
        frag.append(...this.lineNodes(line));
      }
      box.replaceChildren(frag);
      this.state.appended = [];
      // Opened with unread messages: show them from the divider on; else the latest.
      box.scrollTop = box.scrollHeight;
      if (divider) {
        const at = divider.getBoundingClientRect().top - box.getBoundingClientRect().top;
        if (at < 0) box.scrollTop += at - 8;
      }
      return;
    }
    box.querySelector('.empty-state')?.remove();
    const fromOthers = this.state.appended.some((l) => !l.self);
    for (const line of this.state.appended) box.append(...this.lineNodes(line));
    this.state.appended = [];
    // Trim what the state has dropped.
    while (box.childElementCount > conv.lines.length * 2 + 10) box.firstElementChild?.remove();
    if (nearBottom || this.lastLine?.self) {
      box.scrollTop = box.scrollHeight;
      this.jump.hidden = true;
    } else if (fromOthers) {
      this.jump.hidden = false;
    }
  }

  private emptyState(conv: Conversation): HTMLElement {
    const d = el('div', 'empty-state');
    if (conv.kind === 'room') {
      d.append(el('div', 'empty-icon', '#'), el('h2', '', `Welcome to ${conv.name}`), el('p', '', 'This is the start of the conversation. Say hello!'));
    } else if (conv.kind === 'dm') {
      d.append(avatar(conv.name, 'avatar large'), el('h2', '', conv.name), el('p', '', `Messages here are only between you and ${conv.name}.`));
    } else {
      d.append(el('h2', '', 'Server'), el('p', '', 'Notices from the server appear here. Open a room from the sidebar, or type /join #room.'));
    }
    return d;
  }

  private lineNodes(line: Line): HTMLElement[] {
    const out: HTMLElement[] = [];
    const prev = this.lastLine;
    if (!prev || dayKey(prev.time) !== dayKey(line.time)) {
      const sep = el('div', 'day');
      sep.append(el('span', '', dayLabel(line.time)));
      out.push(sep);
    }
    this.lastLine = line;
    const breakGroup = this.breakGroup;
    this.breakGroup = false;
    if (line.kind === 'event' || line.kind === 'info' || line.kind === 'error') {
      const row = el('div', `line ${line.kind}`);
      row.append(timeEl(line.time, true), el('span', 'line-text', line.text));
      if (line.kind === 'error') row.setAttribute('role', 'alert');
      out.push(row);
      return out;
    }
    const grouped =
      !breakGroup &&
      line.kind === 'message' &&
      prev !== null &&
      prev.kind === 'message' &&
      foldCase(prev.nick) === foldCase(line.nick) &&
      line.time.getTime() - prev.time.getTime() < GROUP_MS &&
      dayKey(prev.time) === dayKey(line.time);
    const row = el('div', `msg ${line.kind}`);
    if (line.self) row.classList.add('self');
    if (line.highlight) row.classList.add('highlight');
    row.dataset['nick'] = line.nick;
    const gutter = el('div', 'gutter');
    const body = el('div', 'body');
    if (grouped) {
      row.classList.add('grouped');
      gutter.append(timeEl(line.time, true));
    } else if (line.kind !== 'action') {
      gutter.append(avatar(line.nick));
      const meta = el('div', 'meta');
      meta.append(hueOf(el('span', 'nick', line.nick), line.nick), timeEl(line.time));
      if (line.kind === 'notice') meta.append(el('span', 'tag', 'notice'));
      body.append(meta);
    } else {
      gutter.append(timeEl(line.time, true));
    }
    const text = el('div', 'text');
    if (line.kind === 'action') {
      text.append(hueOf(el('span', 'nick', line.nick), line.nick), ' ');
    }
    appendRichText(text, line.text);
    body.append(text);
    row.append(gutter, body);
    out.push(row);
    return out;
  }

  // --- room browser ---

  renderRooms(): void {
    const list = $('rooms-list');
    const filter = ($('rooms-filter') as HTMLInputElement).value.trim().replace(/^#/, '').toLowerCase();
    const rooms = this.state.roomList.filter((r) => !filter || r.name.toLowerCase().includes(filter) || r.topic.toLowerCase().includes(filter));
    list.replaceChildren(
      ...rooms.map((r) => {
        const li = el('li', 'room-row');
        const info = el('div', 'room-info');
        const name = el('div', 'room-name');
        name.append(el('span', 'hash', '#'), r.name.replace(/^[#&]/, ''));
        info.append(name);
        if (r.topic) info.append(el('div', 'room-topic', r.topic));
        const count = el('span', 'room-count', String(r.users));
        count.title = `${r.users} ${r.users === 1 ? 'member' : 'members'}`;
        count.setAttribute('aria-label', count.title);
        const conv = this.state.get(r.name);
        const join = el('button', conv?.joined ? 'btn ghost' : 'btn', conv?.joined ? 'Open' : 'Join');
        join.type = 'button';
        join.addEventListener('click', () => this.actions.joinRoom(r.name));
        li.append(info, count, join);
        return li;
      }),
    );
    const status = $('rooms-status');
    if (this.state.listing) status.textContent = 'Loading rooms…';
    else if (!this.state.listedAt) status.textContent = '';
    else if (this.state.roomList.length === 0) status.textContent = 'No rooms yet: type a name above to create one.';
    else if (rooms.length === 0) status.textContent = `No room matches; press Join to create #${filter}.`;
    else status.textContent = `${this.state.roomList.length} ${this.state.roomList.length === 1 ? 'room' : 'rooms'}`;
  }

  // --- connection status ---

  private renderStatus(): void {
    const s = this.state.status;
    const dot = $('status-dot');
    const online = s === 'online';
    dot.className = `status-dot ${online ? 'on' : s === 'connecting' ? 'busy' : 'off'}`;
    $('me-nick').textContent = this.state.nick;
    const me = $('me-avatar');
    me.textContent = initial(this.state.nick || '?');
    hueOf(me, this.state.nick);
    $('me-status').textContent = online ? 'Online' : s === 'connecting' ? 'Connecting…' : s.startsWith('waiting') ? 'Reconnecting…' : 'Offline';
    const banner = $('banner');
    const text = $('banner-text');
    if (s.startsWith('waiting:')) {
      const at = Number(s.slice(8));
      const secs = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      text.textContent = `Connection lost. Reconnecting in ${secs} s…`;
      banner.hidden = false;
      $('banner-retry').hidden = false;
    } else if (s === 'connecting' && this.state.nick) {
      text.textContent = 'Connecting…';
      banner.hidden = false;
      $('banner-retry').hidden = true;
    } else {
      banner.hidden = true;
    }
  }
}
