// Entry point: the login form, the connection, and the glue between state, view and input.
import { runInput, type Effects } from './commands.js';
import { IrcConnection, type Status } from './connection.js';
import { handleMessage } from './handler.js';
import { foldCase, isChannel } from './irc.js';
import { loadNick, loadRooms, saveNick, saveRooms } from './saved.js';
import { ChatState, SERVER_KEY } from './state.js';
import { View } from './view.js';

const NICK_RE = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,29}$/;

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`missing #${id}`);
  return e as T;
}

/**
 * The WebSocket address: the origin that served the page (epchat's HTTP listener takes the upgrade on
 * the same port). Never taken from the URL: a link must not be able to send what is typed here, a
 * password included, to another server (the server's Content-Security-Policy forbids it too).
 */
function serverUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
}

const state = new ChatState();
let conn: IrcConnection | null = null;
let everOnline = false;

const app = byId('app');
const login = byId('login');
const loginForm = byId<HTMLFormElement>('login-form');
const loginError = byId('login-error');
const input = byId<HTMLTextAreaElement>('input');
const roomsDialog = byId('rooms-dialog');

function closeNav(): void {
  document.body.classList.remove('nav-open', 'members-open');
}

const view = new View(state, {
  select(key) {
    state.setActive(key);
    closeNav();
    input.focus({ preventScroll: true });
  },
  openDm(nick) {
    state.setActive(state.ensure(nick).key);
    closeNav();
    input.focus({ preventScroll: true });
  },
  joinRoom(name) {
    const conv = state.get(name);
    if (conv?.joined) state.setActive(conv.key);
    else runInput(state, conn ?? offline, `/join ${name}`, effects);
    closeRooms();
  },
  refreshRooms() {
    requestList(true);
  },
  retryNow() {
    conn?.retryNow();
  },
});
state.onChange((changes) => {
  view.render(changes);
  // Remember the rooms in the sidebar (the ones a reconnect rejoins; /part removes one), keyed by the
  // nickname typed at login, which is what the next visit starts with.
  if (changes.has('sidebar') && state.status === 'online' && loginNick) saveRooms(loginNick, state.rooms().map((r) => r.name));
});
let loginNick = '';

const offline = { send: () => false, isOnline: false };

/** Asks for the room list (LIST), unless an answer is already on its way. */
function requestList(force = false): void {
  if (!conn?.isOnline || (state.listing && !force)) return;
  state.listStart();
  conn.send('LIST');
}

function openRooms(): void {
  roomsDialog.hidden = false;
  closeNav();
  view.renderRooms();
  const f = byId<HTMLInputElement>('rooms-filter');
  f.focus();
  requestList();
}

function closeRooms(): void {
  roomsDialog.hidden = true;
  byId<HTMLInputElement>('rooms-filter').value = '';
  input.focus({ preventScroll: true });
}

const effects: Effects = {
  openRooms,
  quit(reason) {
    conn?.stop('You left', reason);
  },
};

function showLogin(error: string): void {
  app.hidden = true;
  login.hidden = false;
  loginError.textContent = error;
  byId<HTMLButtonElement>('login-submit').disabled = false;
  byId<HTMLInputElement>('login-nick').focus();
}

function onStatus(s: Status): void {
  switch (s.state) {
    case 'connecting':
      state.status = 'connecting';
      break;
    case 'online':
      state.status = 'online';
      everOnline = true;
      break;
    case 'waiting':
      state.status = `waiting:${s.retryAt}`;
      state.disconnected();
      break;
    case 'stopped':
      state.status = 'offline';
      state.disconnected();
      conn = null;
      showLogin(s.reason === 'You left' ? '' : s.reason);
      break;
  }
  state.touch('status');
}

function connect(nick: string, account?: { name: string; password: string }): void {
  everOnline = false;
  let firstRegistration = true;
  state.nick = nick;
  const c = new IrcConnection(
    { url: serverUrl(), nick, ...(account ? { account } : {}) },
    {
      message: (msg) => handleMessage(state, msg, c),
      status: onStatus,
      info: (text, isError) => state.addLine(state.server, isError ? 'error' : 'info', '', text),
      registered: (me) => {
        state.nick = me;
        const rooms = state.rooms().map((r) => r.name);
        // Rejoin after a reconnect, in batches that keep each JOIN line short.
        for (let i = 0; i < rooms.length; i += 10) c.sendCommand('JOIN', rooms.slice(i, i + 10).join(','));
        // A fresh page goes back to the rooms this nickname was in last time; a newcomer sees the room
        // browser first; a reconnect only refreshes the list.
        const saved = firstRegistration && rooms.length === 0 ? loadRooms(loginNick) : [];
        if (saved.length > 0) {
          state.expectJoin(saved[0]!);
          for (let i = 0; i < saved.length; i += 10) c.sendCommand('JOIN', saved.slice(i, i + 10).join(','));
          requestList();
        } else if (firstRegistration && rooms.length === 0 && state.dms().length === 0) openRooms();
        else requestList();
        firstRegistration = false;
        state.touch('status', 'sidebar');
      },
    },
  );
  conn = c;
  login.hidden = true;
  app.hidden = false;
  view.renderAll();
  c.start();
}

