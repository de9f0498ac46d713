// The raw native binding (lib/native.ts loads it; EPCHAT_ADDON picks another build, as CI does for the
// cmake-js one): a smoke test (load, listen on an ephemeral port, a socket client registers and is
// welcomed, close), then every method called with missing, mistyped and out-of-range arguments, each
// of which must throw a TypeError or RangeError with code EPCHAT_INVALID_ARGUMENT naming the argument:
// never a crash, never a silent coercion. State errors carry codes too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNative, type EngineEvent, type NativeEngine } from '../lib/native.js';
import { LineClient, cleanupAll, withTimeout } from './helpers.js';

const test = suite('native binding');

type Raw = Record<string, (...args: unknown[]) => unknown>;
type RawCtor = new (...args: unknown[]) => NativeEngine;

const live = new Set<Harness>();

/** An engine on 127.0.0.1 with an ephemeral port, and its events as they arrive. */
class Harness {
  readonly events: EngineEvent[] = [];
  readonly engine: NativeEngine;
  private wake: (() => void) | undefined;

  constructor(extra: Record<string, unknown> = {}) {
    const { Engine } = loadNative();
    this.engine = new Engine({ host: '127.0.0.1', port: 0, ...extra } as never, (evs) => {
      this.events.push(...evs);
      this.wake?.();
    });
    live.add(this);
  }

  get raw(): Raw {
    return this.engine as unknown as Raw;
  }

  /** The first event (from the start) that matches; fails after `ms`. */
  async event<T extends EngineEvent['type']>(type: T, pred: (e: Extract<EngineEvent, { type: T }>) => boolean = () => true,
    ms = 3000): Promise<Extract<EngineEvent, { type: T }>> {
    const find = () => this.events.find((e): e is Extract<EngineEvent, { type: T }> => e.type === type && pred(e as never));
    return withTimeout((async () => {
      for (;;) {
        const hit = find();
        if (hit) return hit;
        await new Promise<void>((r) => { this.wake = r; });
      }
    })(), ms, `engine event ${type}`);
  }

  /** Closes the engine (if it listened) and waits for its `closed` event. */
  async close(): Promise<void> {
    live.delete(this);
    this.engine.close();
    if (this.listened) await this.event('closed');
  }

  listen(): { host: string; port: number } {
    const r = this.engine.listen();
    this.listened = true;
    return r;
  }

  private listened = false;
}

function invalid(fn: () => unknown, kind: typeof TypeError | typeof RangeError, argument: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `no error for a bad ${argument}`);
  const e = thrown as Error & { code?: unknown; argument?: unknown };
  assert.instance(e, kind, `${argument}: ${kind.name} expected, got ${String(e)}`);
  assert.is(e.code, 'EPCHAT_INVALID_ARGUMENT', `${argument}: code (${e.message})`);
  assert.is(e.argument, argument, `argument named (${e.message})`);
  assert.ok(e.message.includes(argument), `message names ${argument}: ${e.message}`);
}

function stateError(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof Error, `an Error with code ${code}`);
  assert.is((thrown as Error & { code?: unknown }).code, code);
}

test.after.each(async () => {
  for (const h of [...live]) await h.close().catch(() => { /* best effort */ });
  await cleanupAll();
});

test(`smoke: ${process.env.EPCHAT_ADDON ?? 'build/Release/epchat.node'} listens, a client registers and is welcomed, close`, async () => {
  const h = new Harness();
  const { port } = h.listen();
  assert.ok(port > 0, 'an ephemeral port');
  const c = new LineClient(port, 'alice');
  await c.expectNext('>> Enter pseudo:');
  c.send('alice');
  await c.expectNext('>> Welcome alice !');
  const reg = await h.event('register');
  assert.is(reg.nick, 'alice');
  await h.close();
  await c.closed();
});

