// The IRC front end over raw sockets (docs/irc.md): registration, every numeric and error it
// documents, caps, and IRC users sharing rooms, private messages and nicks with line users.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { register as lineRegister, withServer, createTestServerOff } from './irc-support.js';
import { IrcRaw, ircPort, ircRegister } from './irc-helpers.js';
import { registerAccount, withAccounts } from './community-helpers.js';
import { createServer } from '../lib/index.js';
import { TEST_DEFAULTS } from './helpers.js';

const test = suite('irc');

test('registration: 001-005 with ISUPPORT, LUSERS, MOTD (375/372/376); PING/PONG; MOTD and LUSERS on demand', () => withServer({}, async (t) => {
  const c = new IrcRaw(ircPort(t));
  await c.connected();
  c.send('NICK ann');
  c.send('USER ann 0 * :Ann Real');
  await c.expectNext(':epchat 001 ann :Welcome to the epchat IRC network ann!ann@127.0.0.1');
  await c.expectNext(/^:epchat 002 ann /);
  await c.expectNext(/^:epchat 003 ann /);
  await c.expectNext(/^:epchat 004 ann epchat /);
  const isupport = (await c.expectNext(/^:epchat 005 ann /)) + (await c.expectNext(/^:epchat 005 ann /));
  for (const tok of ['PREFIX=(o)@', 'CHANTYPES=#', 'CHANMODES=b,,,n', 'CASEMAPPING=ascii', 'NICKLEN=24', 'CHANNELLEN=33',
    'TOPICLEN=300', 'NETWORK=epchat']) assert.ok(isupport.includes(tok), `005 has ${tok}`);
  await c.expectNext(/^:epchat 251 ann :There are 1 users/);
  await c.expectNext(/^:epchat 254 ann 1 :channels formed/);
  await c.expectNext(/^:epchat 255 ann /);
  await c.expectNext(/^:epchat 375 ann /);
  await c.expectNext(/^:epchat 372 ann /);
  await c.expectNext(':epchat 376 ann :End of /MOTD command.');
  c.send('PING :tok123');
  await c.expectNext(':epchat PONG epchat :tok123');
  c.send('MOTD');
  await c.expectNext(/^:epchat 375 ann /);
  await c.expectNext(/^:epchat 372 ann /);
  await c.expectNext(/^:epchat 376 ann /);
  c.send('LUSERS');
  await c.expectNext(/^:epchat 251 ann /);
  await c.expectNext(/^:epchat 254 ann /);
  await c.expectNext(/^:epchat 255 ann /);
  c.send('QUIT :see you');
  await c.expectNext('ERROR :Closing link: Quit: see you');
  await c.closed();
}));

test('errors before registration: 451, 461, 431, 432, 433; after: 462', () => withServer({}, async (t) => {
  const taken = await ircRegister(t, 'taken');
  const c = new IrcRaw(ircPort(t));
  await c.connected();
  c.send('JOIN #x');
  await c.num(451, ':You have not registered');
  c.send('USER onlyone');
  await c.num(461, 'USER :Not enough parameters');
  c.send('NICK');
  await c.num(431);
  c.send('NICK 9bad');
  await c.num(432, '9bad :Erroneous nickname');
  c.send('NICK admin');
  await c.num(432, 'admin ');
  c.send('NICK Taken');
  await c.num(433, 'Taken :Nickname is already in use');
  c.send('NICK fresh');
  c.send('USER fresh 0 * :x');
  await c.num(1);
  await c.num(376);
  c.send('USER again 0 * :x');
  await c.num(462);
  c.send('PASS secret');
  await c.num(462);
  c.send('FROB');
  await c.num(421, 'FROB :Unknown command');
  c.destroy();
  taken.destroy();
}));

