// Small shared pieces for the IRC tests.
import * as assert from 'uvu/assert';
import { createServer } from '../lib/index.js';
import { TEST_DEFAULTS, withTimeout, type LineClient, type TestServer } from './helpers.js';

export { withServer, welcome } from './helpers.js';

/** A line user registered in the default room of t. */
export function register(t: TestServer, nick: string): Promise<LineClient> { return t.register(nick); }

export async function createTestServerOff(): Promise<void> {
  const s = createServer({ ...TEST_DEFAULTS, ircPort: -1 });
  try {
    await withTimeout(s.listen(), 5000, 'listen');
    assert.is(s.ircAddress(), null);
    assert.ok(s.address());
  } finally {
    await s.close();
  }
}
