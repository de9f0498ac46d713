// irc-framework (a real IRC client library) against epchat's IRC listener: registration with and
// without SASL, channels shared with line users, names/topic/who/whois, kick, quit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from 'irc-framework';
import { withTimeout, type TestServer } from './helpers.js';
import { withAccounts, registerAccount } from './community-helpers.js';
import { ircPort } from './irc-helpers.js';

const test = suite('irc-framework');

const live = new Set<Client>();

function once<T = any>(c: Client, event: string, pred: (e: T) => boolean = () => true, ms = 3000): Promise<T> {
  return withTimeout(new Promise<T>((resolve) => {
    const on = (e: T) => {
      if (!pred(e)) return;
      c.off(event, on);
      resolve(e);
    };
    c.on(event, on);
  }), ms, `irc-framework event ${event}`);
}

/** Connects an irc-framework client; resolves once registered. */
async function connect(t: TestServer, nick: string, account?: { account: string; password: string }): Promise<Client> {
  const c = new Client();
  live.add(c);
  const registered = once(c, 'registered');
  c.connect({ host: '127.0.0.1', port: ircPort(t), nick, username: nick, gecos: `${nick} real`, auto_reconnect: false, ...(account ? { account } : {}) });
  await registered;
  return c;
}

function closeAll(): void {
  for (const c of live) { try { c.quit('done'); } catch { /* gone */ } }
  live.clear();
}

test('registers without SASL, joins, talks with a line user in the same room, /me both ways', () => withAccounts({}, async (t) => {
  try {
    const irc = await connect(t, 'ircuser');
    const line = await t.register('liner');
    line.send('/join dev');
    // dev does not exist yet for the line user: the IRC user creates it.
    await line.expectNext(/^!! NO_SUCH_ROOM /);
    const joined = once(irc, 'userlist', (e: { channel: string }) => e.channel === '#dev');
    irc.join('#dev');
    const names = await joined;
    assert.equal((names as any).users.map((u: { nick: string }) => u.nick), ['ircuser']);
    line.send('/join dev');
    await line.expectNext('>> liner joined dev');
    const heard = once(irc, 'privmsg', (e: { message: string }) => e.message === 'hello from the line');
    line.send('hello from the line');
    const msg: any = await heard;
    assert.is(msg.nick, 'liner');
    assert.is(msg.target, '#dev');
    irc.say('#dev', 'hello from \x02IRC\x02');
    await line.expectNext('ircuser: hello from IRC');
    irc.action('#dev', 'waves');
    await line.expectNext('* ircuser waves');
    const act = once(irc, 'action', (e: { message: string }) => e.message === 'nods');
    line.send('/me nods');
    await act;
    await line.expectNext('* liner nods');
    irc.say('liner', 'private hi');
    await line.expectNext('[pm from ircuser] private hi');
  } finally { closeAll(); }
}));

test('names, topic, who, whois; kicked by the room creator; quit tells the line user', () => withAccounts({}, async (t) => {
  try {
    const op = await connect(t, 'op');
    const victim = await connect(t, 'victim');
    const line = await t.register('liner');
    op.join('#ops');
    await once(op, 'userlist', (e: any) => e.channel === '#ops');
    const vNames = once(victim, 'userlist', (e: any) => e.channel === '#ops');
    victim.join('#ops');
    const users = (await vNames).users.map((u: any) => `${u.modes.includes('o') ? '@' : ''}${u.nick}`).sort();
    assert.equal(users, ['@op', 'victim']);
    const topic = once(victim, 'topic', (e: any) => e.topic === 'ops only');
    op.setTopic('#ops', 'ops only');
    await topic;
    line.send('/join ops');
    await line.expectNext('>> liner joined ops');
    const who = await withTimeout(new Promise<any>((r) => op.who('#ops', r)), 3000, 'WHO');
    assert.equal(who.users.map((u: any) => u.nick).sort(), ['liner', 'op', 'victim']);
    const whois = await withTimeout(new Promise<any>((r) => op.whois('liner', r)), 3000, 'WHOIS');
    assert.is(whois.nick, 'liner');
    assert.ok(String(whois.channels).includes('#ops'));
    const kicked = once(victim, 'kick', (e: any) => e.kicked === 'victim');
    op.raw('KICK #ops victim :out');
    const k: any = await kicked;
    assert.is(k.message, 'out');
    assert.is(k.nick, 'op');
    await line.expectNext('>> victim was kicked from ops by op (out)');
    op.quit('bye now');
    await line.expectNext('>> Bye op ! (bye now)');
    victim.quit('done');
    await line.expectNext('>> Bye victim ! (done)').catch(() => undefined);
  } finally { closeAll(); }
}));

test('SASL PLAIN against an epchat account; a wrong password fails; the account nick is protected', () => withAccounts({}, async (t) => {
  try {
    const owner = await registerAccount(t, 'alice', 'correct-horse');
    owner.send('/quit');
    await owner.closed();
    // Without logging in, the account's nick is refused (433): irc-framework gets no registration.
    const guest = new Client();
    live.add(guest);
    const refused = once(guest, 'nick in use');
    guest.connect({ host: '127.0.0.1', port: ircPort(t), nick: 'alice', username: 'g', gecos: 'g', auto_reconnect: false });
    await refused;
    guest.quit();
    // A wrong password: sasl failed.
    const bad = new Client();
    live.add(bad);
    const failed = once(bad, 'sasl failed');
    bad.connect({ host: '127.0.0.1', port: ircPort(t), nick: 'alice', username: 'a', gecos: 'a', auto_reconnect: false,
      account: { account: 'alice', password: 'wrong-password' } });
    await failed;
    bad.quit();
    // The right one: logged in, then registered as alice.
    const good = new Client();
    live.add(good);
    const loggedin = once(good, 'loggedin');
    const registered = once(good, 'registered');
    good.connect({ host: '127.0.0.1', port: ircPort(t), nick: 'alice', username: 'a', gecos: 'a', auto_reconnect: false,
      account: { account: 'alice', password: 'correct-horse' } });
    const li: any = await loggedin;
    assert.is(li.account, 'alice');
    const reg: any = await registered;
    assert.is(reg.nick, 'alice');
    const line = await t.register('liner');
    line.send('/who');
    await line.expect(/^== WHO alice -$/);
  } finally { closeAll(); }
}));

test.run();
