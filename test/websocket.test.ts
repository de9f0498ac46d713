// WebSocket sessions on the HTTP listener (docs/websocket.md): IRC over WebSocket as the IRCv3
// websocket spec says (text.ircv3.net, binary.ircv3.net, none = text), the line protocol
// (epchat.line), sharing rooms with TCP users; fan-out; ping/pong; fragments; the close handshake and
// the violations (1002, 1007, 1009). Real sockets, the `ws` package and a raw client.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withServer, cleanupAll } from './helpers.js';
import { ircRegister } from './irc-helpers.js';
import { httpPort, wsIrcRegister, wsLineRegister, destroyAllWs } from './ws-helpers.js';

test.after.each(() => destroyAllWs());
test.after(async () => { destroyAllWs(); await cleanupAll(); });

test('IRC text, IRC binary, WS line, TCP line and TCP IRC users chat in one room', async () => {
  await withServer({}, async (t) => {
    const hp = httpPort(t);
    const text = await wsIrcRegister(hp, 'wtext', 'text.ircv3.net');
    assert.is(text.protocol, 'text.ircv3.net');
    const none = await wsIrcRegister(hp, 'wnone');
    assert.is(none.protocol, '');
    const bin = await wsIrcRegister(hp, 'wbin', 'binary.ircv3.net');
    assert.is(bin.protocol, 'binary.ircv3.net');
    assert.ok(bin.binary.every((b) => b), 'binary.ircv3.net: every message in a binary frame');
    assert.ok(text.binary.every((b) => !b), 'text.ircv3.net: text frames');
    const wline = await wsLineRegister(hp, 'wline');
    const tirc = await ircRegister(t, 'tirc');
    const tline = await t.register('tline');

    for (const c of [text, none, bin]) {
      c.send('JOIN #lobby');
      await c.expect(/^:epchat 366 /);
    }
    tirc.send('JOIN #lobby');
    await tirc.num(366);

    // A WS IRC user speaks: everyone else in the room hears it, each in their own protocol.
    text.send('PRIVMSG #lobby :hello from a browser');
    await none.expect(/^:wtext!\S+ PRIVMSG #lobby :hello from a browser$/);
    await bin.expect(/^:wtext!\S+ PRIVMSG #lobby :hello from a browser$/);
    await tirc.expect(/^:wtext!\S+ PRIVMSG #lobby :hello from a browser$/);
    await wline.expect('wtext: hello from a browser');
    await tline.expect('wtext: hello from a browser');

    // The others speak: the WS users hear them.
    tline.send('from tcp line');
    await text.expect(/^:tline!\S+ PRIVMSG #lobby :from tcp line$/);
    await wline.expect('tline: from tcp line');
    wline.send('from ws line');
    await bin.expect(/^:wline!\S+ PRIVMSG #lobby :from ws line$/);
    await tline.expect('wline: from ws line');
    bin.sendBinary('PRIVMSG #lobby :from binary');
    await text.expect(/^:wbin!\S+ PRIVMSG #lobby :from binary$/);
    await tirc.expect(/^:wbin!\S+ PRIVMSG #lobby :from binary$/);
    assert.ok(bin.binary.every((b) => b));
    // One IRC line per message, no CR LF.
    for (const c of [text, none, bin, wline]) assert.ok(c.messages.every((m) => !/[\r\n]/.test(m)), 'no line endings inside messages');
  });
});

test.run();
