// Engine teardown under a host that goes away: a worker running a server with connected, registered
// clients is terminated, again and again. Runs in a child process so that a native crash fails this
// test instead of killing the whole run.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, withTimeout } from './helpers.js';

const test = suite('teardown');
const INDEX = join(ROOT, 'dist', 'lib', 'index.js');

const script = (iterations: number) => `
import { Worker } from 'node:worker_threads';
import net from 'node:net';
const nextLine = (sock) => new Promise((resolve, reject) => {
  let buf = '';
  const on = (d) => { buf += d; const i = buf.indexOf('\\n'); if (i >= 0) { sock.off('data', on); resolve(buf.slice(0, i)); } };
  sock.on('data', on); sock.once('error', reject);
});
for (let i = 0; i < ${iterations}; i++) {
  const worker = new Worker(\`import { parentPort } from 'node:worker_threads';
    const { createServer } = await import(${JSON.stringify(JSON.stringify(INDEX)).slice(1, -1)});
    const server = createServer({ host: '127.0.0.1', port: 0, logLevel: 'silent', console: false, accounts: false });
    const { port } = await server.listen();
    parentPort.postMessage(port);\`, { eval: true, type: 'module' });
  const port = await new Promise((r) => worker.once('message', r));
  const socks = [];
  for (const nick of ['alice']) {
    const s = net.connect(port, '127.0.0.1'); s.setEncoding('utf8'); s.on('error', () => {});
    await nextLine(s); s.write(nick + '\\n'); await nextLine(s);
    socks.push(s);
  }
  socks[0].write('hello\\n'); // traffic in flight while the worker goes away
  await worker.terminate();
  for (const s of socks) s.destroy();
}
console.log('done');
`;

test('terminating a worker with a registered client, 30 times, never crashes the process', async () => {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script(30)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  try {
    const [code, signal] = await withTimeout(
      new Promise<[number | null, string | null]>((r) => child.on('exit', (c, s) => r([c, s]))), 30_000, 'worker loop');
    assert.ok(code === 0 && out.includes('done'), `exit ${code} ${signal ?? ''}: ${err.split('\n').slice(0, 3).join(' | ')}`);
  } finally {
    child.kill('SIGKILL');
  }
});

test.run();
