// The seed session: Damoy, Rmandine and Bob, replayed line by line. Each line is sent only after the
// previous one was seen by everyone who should see it, so the interleaving is deterministic; at the end
// each user's whole transcript must be exactly what is shown below.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PROMPT, bye, welcome, withServer, type LineClient } from './helpers.js';

const test = suite('seed session');

test('Damoy, Rmandine and Bob see exactly the seed transcript', () => withServer({}, async (t) => {
  const users = new Map<string, LineClient>();
  const online = new Set<string>();

  async function join(nick: string) {
    const c = await t.connect(nick);
    users.set(nick, c);
    await c.expectNext(PROMPT);
    c.send(nick);
    online.add(nick);
    for (const n of online) await users.get(n)!.expectNext(welcome(nick));
  }
  async function say(nick: string, text: string) {
    users.get(nick)!.send(text);
    for (const n of online) if (n !== nick) await users.get(n)!.expectNext(`${nick}: ${text}`);
  }
  async function leave(nick: string) {
    const c = users.get(nick)!;
    c.end();
    await c.closed();
    online.delete(nick);
    for (const n of online) await users.get(n)!.expectNext(bye(nick));
  }

  await join('Damoy');
  await join('Rmandine');
  await say('Damoy', 'Hello Rmandine !');
  await say('Rmandine', 'Hey Damoy :) How are you ?');
  await join('Bob');
  await say('Damoy', 'Good, thanks and you ?');
  await say('Damoy', 'Oh welcome Bob !');
  await say('Rmandine', 'Same as you, thanks !');
  await say('Bob', 'Hello everyone :)');
  await say('Rmandine', "I have to go actually, sorry to leave early Bob ! See ya'");
  await say('Bob', 'No problem, bye Rmandine !');
  await leave('Rmandine');
  await say('Bob', 'Oh actually I have to go eat ! Bye Damoy sorry for not staying !');
  await say('Damoy', 'No problem, see you later Bob :)');
  await leave('Bob');
  await say('Damoy', 'Well I will afk and come back later...');
  // nothing else reached Damoy (no echo of his last line either)
  const damoy = users.get('Damoy')!;
  damoy.send('/users');
  assert.equal(await damoy.reply('USERS'), { rows: ['== USER Damoy'], count: 1 });

  const expected: Record<string, string[]> = {
    Damoy: [
      PROMPT,
      '>> Welcome Damoy !',
      '>> Welcome Rmandine !',
      'Rmandine: Hey Damoy :) How are you ?',
      '>> Welcome Bob !',
      'Rmandine: Same as you, thanks !',
      'Bob: Hello everyone :)',
      "Rmandine: I have to go actually, sorry to leave early Bob ! See ya'",
      'Bob: No problem, bye Rmandine !',
      '>> Bye Rmandine !',
      'Bob: Oh actually I have to go eat ! Bye Damoy sorry for not staying !',
      '>> Bye Bob !',
      '== USER Damoy',
      '== END USERS 1',
    ],
    Rmandine: [
      PROMPT,
      '>> Welcome Rmandine !',
      'Damoy: Hello Rmandine !',
      '>> Welcome Bob !',
      'Damoy: Good, thanks and you ?',
      'Damoy: Oh welcome Bob !',
      'Bob: Hello everyone :)',
      'Bob: No problem, bye Rmandine !',
    ],
    Bob: [
      PROMPT,
      '>> Welcome Bob !',
      'Damoy: Good, thanks and you ?',
      'Damoy: Oh welcome Bob !',
      'Rmandine: Same as you, thanks !',
      "Rmandine: I have to go actually, sorry to leave early Bob ! See ya'",
      '>> Bye Rmandine !',
      'Damoy: No problem, see you later Bob :)',
    ],
  };
  for (const [nick, lines] of Object.entries(expected)) assert.equal(users.get(nick)!.lines, lines, `${nick}'s transcript`);
}));

test.run();
