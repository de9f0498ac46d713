// A JavaScript thread that stops draining engine events cannot make the engine's memory grow without
// bound: past 65,536 waiting events, message events (the chat tap) are dropped and counted, reported
// with an EPCHAT_EVENTS_DROPPED error when the host next drains; nothing else is lost.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import type { MessageEvent } from '../lib/index.js';
import { until, withServer, withTimeout } from './helpers.js';

const test = suite('event backpressure');

const LINES = 80_000;

test(`${LINES} message events while the JavaScript thread is blocked: the excess is dropped and reported`, () =>
  withServer({ floodRate: 0, emitMessages: true }, async (t) => {
    let messages = 0;
    t.server.on('message', (e: MessageEvent) => { if (e.nick === 'blaster') messages++; });
    // The sender is another process, so it keeps sending while this thread is blocked.
    const script = `const s = require('node:net').connect(${t.port}, '127.0.0.1');
      let buf = '';
      s.on('data', (d) => {
        buf += d;
        if (buf.includes('>> Welcome blaster !')) {
          buf = '';
          s.write('m\\n'.repeat(${LINES}), () => console.log('sent'));
        }
      });
      s.write('blaster\\n');`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const sent = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { if (String(d).includes('sent')) resolve(); }));
      await withTimeout(sent, 10_000, 'the blaster wrote its lines');
      // Block this thread until the engine has read everything (its counter is readable meanwhile).
      const deadline = Date.now() + 10_000;
      while (t.server.stats().messages_in < LINES + 1 && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
      assert.ok(t.server.stats().messages_in >= LINES + 1, 'the engine read every line while JavaScript was blocked');
      // Once this thread is free, the batch it kept arrives, then the report of what was dropped.
      let n = 0;
      t.server.on('error', (x: Error & { code?: string }) => {
        if (x.code === 'EPCHAT_EVENTS_DROPPED') n += Number(/^(\d+) message events dropped/.exec(x.message)?.[1]);
      });
      await until(() => n > 0, 5000, 'an EPCHAT_EVENTS_DROPPED report');
      await until(() => messages + n === LINES, 5000, `every line kept or counted as dropped (kept ${messages}, dropped ${n})`);
      assert.ok(n < LINES - 60_000, `most were kept: dropped ${n}`);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000));

test.run();
