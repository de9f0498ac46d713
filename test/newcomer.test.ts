// Rough edges a newcomer meets (issue #8): the /quit reason reaches the room, timeouts say their
// limit, /pm usage errors say /pm, and shutdown ends as soon as every client has been told and
// everything written has arrived, without waiting for each peer to close.
import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROMPT, bye, connect, parseListening, register, withProc, withServer } from './helpers.js';

const test = suite('newcomer rough edges');

test('/quit REASON: the room sees the reason on the Bye line; a blank reason is no reason', () =>
  withServer({}, async (t) => {
    const [alice, bob, carol] = await t.registerAll('alice', 'bob', 'carol');
    alice!.send('/quit  off to lunch (back at 2) ');
    await alice!.expectNext(`${bye('alice')} (off to lunch (back at 2))`);
    await bob!.expectNext(`${bye('alice')} (off to lunch (back at 2))`);
    await carol!.expectNext(`${bye('alice')} (off to lunch (back at 2))`);
    bob!.send('/quit \u00a0');
    await bob!.expectNext(bye('bob'));
    await carol!.expectNext(bye('bob'));
  }));

test('IDLE_TIMEOUT and REGISTRATION_TIMEOUT say the limit', () =>
  withServer({ idleTimeoutMs: 300, registrationTimeoutMs: 1500 }, async (t) => {
    const [alice] = await t.registerAll('alice');
    await alice!.expectNext('!! IDLE_TIMEOUT idle for 0.3 s; disconnected', 3000);
    await alice!.expectClosed();
    const anon = await t.connect('anon');
    await anon.expectNext(PROMPT);
    await anon.expectNext('!! REGISTRATION_TIMEOUT no nickname chosen within 1.5 s; disconnected', 4000);
  }));

test('/pm usage errors say /pm; /msg ones say /msg', () =>
  withServer({}, async (t) => {
    const [alice] = await t.registerAll('alice');
    alice!.send('/pm');
    await alice!.expectNext('!! USAGE /pm NICK TEXT');
    alice!.send('/PM');
    await alice!.expectNext('!! USAGE /pm NICK TEXT');
    alice!.send('/msg');
    await alice!.expectNext('!! USAGE /msg NICK TEXT');
  }));

test('shutdown ends once every client is told and flushed, not after the grace period or a linger', () =>
  withProc(['--host', '127.0.0.1', '--port', '0', '--log-format', 'json', '--no-console', '--no-accounts',
    '--shutdown-grace-ms', '20000'], async (p) => {
    const port = parseListening(await p.waitOutput(/listening on/, 8000));
    const alice = await register(port, 'alice');
    const anon = await connect(port, 'anon');
    await anon.expectNext(PROMPT);
    // a client that reads but never closes its side (as many do): the server must not wait for its FIN
    const halfOpen = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    let ended = false;
    halfOpen.setEncoding('utf8');
    halfOpen.on('data', (d: string) => { got += d; });
    halfOpen.on('end', () => { ended = true; });
    halfOpen.on('error', () => { /* reported by the assertions below */ });
    try {
      await new Promise<void>((resolve) => { halfOpen.on('data', () => { if (got.includes(PROMPT)) resolve(); }); });
      halfOpen.write('dora\n');
      await new Promise<void>((resolve) => { halfOpen.on('data', () => { if (got.includes('Welcome dora')) resolve(); }); });
      const t0 = Date.now();
      p.child.kill('SIGTERM');
      assert.is(await p.exited(8000), 0);
      const took = Date.now() - t0;
      process.stderr.write(`    [newcomer] exited ${took} ms after SIGTERM\n`);
      // before: ~2 s (each lingering close waited up to 2 s for the peer's FIN); a generous bound
      assert.ok(took < 1500, `exited ${took} ms after SIGTERM (grace 20 s)`);
      await alice.expectNext('>> Welcome dora !');
      await alice.expectNext('!! SHUTDOWN server is shutting down');
      await anon.expectNext('!! SHUTDOWN server is shutting down');
      await new Promise<void>((resolve) => { if (ended) resolve(); else halfOpen.on('end', () => resolve()); });
      assert.ok(got.endsWith('!! SHUTDOWN server is shutting down\n'), `dora got everything: ${JSON.stringify(got)}`);
    } finally {
      halfOpen.destroy();
    }
  }));

test.run();