// --- login ---

const savedNick = loadNick();
if (savedNick) byId<HTMLInputElement>('login-nick').value = savedNick;

loginForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const useAccount = byId<HTMLDetailsElement>('login-account').open;
  const name = byId<HTMLInputElement>('login-user').value.trim();
  const password = byId<HTMLInputElement>('login-pass').value;
  // With an account the nickname may stay empty: the account's name is its nickname.
  const nick = byId<HTMLInputElement>('login-nick').value.trim() || (useAccount ? name : '');
  if (!NICK_RE.test(nick)) {
    loginError.textContent = 'A nickname is 1–30 letters, digits or - _ [ ] { } | ^ ` \\, and does not start with a digit or -.';
    return;
  }
  if (useAccount && (!name || !password)) {
    loginError.textContent = 'Enter both the account name and the password, or close "Log in with an account".';
    return;
  }
  loginError.textContent = '';
  byId<HTMLButtonElement>('login-submit').disabled = true;
  saveNick(nick);
  loginNick = nick;
  connect(nick, useAccount ? { name, password } : undefined);
});

// --- composer ---

function autoGrow(): void {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

function submitInput(): void {
  const text = input.value;
  if (!text.trim()) return;
  if (runInput(state, conn ?? offline, text.trim().startsWith('/') ? text.trim() : text, effects)) {
    input.value = '';
    autoGrow();
  }
}

/** Tab completes a nick from the room in view. */
function completeNick(): boolean {
  const pos = input.selectionStart ?? input.value.length;
  const before = input.value.slice(0, pos);
  const m = /(\S+)$/.exec(before);
  if (!m) return false;
  const word = foldCase(m[1]!);
  const found = [...state.active.members.values()].map((x) => x.nick).find((n) => foldCase(n).startsWith(word) && !state.isMe(n));
  if (!found) return false;
  const suffix = before.length === m[1]!.length ? ': ' : ' ';
  input.value = before.slice(0, pos - m[1]!.length) + found + suffix + input.value.slice(pos);
  const at = pos - m[1]!.length + found.length + suffix.length;
  input.setSelectionRange(at, at);
  return true;
}

input.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    submitInput();
  } else if (ev.key === 'Tab' && !ev.shiftKey && input.value) {
    if (completeNick()) ev.preventDefault();
  }
});
input.addEventListener('input', autoGrow);
byId<HTMLFormElement>('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  submitInput();
  input.focus({ preventScroll: true });
});

// --- chrome: drawer, members panel, room browser ---

byId('menu').addEventListener('click', () => document.body.classList.toggle('nav-open'));
byId('backdrop').addEventListener('click', closeNav);
byId('members-toggle').addEventListener('click', () => {
  if (window.matchMedia('(max-width: 1000px)').matches) document.body.classList.toggle('members-open');
  else document.body.classList.toggle('members-hidden');
});
byId('members-close').addEventListener('click', () => document.body.classList.remove('members-open'));
byId('nav-server').addEventListener('click', () => {
  state.setActive(SERVER_KEY);
  closeNav();
});
byId('browse').addEventListener('click', openRooms);
byId('rooms-close').addEventListener('click', closeRooms);
roomsDialog.addEventListener('click', (ev) => {
  if (ev.target === roomsDialog) closeRooms();
});
byId<HTMLFormElement>('rooms-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = byId<HTMLInputElement>('rooms-filter');
  const name = f.value.trim().replace(/\s+/g, '-');
  if (!name) return;
  const room = isChannel(name) ? name : `#${name}`;
  const conv = state.get(room);
  if (conv?.joined) state.setActive(conv.key);
  else runInput(state, conn ?? offline, `/join ${room}`, effects);
  closeRooms();
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') {
    if (!roomsDialog.hidden) closeRooms();
    else closeNav();
  }
});

// --- lifecycle ---

window.addEventListener('online', () => conn?.retryNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') state.setActive(state.activeKey);
});
window.addEventListener('beforeunload', () => {
  if (conn && everOnline) conn.stop('You left', 'Page closed');
});

