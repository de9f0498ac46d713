// Applies server messages to the chat state.
import { isChannel, isServerPrefix, nickOf, parseCtcp, setCaseMapping, type IrcMessage } from './irc.js';
import type { ChatState } from './state.js';

export interface Replier {
  sendCommand(command: string, ...params: string[]): boolean;
}

const MODE_PREFIX: Record<string, string> = { q: '~', a: '&', o: '@', h: '%', v: '+' };
/** Numerics that only carry registration chatter; shown in the server view. */
const SERVER_TEXT = new Set(['002', '003', '004', '251', '252', '253', '254', '255', '265', '266', '372', '375', '376', '422']);

function timeOf(msg: IrcMessage): Date | undefined {
  const t = msg.tags.get('time');
  if (!t) return undefined;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function last(params: string[]): string {
  return params[params.length - 1] ?? '';
}

export function handleMessage(state: ChatState, msg: IrcMessage, reply: Replier): void {
  const p = msg.params;
  const from = nickOf(msg.prefix);
  const time = timeOf(msg);
  switch (msg.command) {
    case '001':
      state.nick = p[0] ?? state.nick;
      state.addLine(state.server, 'info', '', last(p), time);
      state.touch('status');
      return;
    case '005': {
      // ISUPPORT: "<me> TOKEN[=value]... :are supported by this server"
      const mapping = p.slice(1, -1).find((t) => t.toUpperCase().startsWith('CASEMAPPING='));
      if (mapping) setCaseMapping(mapping.slice('CASEMAPPING='.length));
      return;
    }
    case 'JOIN': {
      const room = p[0] ?? '';
      const conv = state.joined(room, from);
      if (!state.isMe(from)) state.addLine(conv, 'event', from, `${from} joined`, time);
      return;
    }
    case 'PART': {
      const conv = state.left(p[0] ?? '', from);
      if (!conv) return;
      if (state.isMe(from)) state.remove(conv.key);
      else state.addLine(conv, 'event', from, `${from} left${p[1] ? ` (${p[1]})` : ''}`, time);
      return;
    }
    case 'KICK': {
      const victim = p[1] ?? '';
      const conv = state.left(p[0] ?? '', victim);
      if (conv) state.addLine(conv, state.isMe(victim) ? 'error' : 'event', from, `${victim} was removed by ${from}${p[2] ? ` (${p[2]})` : ''}`, time);
      return;
    }
    case 'QUIT': {
      for (const conv of state.roomsWith(from)) {
        state.left(conv.name, from);
        state.addLine(conv, 'event', from, `${from} quit${p[0] ? ` (${p[0]})` : ''}`, time);
      }
      const dm = state.get(from);
      if (dm && dm.kind === 'dm') state.addLine(dm, 'event', from, `${from} quit`, time);
      return;
    }
    case 'NICK': {
      const to = p[0] ?? '';
      const rooms = state.roomsWith(from);
      const wasMe = state.isMe(from);
      state.renamed(from, to);
      const text = wasMe ? `You are now known as ${to}` : `${from} is now known as ${to}`;
      for (const conv of rooms) state.addLine(conv, 'event', to, text, time);
      const dm = state.get(to);
      if (dm && dm.kind === 'dm') state.addLine(dm, 'event', to, text, time);
      if (wasMe && rooms.length === 0) state.addLine(state.active, 'event', to, text, time);
      return;
    }
    case 'TOPIC': {
      const conv = state.get(p[0] ?? '');
      if (!conv) return;
      conv.topic = p[1] ?? '';
      state.addLine(conv, 'event', from, conv.topic ? `${from} set the topic: ${conv.topic}` : `${from} cleared the topic`, time);
      state.touch('header');
      return;
    }
    case '332': {
      const conv = state.get(p[1] ?? '');
      if (conv) {
        conv.topic = last(p);
        state.touch('header');
      }
      return;
    }
    case '331': {
      const conv = state.get(p[1] ?? '');
      if (conv) {
        conv.topic = '';
        state.touch('header');
      }
      return;
    }
    case '353':
      // RPL_NAMREPLY: me, symbol, channel, names
      state.addNames(p[2] ?? '', last(p).split(' '));
      return;
    case '366':
      state.endNames(p[1] ?? '');
      return;
    case '321':
      state.listStart();
      return;
    case '322':
      state.listEntry({ name: p[1] ?? '', users: Number(p[2]) || 0, topic: (p[3] ?? '').replace(/^\[[^\]]*\] ?/, '') });
      return;
    case '323':
      state.listEnd();
      return;
    case 'MODE': {
      const target = p[0] ?? '';
      if (!isChannel(target)) return;
      let add = true;
      let arg = 2;
      for (const c of p[1] ?? '') {
        if (c === '+' || c === '-') {
          add = c === '+';
          continue;
        }
        const prefix = MODE_PREFIX[c];
        if (prefix) state.setModes(target, p[arg++] ?? '', add, prefix);
        else if ('beIkfljL'.includes(c) && (add || 'beIk'.includes(c))) arg += 1;
      }
      const conv = state.get(target);
      if (conv && from) state.addLine(conv, 'event', from, `${from} set mode ${p.slice(1).join(' ')}`, time);
      return;
    }
    case 'PRIVMSG':
    case 'NOTICE':
      handleText(state, msg, reply, from, time);
      return;
    case '433':
      state.addLine(state.active, 'error', '', `The nickname ${p[1] ?? ''} is already in use`, time);
      return;
  }
  if (SERVER_TEXT.has(msg.command)) {
    state.addLine(state.server, 'info', '', last(p), time);
    return;
  }
  if (/^[45]\d\d$/.test(msg.command)) {
    // Errors: "<me> [<subject>...] :<text>"; show the subject with the text, in the conversation in view.
    const subject = p.slice(1, -1).join(' ');
    state.addLine(state.active, 'error', '', subject ? `${subject}: ${last(p)}` : last(p), time);
  }
}

function handleText(state: ChatState, msg: IrcMessage, reply: Replier, from: string, time: Date | undefined): void {
  const target = msg.params[0] ?? '';
  let text = msg.params[1] ?? '';
  const notice = msg.command === 'NOTICE';
  if (isServerPrefix(msg.prefix) || target === '*') {
    state.addLine(state.server, 'notice', msg.prefix || 'server', text, time);
    return;
  }
  const self = state.isMe(from);
  let kind: 'message' | 'action' | 'notice' = notice ? 'notice' : 'message';
  const ctcp = parseCtcp(text);
  if (ctcp) {
    if (ctcp.verb === 'ACTION') {
      kind = 'action';
      text = ctcp.text;
    } else {
      if (!notice && !self) {
        if (ctcp.verb === 'VERSION') reply.sendCommand('NOTICE', from, '\x01VERSION epchat web client\x01');
        else if (ctcp.verb === 'PING') reply.sendCommand('NOTICE', from, `\x01PING ${ctcp.text}\x01`);
      }
      return;
    }
  }
  let conv;
  if (isChannel(target) || /^[~&@%+]#/.test(target)) conv = state.ensure(target.replace(/^[~&@%+]+/, ''));
  else if (notice && !state.get(self ? target : from)) conv = state.active;
  else conv = state.ensure(self ? target : from);
  state.addLine(conv, kind, from, text, time, self);
}
