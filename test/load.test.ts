// Load: 500 clients in one room; every client receives every other's messages, none lost, in order
// per sender.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_TIMEOUT, expectStats, withServer, type LineClient } from './helpers.js';

const test = suite('load');

const N = 500;
const ROUNDS = 3;

test(`${N} clients, ${ROUNDS} rounds: everyone gets everything, in order per sender`, () =>
  withServer({ maxClients: N + 10, quietRoomSize: 20, backlog: 1024 }, async (t) => {
    const clients: LineClient[] = [];
    // register in parallel batches (each client still checks prompt then its own welcome, strictly)
    const BATCH = 100;
    for (let i = 0; i < N; i += BATCH) {
      const batch = await Promise.all(Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => t.register(`u${i + j}`)));
      clients.push(...batch);
    }
    await expectStats(t.server, { users: N });

    // per receiver: messages counted, last round seen per sender, problems
    const received = new Array<number>(N).fill(0);
    const lastRound = clients.map(() => new Int32Array(N).fill(-1));
    const problems: string[] = [];
    let waiting: (() => void) | undefined;
    let target = 0;
    let done = 0; // receivers that reached `target`
    clients.forEach((c, me) => {
      c.onLine = (line) => {
        const m = /^u(\d+): r(\d+)$/.exec(line);
        if (!m) return; // notices of the first joins (before the room went quiet)
        const from = Number(m[1]);
        const round = Number(m[2]);
        if (from === me) problems.push(`u${me} got its own message back: ${line}`);
        else if (round !== lastRound[me]![from]! + 1) problems.push(`u${me} got r${round} from u${from} after r${lastRound[me]![from]}`);
        lastRound[me]![from] = round;
        if (++received[me] === target) {
          done++;
          if (done === N && waiting) waiting();
        }
      };
    });

    const started = Date.now();
    for (let r = 0; r < ROUNDS; r++) {
      target = (N - 1) * (r + 1);
      done = 0;
      const all = new Promise<void>((resolve) => { waiting = resolve; });
      for (const c of clients) c.send(`r${r}`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<void>((_, reject) => {
        timer = setTimeout(() => {
          const short = received.map((n, i) => [i, n] as const).filter(([, n]) => n < target).slice(0, 5);
          reject(new Error(`round ${r}: ${N - done} receivers short of ${target} after ${DEFAULT_TIMEOUT * 3} ms, e.g. ${JSON.stringify(short)}; problems: ${JSON.stringify(problems.slice(0, 5))}`));
        }, DEFAULT_TIMEOUT * 3);
      })]).finally(() => clearTimeout(timer));
    }
    const took = Date.now() - started;
    assert.equal(problems, []);
    assert.ok(received.every((n) => n === (N - 1) * ROUNDS), 'exact count for everyone');
    for (let me = 0; me < N; me++) {
      for (let from = 0; from < N; from++) {
        if (from !== me && lastRound[me]![from] !== ROUNDS - 1) throw new Error(`u${me} missing messages from u${from}`);
      }
    }
    const s = t.server.stats();
    assert.ok(s.deliveries >= N * (N - 1) * ROUNDS, `deliveries ${s.deliveries}`);
    assert.is(s.dropped_slow, 0);
    if (process.env.EPCHAT_TEST_VERBOSE) console.log(`\n  load: ${N * (N - 1) * ROUNDS} deliveries in ${took} ms`);
  }, 60_000));

test.run();
