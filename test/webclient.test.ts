// The web client's logic without a browser: IRC parsing and formatting, splitting long text, the
// reconnect back-off, and the chat state driven by server lines. Loads the modules that
// `npm run build:web` compiled into dist/web/ (the browser build; these parts use no DOM).
import { test } from 'uvu';
import * as assert from 'uvu/assert';

interface Msg {
  tags: Map<string, string>;
  prefix: string;
  command: string;
  params: string[];
}
interface IrcModule {
  parseLine(raw: string): Msg | null;
  formatLine(command: string, ...params: string[]): string;
  splitForLine(text: string, maxBytes: number): string[];
  foldCase(s: string): string;
  parseCtcp(text: string): { verb: string; text: string } | null;
  setCaseMapping(name: string): string;
}
interface Conv {
  key: string;
  name: string;
  kind: string;
  topic: string;
  members: Map<string, { nick: string; modes: string }>;
  lines: { id: number; kind: string; nick: string; text: string; highlight: boolean; time: Date }[];
  unread: number;
  mentions: number;
  newFrom: number;
  joined: boolean;
}
interface StateLike {
  nick: string;
  activeKey: string;
  get(name: string): Conv | undefined;
  rooms(): Conv[];
  dms(): Conv[];
  setActive(key: string): void;
}

const web = new URL('../web/', import.meta.url);
const irc = (await import(new URL('irc.js', web).href)) as IrcModule;
const { backoffDelay } = (await import(new URL('connection.js', web).href)) as { backoffDelay(n: number, r?: () => number): number };
const { ChatState } = (await import(new URL('state.js', web).href)) as { ChatState: new () => StateLike };
const { handleMessage } = (await import(new URL('handler.js', web).href)) as {
  handleMessage(s: StateLike, m: Msg, r: { sendCommand(...a: string[]): boolean }): void;
};
const { runInput } = (await import(new URL('commands.js', web).href)) as {
  runInput(s: StateLike, c: { send(line: string): boolean; isOnline: boolean }, input: string, fx: { openRooms(): void; quit(r: string): void }): boolean;
};
// saved.ts reads window.localStorage: a Map-backed stand-in.
const storage = new Map<string, string>();
(globalThis as { window?: unknown }).window = {
  localStorage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v) },
};
const saved = (await import(new URL('saved.js', web).href)) as {
  loadRooms(nick: string): string[];
  saveRooms(nick: string, rooms: string[]): void;
  loadNick(): string;
  saveNick(nick: string): void;
};

test('parseLine: tags (unescaped), prefix, middle and trailing parameters', () => {
  const m = irc.parseLine('@time=2026-01-02T03:04:05.678Z;msgid=a\\sb\\:c;flag :alice!a@h PRIVMSG #room :hello :) there\r\n')!;
  assert.is(m.tags.get('time'), '2026-01-02T03:04:05.678Z');
  assert.is(m.tags.get('msgid'), 'a b;c');
  assert.is(m.tags.get('flag'), '');
  assert.is(m.prefix, 'alice!a@h');
  assert.is(m.command, 'PRIVMSG');
  assert.equal(m.params, ['#room', 'hello :) there']);
  assert.equal(irc.parseLine('ping  x')!.params, ['x']);
  assert.is(irc.parseLine('PING')!.command, 'PING');
  assert.equal(irc.parseLine(':s 001 me :')!.params, ['me', '']);
  assert.is(irc.parseLine(''), null);
  assert.is(irc.parseLine(':prefixonly'), null);
});

test('formatLine: trailing parameter when needed; CR, LF and NUL can never start a second command', () => {
  assert.is(irc.formatLine('NICK', 'bob'), 'NICK bob');
  assert.is(irc.formatLine('PRIVMSG', '#a', 'two words'), 'PRIVMSG #a :two words');
  assert.is(irc.formatLine('PRIVMSG', '#a', ':colon'), 'PRIVMSG #a ::colon');
  assert.is(irc.formatLine('TOPIC', '#a', ''), 'TOPIC #a :');
  const line = irc.formatLine('PRIVMSG', '#a\r\nQUIT', 'hi\r\nQUIT :bye\0');
  assert.not.match(line, /[\r\n\0]/);
  assert.is(irc.parseLine(line)!.command, 'PRIVMSG');
});

