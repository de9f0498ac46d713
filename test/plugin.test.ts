// The plugin interface (lib/plugin.ts): a plugin installed with server.use() registers a command that
// replies with structured lines (an error, a notice, a list; a private and a group message), which the
// line protocol formats as docs/protocol.md says; it hears nick and disconnect events of the clients it
// serves, notifies one outside a command, and delivers to several. Malformed lines are refused with
// EPCHAT_INVALID_ARGUMENT and nothing reaches the client (the handler's client gets INTERNAL_ERROR).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from '../lib/server.js';
import { error, groupMessage, list, notice, pm, type CommandContext, type Plugin, type PluginHost } from '../lib/plugin.js';
import { LineClient, PROMPT, TEST_DEFAULTS, cleanupAll, err, until, welcome, withTimeout } from './helpers.js';

const test = suite('plugin');

test.after.each(cleanupAll);

class Weather implements Plugin {
  readonly name = 'weather';
  host: PluginHost | null = null;
  nicks: Array<{ id: number; nick: string }> = [];
  gone: number[] = [];
  closed = 0;
  starts = 0;

  async install(host: PluginHost): Promise<void> {
    this.host = host;
    host.registerCommand('weather', (ctx) => this.#weather(ctx), { help: ['/weather [CITY] - the weather'] });
    host.registerCommand('bad', (ctx) => ctx.reply(notice('ok'), { type: 'error', code: 'not a code', text: 'x' } as never));
  }

  #weather(ctx: CommandContext): void {
    const city = ctx.args.trim();
    if (city === '') {
      ctx.reply(error('USAGE', '/weather CITY'), notice('try /weather paris'));
      return;
    }
    ctx.reply(
      notice(`Weather for ${city}`),
      list('CITY', [[city, '12 C, light rain'], ['oslo', '-3 C']], 'CITIES'),
      pm('meteo', 'bring an umbrella'),
      groupMessage('meteo', 'alerts', 'storm at 18:00'),
    );
  }

  onNick(ev: { id: number; nick: string }): void {
    this.nicks.push({ id: ev.id, nick: ev.nick });
    this.host!.notify(ev.id, notice(`weather follows you, ${ev.nick}`));
  }

  onDisconnect(ev: { id: number }): void { this.gone.push(ev.id); }

  started(): void { this.starts++; }

  async close(): Promise<void> { this.closed++; }
}

async function withPlugin(fn: (port: number, p: Weather, server: ReturnType<typeof createServer>) => Promise<void>): Promise<void> {
  const server = createServer({ ...TEST_DEFAULTS, accounts: false, logLevel: 'silent' });
  const plugin = new Weather();
  server.use(plugin);
  try {
    const { port } = await withTimeout(server.listen(), 5000, 'listen()');
    assert.is(plugin.starts, 1, 'started() once the engine listens');
    await fn(port, plugin, server);
  } finally {
    await server.close();
  }
  assert.is(plugin.closed, 1, 'the plugin is closed with the server');
}

async function register(port: number, nick: string): Promise<LineClient> {
  const c = new LineClient(port, nick);
  await c.expectNext(PROMPT);
  c.send(nick);
  await c.expectNext(welcome(nick));
  return c;
}

test('a plugin command replies with an error, a notice and a list: the documented lines', () => withPlugin(async (port) => {
  const alice = await register(port, 'alice');
  alice.send('/weather');
  await alice.expectLines(['!! USAGE /weather CITY', '>> try /weather paris']);
  alice.send('/weather paris');
  await alice.expectLines([
    '>> Weather for paris',
    '== CITY paris 12 C, light rain',
    '== CITY oslo -3 C',
    '== END CITIES 2',
    '[pm from meteo] bring an umbrella',
    '[@alerts from meteo] storm at 18:00',
  ]);
  // its /help line is listed with the built-in ones
  alice.send('/help');
  const help = await alice.reply('HELP');
  assert.ok(help.rows.includes('== HELP /weather [CITY] - the weather'), JSON.stringify(help.rows));
  await alice.quiet();
}));

test('a malformed line is refused: nothing of the reply is sent, the client gets INTERNAL_ERROR', () => withPlugin(async (port) => {
  const alice = await register(port, 'alice');
  alice.send('/bad');
  await alice.expectNext(err('INTERNAL_ERROR'));
  alice.send('/weather');
  await alice.expectNext('!! USAGE /weather CITY'); // no '>> ok' before it
}));

test('the plugin hears nick and disconnect events of its clients, notifies and delivers', () => withPlugin(async (port, p, server) => {
  const alice = await register(port, 'alice');
  const bob = await register(port, 'bob');
  alice.send('/weather oslo'); // alice takes part in the plugin's work: it hears of her from now on
  await alice.expect('>> Weather for oslo');
  await alice.expectLines(['== CITY oslo 12 C, light rain', '== CITY oslo -3 C', '== END CITIES 2', /^\[pm from meteo\]/, /^\[@alerts/]);
  alice.send('/nick alicia');
  await alice.expectNext('>> alice is now known as alicia');
  await alice.expectNext('>> weather follows you, alicia');
  assert.is(p.nicks.at(-1)?.nick, 'alicia');
  const id = p.nicks.at(-1)!.id;
  const invalid = (e: { code?: string }) => e.code === 'EPCHAT_INVALID_ARGUMENT';
  // refused in the caller's stack (a bidi override is caught by the binding, the rest before it)
  assert.throws(() => p.host!.notify(id, notice('bidi \u202e override')), invalid);
  assert.throws(() => p.host!.notify(id, notice('two\nlines')), invalid);
  assert.throws(() => server.reply(id, error('lower', 'x')), invalid);
  assert.throws(() => server.reply(id, '>> raw' as never), invalid);
  const offline = await p.host!.deliver(['ALICIA', 'bob', 'carol'], [notice('storm warning'), pm('meteo', 'stay in')]);
  assert.equal(offline, ['carol']);
  for (const c of [alice, bob]) {
    await c.expect('>> storm warning');
    await c.expectNext('[pm from meteo] stay in');
  }
  const refused = await p.host!.deliver(['bob'], '>> raw' as never).then(() => null, (e: { code?: string }) => e);
  assert.is(refused?.code, 'EPCHAT_INVALID_ARGUMENT', 'protocol text is not a line');
  assert.throws(() => server.use(new Weather()), (e: { code?: string }) => e.code === 'EPCHAT_ALREADY_LISTENING');
  alice.send('/quit');
  await alice.closed();
  await until(() => p.gone.length === 1, 3000, 'disconnect heard');
  await bob.expect('>> Bye alicia !');
  await bob.quiet();
}));

test('a plugin is closed with the server and installed afresh by the next listen(): its commands work again', async () => {
  const server = createServer({ ...TEST_DEFAULTS, accounts: false, logLevel: 'silent' });
  const plugin = new Weather();
  server.use(plugin);
  try {
    for (let run = 1; run <= 2; run++) {
      const { port } = await withTimeout(server.listen(), 5000, `listen() #${run}`);
      assert.is(plugin.starts, run);
      const alice = await register(port, 'alice');
      alice.send('/weather');
      await alice.expectNext('!! USAGE /weather CITY');
      await server.close();
      assert.is(plugin.closed, run);
    }
  } finally {
    await server.close();
  }
});

test.run();
