// Runs last (files run in name order): every client, server and child process that the suites opened
// must have been closed by then.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanupAll, openResources } from './helpers.js';

const test = suite('no leaks');

test('every client, server and child process was closed', async () => {
  const open = openResources();
  await cleanupAll();
  assert.equal(open, { clients: 0, children: 0, servers: 0 });
});

test.run();