test('splitForLine: pieces fit the byte budget, never cut a character, keep the words', () => {
  const enc = new TextEncoder();
  const text = 'héllo wörld 👋 '.repeat(60).trim();
  const pieces = irc.splitForLine(text, 100);
  assert.ok(pieces.length > 1);
  for (const p of pieces) {
    assert.ok(enc.encode(p).length <= 100, `${enc.encode(p).length} bytes`);
    assert.not.match(p, /\uFFFD/);
  }
  assert.is(pieces.join(' ').replace(/\s+/g, ' '), text);
  const noSpaces = '漢'.repeat(100);
  assert.is(irc.splitForLine(noSpaces, 10).join(''), noSpaces);
  assert.equal(irc.splitForLine('short', 100), ['short']);
});

test('foldCase and CTCP', () => {
  assert.is(irc.foldCase('Bob[Away]~\\'), 'bob{away}^|');
  assert.equal(irc.parseCtcp('\x01ACTION waves\x01'), { verb: 'ACTION', text: 'waves' });
  assert.equal(irc.parseCtcp('\x01VERSION\x01'), { verb: 'VERSION', text: '' });
  assert.is(irc.parseCtcp('plain'), null);
});

test('backoffDelay: doubles from 1 s, capped at 30 s, with jitter in the upper half', () => {
  assert.is(backoffDelay(0, () => 0), 500);
  assert.is(backoffDelay(0, () => 1), 1000);
  assert.is(backoffDelay(3, () => 1), 8000);
  assert.is(backoffDelay(10, () => 1), 30000);
  assert.is(backoffDelay(1000, () => 0), 15000);
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(2);
    assert.ok(d >= 2000 && d <= 4000, String(d));
  }
});

function feed(state: StateLike, ...lines: string[]): string[] {
  const sent: string[] = [];
  for (const l of lines) handleMessage(state, irc.parseLine(l)!, { sendCommand: (...a) => (sent.push(a.join(' ')), true) });
  return sent;
}

test('state: joins, NAMES with prefixes, messages with server-time, unread and mentions', () => {
  const s = new ChatState();
  feed(s, ':srv 001 alice :Welcome', ':alice!a@h JOIN #lobby', ':srv 353 alice = #lobby :@alice +bob carol', ':srv 366 alice #lobby :End');
  const lobby = s.get('#LOBBY')!;
  assert.ok(lobby.joined);
  assert.is(s.activeKey, '#lobby');
  assert.equal([...lobby.members.values()].map((m) => m.nick + ':' + m.modes), ['alice:@', 'bob:+', 'carol:']);
  feed(s, ':alice!a@h JOIN #dev', '@time=2026-01-02T03:04:05.000Z :bob!b@h PRIVMSG #lobby :hi Alice!', ':carol!c@h PRIVMSG #lobby :\x01ACTION waves\x01');
  // #dev came second and was not asked for, so #lobby stays in view and counts nothing.
  assert.is(s.activeKey, '#lobby');
  s.setActive('#dev');
  feed(s, ':bob!b@h PRIVMSG #lobby :more', ':bob!b@h PRIVMSG #lobby :alice?');
  assert.is(lobby.unread, 2);
  assert.is(lobby.mentions, 1);
  const hi = lobby.lines.find((l) => l.text === 'hi Alice!')!;
  assert.is(hi.time.toISOString(), '2026-01-02T03:04:05.000Z');
  assert.ok(hi.highlight);
  assert.is(lobby.lines.find((l) => l.kind === 'action')!.text, 'waves');
  s.setActive('#lobby');
  assert.is(lobby.unread, 0);
});

test('state: private messages, nick changes, quits and parts', () => {
  const s = new ChatState();
  feed(s, ':srv 001 alice :Welcome', ':alice!a@h JOIN #lobby', ':srv 353 alice = #lobby :alice bob', ':srv 366 alice #lobby :End');
  feed(s, ':bob!b@h PRIVMSG alice :psst');
  const dm = s.get('bob')!;
  assert.is(dm.kind, 'dm');
  assert.is(dm.unread, 1);
  assert.is(dm.mentions, 1);
  feed(s, ':bob!b@h NICK :robert');
  assert.is(s.get('bob'), undefined);
  assert.is(s.get('robert')!.lines[0]!.text, 'psst');
  assert.ok(s.get('#lobby')!.members.has('robert'));
  feed(s, ':alice!a@h NICK :ally');
  assert.is(s.nick, 'ally');
  feed(s, ':robert!b@h QUIT :gone');
  assert.not.ok(s.get('#lobby')!.members.has('robert'));
  assert.ok(s.get('#lobby')!.lines.some((l) => l.text === 'robert quit (gone)'));
  const sent = feed(s, ':x!x@h PRIVMSG ally :\x01VERSION\x01');
  assert.equal(sent, ['NOTICE x \x01VERSION epchat web client\x01']);
  assert.is(s.get('x'), undefined, 'a CTCP request opens no conversation');
  feed(s, ':ally!a@h PART #lobby');
  assert.is(s.rooms().length, 0);
});