test('JOIN: echo, 353/366 with @ for the creator; 332/333 once a topic is set; PART; 403, 442, 461', () => withServer({}, async (t) => {
  const a = await ircRegister(t, 'ann');
  const b = await ircRegister(t, 'bob');
  a.send('JOIN #dev');
  await a.expectNext(':ann!ann@127.0.0.1 JOIN #dev');
  await a.expectNext(':epchat 353 ann = #dev :@ann');
  await a.expectNext(':epchat 366 ann #dev :End of /NAMES list.');
  a.send('TOPIC #dev :release on friday');
  await a.expectNext(':ann!ann@127.0.0.1 TOPIC #dev :release on friday');
  b.send('JOIN #dev');
  await b.expectNext(':bob!bob@127.0.0.1 JOIN #dev');
  await b.expectNext(':epchat 332 bob #dev :release on friday');
  await b.expectNext(/^:epchat 333 bob #dev ann \d+$/);
  await b.expectNext(/^:epchat 353 bob = #dev :(@ann bob|bob @ann)$/);
  await b.expectNext(':epchat 366 bob #dev :End of /NAMES list.');
  await a.expectNext(':bob!bob@127.0.0.1 JOIN #dev');
  b.send('TOPIC #dev');
  await b.expectNext(':epchat 332 bob #dev :release on friday');
  await b.expectNext(/^:epchat 333 bob #dev ann \d+$/);
  b.send('JOIN bad');
  await b.num(403, 'bad ');
  b.send('JOIN');
  await b.num(461, 'JOIN ');
  b.send('PART #nowhere');
  await b.num(403, '#nowhere ');
  b.send('PART #dev :bye all');
  await b.expectNext(':bob!bob@127.0.0.1 PART #dev :bye all');
  await a.expectNext(':bob!bob@127.0.0.1 PART #dev :bye all');
  b.send('PART #dev');
  await b.num(442, '#dev ');
  b.send('TOPIC #dev :mine');
  await b.num(442, '#dev ');
  a.destroy();
  b.destroy();
}));

test('PRIVMSG and NOTICE to channels and nicks; 401, 403, 404, 411, 412; AWAY 301/305/306', () => withServer({}, async (t) => {
  const a = await ircRegister(t, 'ann');
  const b = await ircRegister(t, 'bob');
  a.send('JOIN #dev');
  await a.num(366);
  b.send('JOIN #dev');
  await b.num(366);
  await a.expect(':bob!bob@127.0.0.1 JOIN #dev');
  a.send('PRIVMSG #dev :hello dev');
  await b.expectNext(':ann!ann@127.0.0.1 PRIVMSG #dev :hello dev');
  a.send('NOTICE #dev :a notice');
  await b.expectNext(':ann!ann@127.0.0.1 NOTICE #dev :a notice');
  a.send('PRIVMSG bob :just you');
  await b.expectNext(':ann!ann@127.0.0.1 PRIVMSG bob :just you');
  a.send('PRIVMSG nobody :x');
  await a.num(401, 'nobody :No such nick/channel');
  a.send('PRIVMSG #ghost :x');
  await a.num(403, '#ghost ');
  a.send('JOIN #other');
  await a.num(366);
  b.send('PRIVMSG #other :not a member');
  await b.num(404, '#other :Cannot send to channel');
  b.send('PRIVMSG');
  await b.num(411);
  b.send('PRIVMSG ann');
  await b.num(412);
  b.send('NOTICE nobody :no reply to a notice');
  b.send('AWAY :lunch');
  await b.expectNext(':epchat 306 bob :You have been marked as being away');
  a.send('PRIVMSG bob :are you there');
  await a.num(301, 'bob :lunch');
  b.send('AWAY');
  await b.expect(':epchat 305 bob :You are no longer marked as being away');
  a.destroy();
  b.destroy();
}));

test('NAMES, WHO (352/315), WHOIS (311/319/312/318), LIST (321/322/323), MODE (324/329/368/221, 482, 502)', () => withServer({}, async (t) => {
  const a = await ircRegister(t, 'ann');
  const b = await ircRegister(t, 'bob');
  a.send('JOIN #dev');
  await a.num(366);
  b.send('JOIN #dev');
  await b.num(366);
  b.send('NAMES #dev');
  await b.expectNext(/^:epchat 353 bob = #dev :(@ann bob|bob @ann)$/);
  await b.expectNext(':epchat 366 bob #dev :End of /NAMES list.');
  b.send('WHO #dev');
  const rows = [await b.expectNext(/^:epchat 352 bob #dev /), await b.expectNext(/^:epchat 352 bob #dev /)].sort();
  assert.equal(rows[0], ':epchat 352 bob #dev ann 127.0.0.1 epchat ann H@ :0 ann real');
  assert.equal(rows[1], ':epchat 352 bob #dev bob 127.0.0.1 epchat bob H :0 bob real');
  await b.expectNext(':epchat 315 bob #dev :End of /WHO list.');
  b.send('WHOIS ann');
  await b.expectNext(':epchat 311 bob ann ann 127.0.0.1 * :ann real');
  await b.expectNext(':epchat 319 bob ann :@#dev');
  await b.expectNext(/^:epchat 312 bob ann epchat /);
  await b.expectNext(':epchat 318 bob ann :End of /WHOIS list.');
  b.send('WHOIS ghost');
  await b.expectNext(':epchat 401 bob ghost :No such nick/channel');
  await b.expectNext(':epchat 318 bob ghost :End of /WHOIS list.');
  b.send('LIST');
  await b.expectNext(':epchat 321 bob Channel :Users  Name');
  await b.expectNext(':epchat 322 bob #dev 2 :');
  await b.expectNext(':epchat 322 bob #lobby 0 :');
  await b.expectNext(':epchat 323 bob :End of /LIST');
  b.send('MODE #dev');
  await b.expectNext(':epchat 324 bob #dev +n');
  await b.expectNext(/^:epchat 329 bob #dev \d+$/);
  b.send('MODE #dev b');
  await b.expectNext(':epchat 368 bob #dev :End of channel ban list');
  b.send('MODE #dev +m');
  await b.expectNext(":epchat 482 bob #dev :You're not channel operator");
  b.send('MODE bob');
  await b.expectNext(':epchat 221 bob +');
  b.send('MODE ann');
  await b.num(502);
  a.destroy();
  b.destroy();
}));

test('KICK by the room creator: 482 for others, 441, and a kicked line user goes back to the default room', () => withServer({}, async (t) => {
  const op = await ircRegister(t, 'op');
  op.send('JOIN #dev');
  await op.num(366);
  const other = await ircRegister(t, 'other');
  other.send('JOIN #dev');
  await other.num(366);
  const line = await lineRegister(t, 'liner');
  line.send('/join dev');
  await line.expectNext('>> liner joined dev');
  await op.expect(':liner!liner@127.0.0.1 JOIN #dev');
  other.send('KICK #dev liner');
  await other.expect(":epchat 482 other #dev :You're not channel operator");
  op.send('KICK #dev ghost');
  await op.num(441);
  op.send('KICK');
  await op.num(461);
  op.send('KICK #dev liner :behave');
  await op.expect(':op!op@127.0.0.1 KICK #dev liner :behave');
  await line.expectNext('>> liner was kicked from dev by op (behave)');
  await line.expectNext('>> liner joined lobby');
  op.send('KICK #dev other');
  await other.expect(':op!op@127.0.0.1 KICK #dev other :other');
  other.send('PRIVMSG #dev :still here?');
  await other.num(404);
  op.destroy();
  other.destroy();
}));

test('line and IRC users share rooms: #dev is dev; /me is CTCP ACTION both ways; formatting never reaches a line user', () => withServer({}, async (t) => {
  const line = await lineRegister(t, 'liner');
  const irc = await ircRegister(t, 'ircer');
  irc.send('JOIN #lobby');
  await irc.num(366);
  await line.expectNext('>> ircer joined lobby');
  line.send('hello irc');
  await irc.expectNext(':liner!liner@127.0.0.1 PRIVMSG #lobby :hello irc');
  line.send('/me waves');
  await irc.expectNext(':liner!liner@127.0.0.1 PRIVMSG #lobby :\x01ACTION waves\x01');
  await line.expectNext('* liner waves');
  irc.send('PRIVMSG #lobby :\x01ACTION nods\x01');
  await line.expectNext('* ircer nods');
  irc.send('PRIVMSG #lobby :\x02bold\x02 and \x0304,01red\x03 text');
  await line.expectNext('ircer: bold and red text');
  irc.send('PRIVMSG #lobby :\x01VERSION\x01');
  irc.send('PRIVMSG liner :private \x1ditalic\x1d');
  await line.expectNext('[pm from ircer] private italic');
  line.send('/msg ircer back to you');
  await irc.expectNext(':liner!liner@127.0.0.1 PRIVMSG ircer :back to you');
  await line.expectNext('[pm to ircer] back to you');
  // A CR inside an IRC line makes it malformed (421): nothing of it reaches the line user, whose next
  // line is the marker that follows.
  irc.send('PRIVMSG #lobby :fake\rliner: spoof');
  await irc.expect(/^:epchat 421 ircer \* :Malformed line/);
  irc.send('PRIVMSG #lobby :marker one');
  await line.expectNext('ircer: marker one');
  // A line user cannot put a CR in a message either: nothing reaches IRC but the next marker.
  await line.sendRaw('x\r:fake!f@f PRIVMSG #lobby :spoof\n');
  await line.expectNext(/^!! BAD_CHAR /);
  line.send('marker two');
  await irc.expectNext(':liner!liner@127.0.0.1 PRIVMSG #lobby :marker two');
  irc.send('PRIVMSG #lobby :\u202espoof');
  await irc.expect(/NOTICE ircer :line contains a bidirectional control/);
  irc.send('NICK ircer2');
  await irc.expect(':ircer!ircer@127.0.0.1 NICK :ircer2');
  await line.expect('>> ircer is now known as ircer2');
  line.send('/quit later');
  await irc.expect(':liner!liner@127.0.0.1 QUIT :later');
  irc.destroy();
}));

test('caps: LS 302, echo-message, server-time, userhost-in-names, away-notify', () => withServer({}, async (t) => {
  const c = new IrcRaw(ircPort(t));
  await c.connected();
  c.send('CAP LS 302');
  const ls = await c.expectNext(/^:epchat CAP \* LS :/);
  for (const cap of ['multi-prefix', 'server-time', 'message-tags', 'echo-message', 'away-notify', 'cap-notify',
    'userhost-in-names', 'sasl=PLAIN']) assert.ok(ls.split(' ').includes(cap) || ls.includes(`:${cap} `), `LS offers ${cap}`);
  c.send('NICK capper');
  c.send('USER capper 0 * :x');
  c.send('CAP REQ :echo-message server-time userhost-in-names away-notify multi-prefix');
  await c.expectNext(':epchat CAP * ACK :echo-message server-time userhost-in-names away-notify multi-prefix');
  c.send('CAP END');
  await c.num(1);
  await c.num(376);
  c.send('JOIN #caps');
  await c.expectNext(/^@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :capper!capper@127.0.0.1 JOIN #caps$/);
  await c.expectNext(':epchat 353 capper = #caps :@capper!capper@127.0.0.1');
  await c.num(366);
  c.send('PRIVMSG #caps :echoed');
  await c.expectNext(/^@time=\S+ :capper!capper@127.0.0.1 PRIVMSG #caps :echoed$/);
  const b = await ircRegister(t, 'bob');
  b.send('JOIN #caps');
  await b.num(366);
  await c.expect(/JOIN #caps$/);
  b.send('AWAY :brb');
  await c.expectNext(/^@time=\S+ :bob!bob@127.0.0.1 AWAY :brb$/);
  c.destroy();
  b.destroy();
}));

test('417 for a line over 512 bytes; the connection goes on', () => withServer({}, async (t) => {
  const c = await ircRegister(t, 'longer');
  c.send(`PRIVMSG #x :${'a'.repeat(600)}`);
  await c.num(417, ':Input line was too long');
  c.send('PING :alive');
  await c.expectNext(':epchat PONG epchat :alive');
  c.destroy();
}));

test('an idle IRC user is sent PING before the idle timeout; one that answers stays', () => withServer({ idleTimeoutMs: 1000 }, async (t) => {
  const c = await ircRegister(t, 'sleepy');
  await c.expectNext('PING :epchat', 2000);
  c.send('PONG :epchat');
  await c.expectNext('PING :epchat', 2000);
  // No answer this time: dropped at the idle timeout.
  await c.expect(/^ERROR :Closing link: idle for/, 3000);
  await c.closed();
}));

test('adopt(fd, address, protocol): a socket the host accepted becomes an IRC or a line client', () => withServer({}, async (t) => {
  const net = await import('node:net');
  const gateway = net.createServer();
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
  const port = (gateway.address() as { port: number }).port;
  try {
    for (const protocol of ['irc', 'line'] as const) {
      const accepted = new Promise<import('node:net').Socket>((r) => gateway.once('connection', r));
      const c = new IrcRaw(port, `adopted-${protocol}`);
      await c.connected();
      const sock = await accepted;
      sock.pause();
      const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
      t.server.adopt(fd, `gateway:${protocol}`, protocol);
      sock.destroy();
      if (protocol === 'irc') {
        c.send('NICK adopted');
        c.send('USER adopted 0 * :x');
        await c.expectNext(/^:epchat 001 adopted :Welcome to the epchat IRC network adopted!adopted@gateway$/);
        c.send('QUIT');
        await c.expect(/^ERROR /);
      } else {
        await c.c.expectNext('>> Enter pseudo:');
        c.c.send('adopted2');
        await c.c.expectNext('>> Welcome adopted2 !');
      }
      c.destroy();
    }
    assert.throws(() => t.server.adopt(-1, 'x', 'irc'), (e: any) => e.code === 'EPCHAT_INVALID_ARGUMENT' && /fd$/.test(e.argument));
    assert.throws(() => t.server.adopt(0, 'x', 'xmpp' as never), (e: any) => e.code === 'EPCHAT_INVALID_ARGUMENT' && /protocol$/.test(e.argument));
  } finally {
    gateway.close();
  }
}));

test('PASS logs in to an account at registration (464 when wrong); mail waiting is told as a NOTICE', () => withAccounts({}, async (t) => {
  const owner = await registerAccount(t, 'kim', 'correct-horse');
  owner.send('/quit');
  await owner.closed();
  const sender = await t.register('sender');
  sender.send('/msg kim are you there?');
  await sender.expect(/^>> /);  // stored in kim's mailbox
  const bad = new IrcRaw(ircPort(t));
  await bad.connected();
  bad.send('PASS wrong-password');
  bad.send('NICK kim');
  bad.send('USER kim 0 * :Kim');
  await bad.num(464, ':Password incorrect');
  bad.destroy();
  const c = new IrcRaw(ircPort(t));
  await c.connected();
  c.send('PASS correct-horse');
  c.send('NICK kim');
  c.send('USER kim 0 * :Kim');
  // The host's notice comes before registration completes (the target is then "*").
  await c.expect(/^:epchat NOTICE \* :Logged in as kim: 1 unread message/);
  await c.expect(':epchat 001 kim :Welcome to the epchat IRC network kim!kim@127.0.0.1');
  c.send('WHOIS kim');
  await c.expect(':epchat 330 kim kim kim :is logged in as');
  c.destroy();
}));

test('flood control as on the line protocol: NOTICE for a dropped line, then ERROR and close', () => withServer({ floodRate: 0.001, floodBurst: 6, floodKick: 3 }, async (t) => {
  const c = await ircRegister(t, 'flooder');
  for (let i = 0; i < 12; i++) c.send(`PING :n${i}`);
  await c.expect(/^:epchat NOTICE flooder :too many lines; slow down/);
  await c.expect(/^ERROR :Closing link: too many lines too fast/);
  await c.closed();
}));

test('port -1 turns the line listener off (IRC only); all off is refused', () => withServer({ port: -1, ircPort: 0 }, async (t) => {
  assert.is(t.server.address(), null);
  assert.is(t.port, ircPort(t), 'listen() resolves with the IRC address when the line listener is off');
  const c = await ircRegister(t, 'solo');
  c.send('QUIT');
  await c.expect(/^ERROR /);
  const both = createServer({ ...TEST_DEFAULTS, accounts: false, port: -1, ircPort: -1, httpPort: -1 } as typeof TEST_DEFAULTS);
  let caught: any = null;
  try { await both.listen(); } catch (e) { caught = e; }
  assert.ok(caught && caught.code === 'EINVAL' && /all off/.test(caught.message), `listen() with every listener off must reject (got ${caught})`);
  await both.close();
}));

test('ircPort -1 turns the IRC listener off', async () => {
  await createTestServerOff();
});

test.run();