test('new Engine: missing or mistyped options and callback', () => {
  const Engine = loadNative().Engine as unknown as RawCtor;
  const cb = () => {};
  invalid(() => new Engine(), TypeError, 'options');
  invalid(() => new Engine('port=7000', cb), TypeError, 'options');
  invalid(() => new Engine(null, cb), TypeError, 'options');
  invalid(() => new Engine([], cb), TypeError, 'options');
  invalid(() => new Engine({}), TypeError, 'onEvents');
  invalid(() => new Engine({}, 'cb'), TypeError, 'onEvents');
  invalid(() => new Engine({ port: '7000' }, cb), TypeError, 'options.port');
  invalid(() => new Engine({ port: 70000 }, cb), RangeError, 'options.port');
  invalid(() => new Engine({ port: -1 }, cb), RangeError, 'options.port');
  invalid(() => new Engine({ port: 7000.5 }, cb), RangeError, 'options.port');
  invalid(() => new Engine({ port: NaN }, cb), RangeError, 'options.port');
  invalid(() => new Engine({ host: 127 }, cb), TypeError, 'options.host');
  invalid(() => new Engine({ maxClients: -5 }, cb), RangeError, 'options.maxClients');
  invalid(() => new Engine({ maxClients: 2 ** 32 }, cb), RangeError, 'options.maxClients');
  invalid(() => new Engine({ maxOutputBytes: 2 ** 60 }, cb), RangeError, 'options.maxOutputBytes');
  invalid(() => new Engine({ floodRate: Infinity }, cb), RangeError, 'options.floodRate');
  invalid(() => new Engine({ floodRate: -1 }, cb), RangeError, 'options.floodRate');
  invalid(() => new Engine({ handleSignals: 'yes' }, cb), TypeError, 'options.handleSignals');
  invalid(() => new Engine({ reservedNicks: 'root' }, cb), TypeError, 'options.reservedNicks');
  invalid(() => new Engine({ reservedNicks: ['root', 7] }, cb), TypeError, 'options.reservedNicks[1]');
  invalid(() => new Engine({ protectedNicks: [null] }, cb), TypeError, 'options.protectedNicks[0]');
  invalid(() => new Engine({ help: {} }, cb), TypeError, 'options.help');
});