test('state: LIST fills the room list, busiest first', () => {
  const s = new ChatState() as StateLike & { roomList: { name: string; users: number; topic: string }[]; listing: boolean };
  feed(s, ':srv 001 alice :Welcome', ':srv 321 alice Channel :Users Name', ':srv 322 alice #a 2 :[+nt] quiet', ':srv 322 alice #b 7 :busy');
  assert.ok(s.listing);
  feed(s, ':srv 323 alice :End');
  assert.not.ok(s.listing);
  assert.equal(s.roomList, [
    { name: '#b', users: 7, topic: 'busy' },
    { name: '#a', users: 2, topic: 'quiet' },
  ]);
});

test('state: the "new messages" divider marks the first line that arrived out of view', () => {
  const s = new ChatState();
  feed(s, ':srv 001 alice :Welcome', ':alice!a@h JOIN #lobby', ':alice!a@h JOIN #dev');
  const lobby = s.get('#lobby')!;
  feed(s, ':bob!b@h PRIVMSG #lobby :seen');
  assert.is(lobby.newFrom, 0, 'nothing is new in the conversation in view');
  s.setActive('#dev');
  feed(s, ':bob!b@h PRIVMSG #lobby :first unseen', ':bob!b@h PRIVMSG #lobby :second unseen');
  s.setActive('#lobby');
  assert.is(lobby.newFrom, lobby.lines.find((l) => l.text === 'first unseen')!.id);
  feed(s, ':bob!b@h PRIVMSG #lobby :while looking');
  s.setActive('#lobby');
  assert.is(lobby.newFrom, lobby.lines.find((l) => l.text === 'first unseen')!.id, 'kept while in view');
  s.setActive('#dev');
  s.setActive('#lobby');
  assert.is(lobby.newFrom, 0, 'gone once looked at and left with nothing new');
});

test('CASEMAPPING from ISUPPORT: ascii folds A-Z only; rfc1459 (the default) also folds []\\~', () => {
  const s = new ChatState();
  try {
    feed(s, ':srv 001 Al[ice] :Welcome', ':srv 005 Al[ice] CHANTYPES=# CASEMAPPING=ascii NICKLEN=24 :are supported by this server');
    assert.is(irc.foldCase('Al[ICE]~'), 'al[ice]~');
    feed(s, ':Al[ice]!a@h JOIN #Lobby', ':al{ice}!b@h JOIN #lobby');
    assert.equal([...s.get('#LOBBY')!.members.keys()].sort(), ['al[ice]', 'al{ice}'], 'two nicks under ascii');
  } finally {
    irc.setCaseMapping('rfc1459');
  }
  assert.is(irc.foldCase('Al[ICE]~'), 'al{ice}^');
});

test('/join #a,#b joins both in one line and brings the first into view', () => {
  const s = new ChatState();
  feed(s, ':srv 001 alice :Welcome');
  const sent: string[] = [];
  const ok = runInput(s, { send: (l) => (sent.push(l), true), isOnline: true }, '/join lobby,#random', { openRooms() {}, quit() {} });
  assert.ok(ok);
  assert.equal(sent, ['JOIN #lobby,#random']);
  feed(s, ':alice!a@h JOIN #lobby', ':alice!a@h JOIN #random');
  assert.is(s.activeKey, '#lobby');
  assert.equal(s.rooms().map((r) => r.name), ['#lobby', '#random']);
});

test('saved rooms: per nickname (case-folded), only well-formed room names, bounded', () => {
  saved.saveNick('Erin');
  assert.is(saved.loadNick(), 'Erin');
  saved.saveRooms('Erin', ['#lobby', '#random']);
  assert.equal(saved.loadRooms('erin'), ['#lobby', '#random']);
  assert.equal(saved.loadRooms('frank'), []);
  storage.set('epchat.rooms.frank', JSON.stringify(['#ok', 'nohash', '#a,#b', '#sp ace', 7, null]));
  assert.equal(saved.loadRooms('frank'), ['#ok']);
  storage.set('epchat.rooms.frank', '{not json');
  assert.equal(saved.loadRooms('frank'), []);
  saved.saveRooms('many', Array.from({ length: 80 }, (_, i) => `#r${i}`));
  assert.is(saved.loadRooms('many').length, 50);
});

test.run();
