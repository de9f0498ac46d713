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

test('methods: missing, mistyped and out-of-range arguments on a listening engine', async () => {
  const h = new Harness();
  const { port } = h.listen();
  const e = h.raw;
  invalid(() => e.send!(), TypeError, 'id');
  invalid(() => e.send!('1', 'x'), TypeError, 'id');
  invalid(() => e.send!(-1, 'x'), RangeError, 'id');
  invalid(() => e.send!(1.5, 'x'), RangeError, 'id');
  invalid(() => e.send!(2 ** 64, 'x'), RangeError, 'id');
  invalid(() => e.send!(1), TypeError, 'text');
  invalid(() => e.send!(1, 42), TypeError, 'text');
  invalid(() => e.announce!(), TypeError, 'text');
  invalid(() => e.announce!({ toString: () => 'hi' }), TypeError, 'text');
  invalid(() => e.kick!('1', 'bob', 'bye'), TypeError, 'req');
  invalid(() => e.kick!(2 ** 32, 'bob', 'bye'), RangeError, 'req');
  invalid(() => e.kick!(1), TypeError, 'nick');
  invalid(() => e.kick!(1, 'bob', 5), TypeError, 'reason');
  invalid(() => e.query!(1), TypeError, 'what');
  invalid(() => e.query!(1, 'everything'), RangeError, 'what');
  invalid(() => e.query!(undefined, 'users'), TypeError, 'req');
  invalid(() => e.deliver!(1, 'bob', 'x'), TypeError, 'nicks');
  invalid(() => e.deliver!(1, ['bob', 2], 'x'), TypeError, 'nicks[1]');
  invalid(() => e.deliver!(1, ['bob']), TypeError, 'text');
  invalid(() => e.login!(1, null), TypeError, 'nick');
  invalid(() => e.login!(true, 'bob'), TypeError, 'id');
  invalid(() => e.prompt!('x'), TypeError, 'id');
  invalid(() => e.prompt!(), TypeError, 'id');
  invalid(() => e.finish!(), TypeError, 'id');
  invalid(() => e.finish!(1, -1, false), RangeError, 'seq');
  invalid(() => e.finish!(1, 1.5, false), RangeError, 'seq');
  invalid(() => e.finish!(1, 1), TypeError, 'close');
  invalid(() => e.finish!(1, 1, 'yes'), TypeError, 'close');
  invalid(() => e.protectNicks!(['bob']), TypeError, 'remove');
  invalid(() => e.protectNicks!('bob', []), TypeError, 'add');
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
  h.engine.query(1, 'users');
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
  stateError(() => h.engine.send(1, 'x'), 'EPCHAT_NOT_LISTENING');
  // Arguments are checked before the state.
  invalid(() => h.raw.send!('1', 'x'), TypeError, 'id');
  h.listen();
  stateError(() => h.engine.listen(), 'EPCHAT_ALREADY_LISTENING');
  await h.close();
  stateError(() => h.engine.announce('x'), 'EPCHAT_NOT_LISTENING');
});

test.run();