test('post(command): missing, mistyped and out-of-range fields of every command kind on a listening engine', async () => {
  const h = new Harness();
  const { port } = h.listen();
  const e = h.raw;
  const post = (c: unknown) => () => e.post!(c);
  invalid(() => e.post!(), TypeError, 'command');
  invalid(post('send'), TypeError, 'command');
  invalid(post([]), TypeError, 'command');
  invalid(post({}), TypeError, 'command.type');
  invalid(post({ type: 'shout', text: 'x' }), RangeError, 'command.type');
  invalid(post({ type: 7 }), TypeError, 'command.type');
  invalid(post({ type: 'send', text: 'x' }), TypeError, 'command.id');
  invalid(post({ type: 'send', id: '1', text: 'x' }), TypeError, 'command.id');
  invalid(post({ type: 'send', id: -1, text: 'x' }), RangeError, 'command.id');
  invalid(post({ type: 'send', id: 1.5, text: 'x' }), RangeError, 'command.id');
  invalid(post({ type: 'send', id: 2 ** 64, text: 'x' }), RangeError, 'command.id');
  invalid(post({ type: 'send', id: 1 }), TypeError, 'command.text');
  invalid(post({ type: 'send', id: 1, text: 42 }), TypeError, 'command.text');
  invalid(post({ type: 'announce' }), TypeError, 'command.text');
  invalid(post({ type: 'announce', text: { toString: () => 'hi' } }), TypeError, 'command.text');
  invalid(post({ type: 'kick', req: '1', nick: 'bob', reason: 'bye' }), TypeError, 'command.req');
  invalid(post({ type: 'kick', req: 2 ** 32, nick: 'bob' }), RangeError, 'command.req');
  invalid(post({ type: 'kick', req: 1 }), TypeError, 'command.nick');
  invalid(post({ type: 'kick', req: 1, nick: 'bob', reason: 5 }), TypeError, 'command.reason');
  invalid(post({ type: 'query', req: 1 }), TypeError, 'command.what');
  invalid(post({ type: 'query', req: 1, what: 'everything' }), RangeError, 'command.what');
  invalid(post({ type: 'query', what: 'users' }), TypeError, 'command.req');
  invalid(post({ type: 'deliver', req: 1, nicks: 'bob', lines: [] }), TypeError, 'command.nicks');
  invalid(post({ type: 'deliver', req: 1, nicks: ['bob', 2], lines: [] }), TypeError, 'command.nicks[1]');
  invalid(post({ type: 'deliver', req: 1, nicks: ['bob'] }), TypeError, 'command.lines');
  invalid(post({ type: 'deliver', req: 1, nicks: ['bob'], lines: 'hi' }), TypeError, 'command.lines');
  invalid(post({ type: 'login', id: 1, nick: null }), TypeError, 'command.nick');
  invalid(post({ type: 'login', id: true, nick: 'bob' }), TypeError, 'command.id');
  invalid(post({ type: 'prompt', id: 'x' }), TypeError, 'command.id');
  invalid(post({ type: 'prompt' }), TypeError, 'command.id');
  invalid(post({ type: 'finish' }), TypeError, 'command.id');
  invalid(post({ type: 'finish', id: 1, seq: -1, close: false }), RangeError, 'command.seq');
  invalid(post({ type: 'finish', id: 1, seq: 1.5, close: false }), RangeError, 'command.seq');
  invalid(post({ type: 'finish', id: 1, seq: 1 }), TypeError, 'command.close');
  invalid(post({ type: 'finish', id: 1, seq: 1, close: 'yes' }), TypeError, 'command.close');
  invalid(post({ type: 'protect', add: ['bob'] }), TypeError, 'command.remove');
  invalid(post({ type: 'protect', add: 'bob', remove: [] }), TypeError, 'command.add');
  // structured lines: shape and content, the field named
  const reply = (line: unknown) => post({ type: 'reply', id: 1, lines: [{ type: 'notice', text: 'ok' }, line] });
  invalid(post({ type: 'reply', id: 1 }), TypeError, 'command.lines');
  invalid(reply('>> raw text'), TypeError, 'command.lines[1]');
  invalid(reply({}), TypeError, 'command.lines[1].type');
  invalid(reply({ type: 'raw', text: 'x' }), RangeError, 'command.lines[1].type');
  invalid(reply({ type: 'notice' }), TypeError, 'command.lines[1].text');
  invalid(reply({ type: 'notice', text: 'two\n!! FAKE line' }), RangeError, 'command.lines[1].text');
  invalid(reply({ type: 'notice', text: 'esc \x1b[2J' }), RangeError, 'command.lines[1].text');
  invalid(reply({ type: 'notice', text: 'bidi \u202e' }), RangeError, 'command.lines[1].text');
  invalid(reply({ type: 'error', code: 'lower', text: 'x' }), RangeError, 'command.lines[1].code');
  invalid(reply({ type: 'error', code: 'A B', text: 'x' }), RangeError, 'command.lines[1].code');
  invalid(reply({ type: 'error', text: 'x' }), TypeError, 'command.lines[1].code');
  invalid(reply({ type: 'list', kind: 'ROW', rows: 'a b' }), TypeError, 'command.lines[1].rows');
  invalid(reply({ type: 'list', kind: 'ROW', rows: [['a'], [1]] }), TypeError, 'command.lines[1].rows[1][0]');
  invalid(reply({ type: 'list', kind: 'ROW', rows: [['a b', 'c']] }), RangeError, 'command.lines[1].rows[0][0]');
  invalid(reply({ type: 'list', kind: 'ROW', rows: [[]] }), RangeError, 'command.lines[1].rows[0]');
  invalid(reply({ type: 'list', kind: 'ROW', end: 'ends', rows: [] }), RangeError, 'command.lines[1].end');
  invalid(reply({ type: 'pm', from: 'a b', text: 'x' }), RangeError, 'command.lines[1].from');
  invalid(reply({ type: 'pm', from: 'al', text: 'x', time: -1 }), RangeError, 'command.lines[1].time');
  invalid(reply({ type: 'pmSent', to: '', text: 'x' }), RangeError, 'command.lines[1].to');
  invalid(reply({ type: 'group', from: 'al', group: 'g\r', text: 'x' }), RangeError, 'command.lines[1].group');
  invalid(() => e.setPolicy!(), TypeError, 'policy');
  invalid(() => e.setPolicy!(null), TypeError, 'policy');
  invalid(() => e.setPolicy!({ floodRate: '20' }), TypeError, 'policy.floodRate');
  invalid(() => e.setPolicy!({ maxLineBytes: -1 }), RangeError, 'policy.maxLineBytes');
  invalid(() => e.setPolicy!({ delegate: ['msg', 1] }), TypeError, 'policy.delegate[1]');

  // Nothing reached the engine, which still serves.
  const c = new LineClient(port, 'dave');
  await c.expectNext('>> Enter pseudo:');
  c.send('dave');
  await c.expectNext('>> Welcome dave !');
  await c.quiet();
  await h.close();
});

