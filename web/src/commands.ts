// What the user types: slash commands and plain text, turned into IRC commands and local effects.
import { formatLine, isChannel, splitForLine } from './irc.js';
import type { ChatState } from './state.js';

export interface Sender {
  send(line: string): boolean;
  readonly isOnline: boolean;
}

/** Room for the text in one PRIVMSG: 512 bytes minus CR LF, the command, the target and a long prefix. */
const TEXT_BYTES = 380;

export const HELP: ReadonlyArray<readonly [string, string]> = [
  ['/join #room', 'join a room (several: /join #a,#b)'],
  ['/part [#room] [reason]', 'leave the room in view (or the one named)'],
  ['/msg nick text', 'send a private message'],
  ['/me text', 'describe an action'],
  ['/nick name', 'change your nickname'],
  ['/topic [text]', 'show or set the room topic'],
  ['/list', 'refresh the room list'],
  ['/close', 'close the private conversation in view'],
  ['/quote LINE', 'send a raw IRC line'],
  ['/quit [reason]', 'disconnect'],
];

export interface Effects {
  openRooms(): void;
  quit(reason: string): void;
}

function roomName(name: string): string {
  return isChannel(name) ? name : `#${name}`;
}

/** Sends chat text (possibly several lines, each split to fit) to a room or nick, echoing it locally. */
export function sendText(state: ChatState, conn: Sender, target: string, text: string, action = false): void {
  const conv = state.ensure(target);
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    for (const piece of splitForLine(line, TEXT_BYTES)) {
      const body = action ? `\x01ACTION ${piece}\x01` : piece;
      if (!conn.send(formatLine('PRIVMSG', target, body))) {
        state.addLine(conv, 'error', '', 'Not connected: the message was not sent');
        return;
      }
      state.addLine(conv, action ? 'action' : 'message', state.nick, piece, undefined, true);
    }
  }
}

/** Runs one input line. Returns false when nothing could be done (the input should stay). */
export function runInput(state: ChatState, conn: Sender, input: string, fx: Effects): boolean {
  const active = state.active;
  const err = (text: string): boolean => {
    state.addLine(active, 'error', '', text);
    return false;
  };
  if (!input.startsWith('/') || input.startsWith('//')) {
    const text = input.startsWith('//') ? input.slice(1) : input;
    if (active.kind === 'server') return err('Join a room first (/join #room), or pick one from the list.');
    if (!conn.isOnline) return err('Not connected: the message was not sent (it stays in the box).');
    if (active.kind === 'room' && !active.joined) return err(`You are not in ${active.name} (/join ${active.name})`);
    sendText(state, conn, active.name, text);
    return true;
  }
  const m = /^\/(\S+)\s*([\s\S]*)$/.exec(input);
  const cmd = (m?.[1] ?? '').toLowerCase();
  const rest = (m?.[2] ?? '').trim();
  const words = rest.split(/\s+/).filter(Boolean);
  const online = (): boolean => conn.isOnline || err('Not connected yet; wait for the connection to come back.');
  switch (cmd) {
    case 'help':
      state.addLine(active, 'info', '', 'Commands:');
      for (const [c, d] of HELP) state.addLine(active, 'info', '', `${c} — ${d}`);
      return true;
    case 'join':
    case 'j': {
      if (!words[0]) return err('Usage: /join #room');
      if (!online()) return false;
      const rooms = words[0].split(',').filter(Boolean).map(roomName);
      // The first room named comes into view when it is joined; the others wait in the sidebar.
      state.expectJoin(rooms[0]!);
      const existing = state.get(rooms[0]!);
      if (existing?.joined) state.setActive(existing.key);
      conn.send(formatLine('JOIN', rooms.join(','), ...(words[1] ? [words[1]] : [])));
      return true;
    }
    case 'part':
    case 'leave': {
      let room = active.kind === 'room' ? active.name : '';
      let reason = rest;
      if (words[0] && isChannel(words[0])) {
        room = words[0];
        reason = rest.slice(words[0].length).trim();
      }
      if (!room) {
        if (active.kind === 'dm') {
          state.remove(active.key);
          return true;
        }
        return err('Usage: /part #room');
      }
      const conv = state.get(room);
      if (conv && !conv.joined) {
        state.remove(conv.key);
        return true;
      }
      if (!online()) return false;
      conn.send(formatLine('PART', room, ...(reason ? [reason] : [])));
      return true;
    }
    case 'close':
      if (active.kind === 'dm') state.remove(active.key);
      else if (active.kind === 'room') return runInput(state, conn, `/part ${active.name}`, fx);
      return true;
    case 'me':
      if (!rest) return err('Usage: /me waves');
      if (active.kind === 'server') return err('Join a room first.');
      sendText(state, conn, active.name, rest, true);
      return true;
    case 'msg':
    case 'query':
    case 'pm': {
      const target = words[0];
      if (!target) return err(`Usage: /${cmd} nick text`);
      const text = rest.slice(target.length).trim();
      const conv = state.ensure(target);
      state.setActive(conv.key);
      if (text) sendText(state, conn, target, text);
      return true;
    }
    case 'nick':
      if (!words[0]) return err('Usage: /nick newname');
      if (!online()) return false;
      conn.send(formatLine('NICK', words[0]));
      return true;
    case 'topic': {
      if (active.kind !== 'room') return err('/topic works in a room');
      if (!online()) return false;
      if (rest) conn.send(formatLine('TOPIC', active.name, rest));
      else state.addLine(active, 'info', '', active.topic ? `Topic: ${active.topic}` : 'No topic is set');
      return true;
    }
    case 'list':
      if (!online()) return false;
      fx.openRooms();
      return true;
    case 'quote':
    case 'raw':
      if (!rest) return err('Usage: /quote COMMAND params');
      if (!online()) return false;
      conn.send(rest.replace(/[\r\n]/g, ' '));
      return true;
    case 'quit':
      fx.quit(rest || 'Leaving');
      return true;
    default:
      return err(`Unknown command /${cmd}; /help lists the commands`);
  }
}
