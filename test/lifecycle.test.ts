// The addon's lifetime follows its host: a worker's teardown or a process exit stops the engine
// thread and frees everything (environment cleanup hook); nothing hangs, nothing crashes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, register, withTimeout } from './helpers.js';

const test = suite('lifecycle');
const INDEX = join(ROOT, 'dist', 'lib', 'index.js');

test('terminating a worker that runs a server stops the engine and closes its clients', async () => {
  const worker = new Worker(
    `import { parentPort } from 'node:worker_threads';
     const { createServer } = await import(${JSON.stringify(INDEX)});
     const server = createServer({ host: '127.0.0.1', port: 0, logLevel: 'silent', console: false, accounts: false });
     const { port } = await server.listen();
     parentPort.postMessage(port);`,
    { eval: true, type: 'module' } as never,
  );
  try {
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
      5000, 'worker listening');
    const alice = await register(port, 'alice');
    const code = await withTimeout(worker.terminate(), 5000, 'worker.terminate()');
    assert.is(code, 1);
    await alice.closed(3000);
  } finally {
    await worker.terminate();
  }
});

test('process.exit() with a server still listening exits at once, without close()', async () => {
  const script = `const { createServer } = await import(${JSON.stringify(INDEX)});
    const server = createServer({ host: '127.0.0.1', port: 0, logLevel: 'silent', console: false, accounts: false });
    const { port } = await server.listen();
    console.log(port);
    setTimeout(() => process.exit(7), 50);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await withTimeout(new Promise<number | null>((r) => child.on('exit', (c) => r(c))), 5000, 'child exit')
    .finally(() => child.kill('SIGKILL'));
  assert.is(code, 7, err);
});

test('a listening server keeps the process alive; close() lets it exit by itself', async () => {
  const script = `const { createServer } = await import(${JSON.stringify(INDEX)});
    const server = createServer({ host: '127.0.0.1', port: 0, logLevel: 'silent', console: false, accounts: false });
    await server.listen();
    let ticks = 0;
    const t = setInterval(() => { if (++ticks === 3) { clearInterval(t); server.close().then((s) => console.log('closed ' + s.accepted)); } }, 30);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await withTimeout(new Promise<number | null>((r) => child.on('exit', (c) => r(c))), 5000, 'child exit')
    .finally(() => child.kill('SIGKILL'));
  assert.is(code, 0);
  assert.is(out.trim(), 'closed 0');
});

test.run();