test('a rejected setPolicy changes nothing, not even the fields before the bad one', async () => {
  const h = new Harness();
  const { port } = h.listen();
  // maxLineBytes would be applied with the next good setPolicy if the failed call had kept it.
  invalid(() => h.raw.setPolicy!({ maxLineBytes: 16, floodRate: 'fast' }), TypeError, 'policy.floodRate');
  h.engine.setPolicy({ floodRate: 20 });
  h.engine.post({ type: 'query', req: 1, what: 'users' });
  await h.event('reply', (r) => r.req === 1); // host commands run in order: the policy is in place
  const c = new LineClient(port, 'carol');
  await c.expectNext('>> Enter pseudo:');
  c.send('carol');
  await c.expect('>> Welcome carol !');
  c.send('this line is longer than sixteen bytes');
  const before = await c.sync();
  assert.not.ok(before.some((l) => l.startsWith('!! LINE_TOO_LONG')), JSON.stringify(before));
  await h.close();
});

test('state errors carry codes: not listening, already listening', async () => {
  const h = new Harness();
  stateError(() => h.engine.post({ type: 'send', id: 1, text: 'x' }), 'EPCHAT_NOT_LISTENING');
  // Arguments are checked before the state.
  invalid(() => h.raw.post!({ type: 'send', id: '1', text: 'x' }), TypeError, 'command.id');
  h.listen();
  stateError(() => h.engine.listen(), 'EPCHAT_ALREADY_LISTENING');
  await h.close();
  stateError(() => h.engine.post({ type: 'announce', text: 'x' }), 'EPCHAT_NOT_LISTENING');
});

test('typed commands and events: reply lines formatted by the line protocol, deliver and kick answered by kind', async () => {
  const h = new Harness({ lifecycleEvents: true });
  const { port } = h.listen();
  const c = new LineClient(port, 'erin');
  await c.expectNext('>> Enter pseudo:');
  c.send('erin');
  await c.expectNext('>> Welcome erin !');
  const { id } = await h.event('register');
  h.engine.post({
    type: 'reply', id, lines: [
      { type: 'notice', text: 'Account erin registered' },
      { type: 'error', code: 'USAGE', text: '/weather CITY' },
      { type: 'list', kind: 'CITY', end: 'CITIES', rows: [['paris', '12 C, rain'], ['oslo', '-3 C']] },
      { type: 'list', kind: 'MAIL', rows: [] },
      { type: 'pm', from: 'bob', text: 'hi there', time: 1_800_000_000_000 },
      { type: 'pmSent', to: 'bob', text: 'hello' },
      { type: 'group', from: 'bob', group: 'team', text: 'standup at 10' },
    ],
  });
  await c.expectLines([
    '>> Account erin registered',
    '!! USAGE /weather CITY',
    '== CITY paris 12 C, rain',
    '== CITY oslo -3 C',
    '== END CITIES 2',
    '== END MAIL 0',
    '[pm from bob] hi there',
    '[pm to bob] hello',
    '[@team from bob] standup at 10',
  ]);
  h.engine.post({ type: 'deliver', req: 7, nicks: ['ERIN', 'nobody'], lines: [{ type: 'notice', text: 'bob added you to @team' }] });
  const d = await h.event('reply', (r) => r.req === 7);
  assert.is(d.kind, 'deliver');
  assert.equal(d.data, ['nobody']);
  await c.expectNext('>> bob added you to @team');
  h.engine.post({ type: 'kick', req: 8, nick: 'nobody' });
  const k = await h.event('reply', (r) => r.req === 8);
  assert.equal([k.kind, k.data], ['kick', false]);
  h.engine.post({ type: 'query', req: 9, what: 'rooms' });
  const r = await h.event('reply', (x) => x.req === 9);
  assert.is(r.kind, 'rooms');
  await c.quiet();
  await h.close();
  await c.closed();
});

test.run();
