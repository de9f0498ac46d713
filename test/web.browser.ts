// The web client in a real browser, served by epchat itself: Debian's chromium driven by playwright-core
// opens the page at the HTTP listener's `/` (the WebSocket is on the same origin), two browser users and
// a line-protocol user (a raw TCP socket, as `nc` would be) chat in one room. Run with
// `npm run test:browser`; screenshots go to test-output/ (the path is printed).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LineClient, PROMPT, TEST_DATA_DIR, welcome } from './helpers.js';
import { descendants, launchBrowser, startEpchat, type Browser, type EpchatWeb } from './web-helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(root, 'test-output');
const WAIT = { timeout: 15000 };
/** Line-protocol waits: generous upper bounds, the lines themselves are the synchronisation. */
const LINE_MS = 15000;
const CAROL_PASSWORD = 'correct-horse-battery-staple';

interface Ctx {
  epchat?: EpchatWeb;
  browsers: Browser[];
  alice?: Page;
  bob?: Page;
  /** The line user, on a raw TCP socket like `nc 127.0.0.1 PORT`. */
  dave?: LineClient;
  lineClients: LineClient[];
  /** Problems seen by the pages: console errors, failed or foreign requests, CSP violations. */
  problems: string[];
}

const web = suite<Ctx>('web client', { browsers: [], lineClients: [], problems: [] });

async function open(ctx: Ctx, viewport: { width: number; height: number; mobile?: boolean }): Promise<Page> {
  const b = await launchBrowser(viewport);
  ctx.browsers.push(b);
  const page = b.context.pages()[0] ?? (await b.context.newPage());
  watch(ctx, page);
  await page.goto(`${ctx.epchat!.origin}/`);
  return page;
}

/** Records what a page does wrong: anything fetched from elsewhere than epchat's origin, errors. */
function watch(ctx: Ctx, page: Page): void {
  const origin = ctx.epchat!.origin;
  const wsOrigin = origin.replace(/^http/, 'ws');
  page.on('console', (m) => {
    if (m.type() === 'error') ctx.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => ctx.problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith(wsOrigin + '/')) ctx.problems.push(`foreign request: ${u}`);
  });
  page.on('requestfailed', (r) => ctx.problems.push(`request failed: ${r.url()}`));
}

/** The line user: connects, answers the nickname prompt, is welcomed in the default room (lobby). */
async function lineUser(ctx: Ctx, nick: string): Promise<LineClient> {
  const c = new LineClient(ctx.epchat!.linePort, nick);
  ctx.lineClients.push(c);
  await c.connected(LINE_MS);
  await c.expectNext(PROMPT, LINE_MS);
  c.send(nick);
  await c.expect(welcome(nick), LINE_MS);
  return c;
}

async function signIn(page: Page, nick: string): Promise<void> {
  await page.fill('#login-nick', nick);
  await page.click('#login-submit');
  await page.locator('#status-dot.on').waitFor({ ...WAIT, state: 'attached' });
  assert.is(await page.locator('#me-nick').textContent(), nick);
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

function message(page: Page, text: string, cls = '.msg') {
  return page.locator(`#messages ${cls}`, { hasText: text });
}

async function openDrawerItem(page: Page, label: string): Promise<void> {
  // On a phone the sidebar is a drawer behind the menu button.
  if (await page.locator('#menu').isVisible()) await page.click('#menu');
  await page.locator('.nav-item', { hasText: label }).click();
}

web.before(async (ctx) => {
  mkdirSync(outDir, { recursive: true });
  console.log(`  screenshots: ${outDir}`);
  ctx.epchat = await startEpchat(TEST_DATA_DIR);
  ctx.dave = await lineUser(ctx, 'dave');
});

web.after(async (ctx) => {
  // Only reached with something still open when a test failed; the last test closes everything.
  for (const b of ctx.browsers) await b.close().catch(() => undefined);
  for (const c of ctx.lineClients) c.destroy();
  await ctx.epchat?.stop().catch(() => undefined);
});

web('two browser users sign in and join the lobby from the room browser, which shows member counts', async (ctx) => {
  const alice = (ctx.alice = await open(ctx, { width: 1280, height: 800 }));
  await alice.screenshot({ path: join(outDir, 'web-login.png') });
  await signIn(alice, 'alice');
  // Not in a room yet: the room browser opens by itself and lists the lobby, where dave is.
  await alice.locator('#rooms-dialog').waitFor(WAIT);
  const aliceRow = alice.locator('.room-row', { hasText: 'lobby' });
  await aliceRow.locator('.room-count', { hasText: '1' }).waitFor(WAIT);
  await aliceRow.locator('button', { hasText: 'Join' }).click();
  await alice.locator('#conv-name', { hasText: 'lobby' }).waitFor(WAIT);
  await alice.locator('#member-list .member', { hasText: 'dave' }).waitFor(WAIT);
  await ctx.dave!.expect('>> alice joined lobby', LINE_MS);

  const bob = (ctx.bob = await open(ctx, { width: 390, height: 844, mobile: true }));
  await bob.screenshot({ path: join(outDir, 'web-phone-login.png') });
  await signIn(bob, 'bob');
  const row = bob.locator('.room-row', { hasText: 'lobby' });
  await row.locator('.room-count', { hasText: '2' }).waitFor(WAIT);
  await row.locator('button', { hasText: 'Join' }).click();
  await bob.locator('#conv-name', { hasText: 'lobby' }).waitFor(WAIT);
  await ctx.dave!.expect('>> bob joined lobby', LINE_MS);
});

web('each sees the others in the members list (the line user too), and joins are announced', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  await alice.locator('#member-list .member', { hasText: 'bob' }).waitFor(WAIT);
  for (const nick of ['alice', 'dave']) await bob.locator('#member-list .member', { hasText: nick }).waitFor({ ...WAIT, state: 'attached' });
  await message(alice, 'bob joined', '.line.event').waitFor(WAIT);
  assert.is((await alice.locator('#members-count').textContent())?.trim(), '3');
  assert.is(await alice.locator('#member-list .member').count(), 3);
});

web('messages arrive with the sender and a time, between the browsers and the line user', async (ctx) => {
  const { alice, bob, dave } = ctx as Required<Ctx>;
  await say(alice, 'hello bob and dave, welcome to the lobby 👋');
  const got = message(bob, 'welcome to the lobby');
  await got.waitFor(WAIT);
  assert.is(await got.locator('.nick').first().textContent(), 'alice');
  assert.match((await got.locator('time').first().textContent()) ?? '', /\d{1,2}[:.]\d{2}/);
  assert.ok(await got.locator('time[datetime]').count(), 'the time element carries the full time');
  await dave.expect('alice: hello bob and dave, welcome to the lobby 👋', LINE_MS);

  await say(bob, 'hi alice! glad to be here');
  await message(alice, 'glad to be here').waitFor(WAIT);
  await dave.expect('bob: hi alice! glad to be here', LINE_MS);

  dave.send('hello from a terminal, typed in nc');
  for (const page of [alice, bob]) {
    const fromDave = message(page, 'typed in nc');
    await fromDave.waitFor(WAIT);
    assert.is(await fromDave.locator('.nick').first().textContent(), 'dave');
  }

  await say(alice, 'the docs are at https://example.org/docs, have a look');
  const link = message(bob, 'the docs are at').locator('a.link');
  await link.waitFor(WAIT);
  assert.is(await link.getAttribute('href'), 'https://example.org/docs');
  await dave.expect('alice: the docs are at https://example.org/docs, have a look', LINE_MS);
});

web('/me arrives as an action, both ways', async (ctx) => {
  const { alice, bob, dave } = ctx as Required<Ctx>;
  await say(bob, '/me waves from a phone');
  const action = message(alice, 'waves from a phone', '.msg.action');
  await action.waitFor(WAIT);
  assert.is(await action.locator('.nick').textContent(), 'bob');
  await dave.expect('* bob waves from a phone', LINE_MS);

  dave.send('/me sips coffee at the terminal');
  for (const page of [alice, bob]) {
    const a = message(page, 'sips coffee', '.msg.action');
    await a.waitFor(WAIT);
    assert.is(await a.locator('.nick').textContent(), 'dave');
  }
});

web('HTML in a message (from a browser and from nc), a refused nick and a topic is shown as text', async (ctx) => {
  const { alice, bob, dave } = ctx as Required<Ctx>;
  const evil = '<img src=x onerror="window.__pwned=1"><b>bold?</b>';
  await say(alice, evil);
  const got = message(bob, 'bold?');
  await got.waitFor(WAIT);
  assert.is(await got.locator('.text').textContent(), evil);
  await dave.expect(`alice: ${evil}`, LINE_MS);

  const evilLine = '<script>window.__pwned=4</script><i>from nc</i>';
  dave.send(evilLine);
  const fromNc = message(alice, 'from nc');
  await fromNc.waitFor(WAIT);
  assert.is(await fromNc.locator('.text').textContent(), evilLine);

  // The server refuses such a nick; the refusal quotes it, and that quote must be text too.
  const evilNick = '<img/src=x/onerror=window.__pwned=2>';
  await say(bob, `/nick ${evilNick}`);
  const refusal = message(bob, 'onerror=window.__pwned=2', '.line.error');
  await refusal.waitFor(WAIT);
  assert.ok((await refusal.textContent())?.includes(evilNick));

  const evilTopic = '<script>window.__pwned=3</script> Be nice <i>please</i>';
  await say(alice, `/topic ${evilTopic}`);
  await bob.locator('#conv-topic', { hasText: 'Be nice' }).waitFor(WAIT);
  assert.is(await bob.locator('#conv-topic').textContent(), evilTopic);
  await dave.expect(`>> alice set the topic of lobby: ${evilTopic}`, LINE_MS);

  for (const page of [alice, bob]) {
    assert.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.is(await page.locator('#messages img, #messages b, #messages i, #messages script, #conv-topic script, #conv-topic i').count(), 0);
  }
});

web('private messages: browser to browser, nc to browser and back, marked unread until opened', async (ctx) => {
  const { alice, bob, dave } = ctx as Required<Ctx>;
  await say(alice, '/msg bob psst, a private word');
  await alice.locator('#conv-name', { hasText: 'bob' }).waitFor(WAIT);
  await message(alice, 'a private word').waitFor(WAIT);

  const dm = bob.locator('#nav-dms .nav-item', { hasText: 'alice' });
  await dm.locator('.badge.mention').waitFor({ ...WAIT, state: 'attached' });
  assert.is((await dm.locator('.badge').textContent())?.trim(), '1');
  await bob.locator('#menu-dot').waitFor({ ...WAIT, state: 'attached' });
  await openDrawerItem(bob, 'alice');
  await message(bob, 'a private word').waitFor(WAIT);
  assert.is(await dm.locator('.badge').count(), 0);
  await say(bob, 'got it, thanks');
  await message(alice, 'got it, thanks').waitFor(WAIT);

  dave.send('/msg alice a quiet word from the terminal');
  await dave.expect('[pm to alice] a quiet word from the terminal', LINE_MS);
  const fromDave = alice.locator('#nav-dms .nav-item', { hasText: 'dave' });
  await fromDave.locator('.badge.mention', { hasText: '1' }).waitFor(WAIT);
  await fromDave.click();
  await message(alice, 'a quiet word from the terminal').waitFor(WAIT);
  assert.is(await fromDave.locator('.badge').count(), 0);
  await say(alice, 'hello dave, received');
  await dave.expect('[pm from alice] hello dave, received', LINE_MS);
});

web('a room not in view counts unread messages and marks where the new ones start', async (ctx) => {
  const { alice, bob, dave } = ctx as Required<Ctx>;
  await alice.locator('#nav-rooms .nav-item', { hasText: 'lobby' }).click();
  await say(alice, 'anyone else around?');
  await say(alice, 'bob, back to the lobby when you can');
  const lobby = bob.locator('#nav-rooms .nav-item', { hasText: 'lobby' });
  await lobby.locator('.badge', { hasText: '2' }).waitFor({ ...WAIT, state: 'attached' });
  assert.ok(await lobby.locator('.badge.mention').count(), 'a mention of the nick is marked');
  dave.send('dave is here too');
  await lobby.locator('.badge', { hasText: '3' }).waitFor({ ...WAIT, state: 'attached' });
  await openDrawerItem(bob, 'lobby');
  await message(bob, 'dave is here too').waitFor(WAIT);
  assert.is(await lobby.locator('.badge').count(), 0);
  // The "new messages" divider sits right before the first of the three.
  const next = bob.locator('#messages .new-divider + .msg');
  await next.waitFor(WAIT);
  assert.ok((await next.textContent())?.includes('anyone else around?'));
});

web('several rooms: the room list shows member counts and refreshes', async (ctx) => {
  const { alice, bob, dave } = ctx as Required<Ctx>;
  await say(bob, '/join #random');
  await bob.locator('#conv-name', { hasText: 'random' }).waitFor(WAIT);
  assert.is(await bob.locator('#nav-rooms .nav-item').count(), 2);
  await alice.click('#browse');
  await alice.click('#rooms-refresh');
  const lobby = alice.locator('.room-row', { hasText: 'lobby' });
  await lobby.locator('.room-count', { hasText: '3' }).waitFor(WAIT);
  await alice.locator('.room-row', { hasText: 'random' }).locator('.room-count', { hasText: '1' }).waitFor(WAIT);
  await alice.screenshot({ path: join(outDir, 'web-rooms.png') });
  await alice.click('#rooms-close');
  await openDrawerItem(bob, 'lobby');
  // dave (line protocol) is still in the lobby: bob's move between his rooms is not a departure.
  dave.send('still here');
  await message(bob, 'still here').waitFor(WAIT);
});

web('scrolled up to read, a new message shows a button that goes back down', async (ctx) => {
  const { alice, bob, dave } = ctx as Required<Ctx>;
  for (const line of ['by the way, the release is on Friday', 'the notes are in the wiki', 'ping me if you want a review']) dave.send(line);
  await message(bob, 'ping me if you want a review').waitFor(WAIT);
  const box = bob.locator('#messages');
  const sizes = await box.evaluate((e) => [e.scrollHeight, e.clientHeight]);
  assert.ok(sizes[0]! > sizes[1]! + 150, `the lobby overflows the phone screen: ${sizes.join(' / ')}`);
  await box.evaluate((e) => {
    e.scrollTop = 0;
  });
  await say(alice, 'a message while bob reads older ones');
  await bob.locator('#jump', { hasText: 'New messages' }).waitFor(WAIT);
  assert.ok(await box.evaluate((e) => e.scrollTop < 100), 'the view stays where bob is reading');
  await bob.screenshot({ path: join(outDir, 'web-phone-jump.png') });
  await bob.click('#jump');
  await bob.locator('#jump').waitFor({ ...WAIT, state: 'hidden' });
  assert.ok(await box.evaluate((e) => e.scrollHeight - e.scrollTop - e.clientHeight < 80), 'back at the latest');
  await message(bob, 'while bob reads older ones').waitFor(WAIT);
});

web('screenshots: desktop (light and dark) and phone (conversation, members, drawer)', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  await say(bob, 'this client reads well on a phone too');
  await message(alice, 'reads well on a phone').waitFor(WAIT);
  await alice.hover('#input'); // no message row under the pointer (its hover shade)
  await alice.screenshot({ path: join(outDir, 'web-desktop.png') });
  await alice.emulateMedia({ colorScheme: 'dark' });
  await alice.screenshot({ path: join(outDir, 'web-desktop-dark.png') });
  await alice.emulateMedia({ colorScheme: 'light' });
  await bob.screenshot({ path: join(outDir, 'web-phone.png') });
  await bob.click('#members-toggle');
  await bob.locator('body.members-open').waitFor(WAIT);
  await bob.locator('#members').evaluate((e) => Promise.all(e.getAnimations().map((a) => a.finished)));
  assert.ok(await bob.locator('#member-list .member', { hasText: 'dave' }).isVisible());
  await bob.screenshot({ path: join(outDir, 'web-phone-members.png') });
  await bob.click('#members-close');
  await bob.locator('body.members-open').waitFor({ ...WAIT, state: 'detached' });
  // Something unread for the drawer's picture: a private message while bob reads the lobby.
  await say(alice, '/msg bob see you in #random later?');
  await bob.locator('#menu-dot').waitFor({ ...WAIT, state: 'attached' });
  await bob.click('#menu');
  await bob.locator('body.nav-open').waitFor(WAIT);
  // The drawer slides in: wait until it has stopped moving (its animations are finished).
  await bob.locator('#sidebar').evaluate((e) => Promise.all(e.getAnimations().map((a) => a.finished)));
  await bob.screenshot({ path: join(outDir, 'web-phone-drawer.png') });
  await bob.locator('#nav-dms .nav-item', { hasText: 'alice' }).locator('.badge', { hasText: '1' }).waitFor(WAIT);
  await bob.click('#backdrop', { position: { x: 370, y: 400 } });
  await alice.locator('#nav-rooms .nav-item', { hasText: 'lobby' }).click();
  await alice.locator('#conv-name', { hasText: 'lobby' }).waitFor(WAIT);
});

web('after the server restarts, both reconnect with back-off and rejoin their rooms', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  const ports = { httpPort: ctx.epchat!.httpPort, linePort: ctx.epchat!.linePort };
  await ctx.epchat!.stop();
  await ctx.dave!.closed(LINE_MS);
  await alice.locator('#banner', { hasText: 'Reconnecting' }).waitFor(WAIT);
  ctx.epchat = await startEpchat(TEST_DATA_DIR, ports);
  for (const page of [alice, bob]) await page.locator('#status-dot.on').waitFor({ ...WAIT, timeout: 30000, state: 'attached' });
  await alice.locator('#member-list .member', { hasText: 'bob' }).waitFor(WAIT);
  assert.ok(await bob.locator('#nav-rooms .nav-item', { hasText: 'random' }).count(), 'bob is back in #random too');
  ctx.dave = await lineUser(ctx, 'dave');
  await say(bob, 'back again');
  await message(alice, 'back again').waitFor(WAIT);
  await ctx.dave.expect('bob: back again', LINE_MS);
});

web('log in with an account (SASL PLAIN); a wrong password says so and returns to the form', async (ctx) => {
  const { alice } = ctx as Required<Ctx>;
  // The account is made on the line protocol, as a person with nc would.
  const reg = new LineClient(ctx.epchat!.linePort, 'carol-register');
  ctx.lineClients.push(reg);
  await reg.connected(LINE_MS);
  await reg.expectNext(PROMPT, LINE_MS);
  reg.send(`/register carol ${CAROL_PASSWORD}`);
  await reg.expect('>> Account carol registered', LINE_MS);
  reg.send('/quit');
  await reg.closed(LINE_MS);

  const wrong = await alice.context().newPage();
  watch(ctx, wrong);
  await wrong.goto(`${ctx.epchat!.origin}/`);
  // The account's nickname without logging in: the form says whose it is (not a silent "carol_").
  await wrong.fill('#login-nick', 'carol');
  await wrong.click('#login-submit');
  await wrong.locator('#login-error', { hasText: 'belongs to an account' }).waitFor(WAIT);
  assert.ok(await wrong.locator('#login').isVisible());

  await wrong.fill('#login-nick', '');
  await wrong.click('#login-account summary');
  await wrong.fill('#login-user', 'carol');
  await wrong.fill('#login-pass', 'not the password');
  await wrong.click('#login-submit');
  await wrong.locator('#login-error', { hasText: 'Login failed' }).waitFor(WAIT);
  assert.ok(await wrong.locator('#login').isVisible());
  assert.not.ok(await wrong.locator('#app').isVisible());

  // The right password, with the nickname left empty: the account's name is the nickname.
  await wrong.fill('#login-pass', CAROL_PASSWORD);
  await wrong.click('#login-submit');
  await wrong.locator('#status-dot.on').waitFor({ ...WAIT, state: 'attached' });
  assert.is(await wrong.locator('#me-nick').textContent(), 'carol');
  await wrong.locator('#rooms-close').click();
  await wrong.locator('#nav-server').click();
  await message(wrong, 'logged in as carol', '.line.info').waitFor(WAIT);
  await wrong.close();
});

web('reopening the page puts a user back in the rooms it was in', async (ctx) => {
  const { alice, dave } = ctx as Required<Ctx>;
  const page = await alice.context().newPage();
  watch(ctx, page);
  await page.goto(`${ctx.epchat!.origin}/`);
  await signIn(page, 'erin');
  await page.locator('#rooms-close').click();
  await say(page, '/join #lobby,#random');
  await page.locator('#nav-rooms .nav-item', { hasText: 'random' }).waitFor(WAIT);
  await page.locator('#conv-name', { hasText: 'lobby' }).waitFor(WAIT);
  await dave.expect('>> erin joined lobby', LINE_MS);

  await page.reload();
  await dave.expect(/^>> Bye erin !/, LINE_MS); // the old session is gone: the nick is free again
  assert.is(await page.inputValue('#login-nick'), 'erin', 'the nickname is remembered');
  await page.click('#login-submit');
  await page.locator('#status-dot.on').waitFor({ ...WAIT, state: 'attached' });
  await dave.expect('>> erin joined lobby', LINE_MS);
  await page.locator('#nav-rooms .nav-item', { hasText: 'random' }).waitFor(WAIT);
  await page.locator('#conv-name', { hasText: 'lobby' }).waitFor(WAIT);
  await page.locator('#member-list .member', { hasText: 'dave' }).waitFor(WAIT);
  assert.ok(await page.locator('#rooms-dialog').isHidden(), 'no room browser for someone with rooms');
  await page.close();
  await dave.expect(/^>> Bye erin !/, LINE_MS);
});

web('nothing was fetched from elsewhere and no page reported an error', async (ctx) => {
  // Lost connections during the restart and the refused login's 401-less close are expected.
  const problems = ctx.problems.filter((p) => !/WebSocket connection to 'ws:\/\/127\.0\.0\.1/.test(p));
  assert.equal(problems, []);
});

web('the test ends cleanly: browsers, sockets and the server stopped, no process left behind', async (ctx) => {
  for (const b of ctx.browsers.splice(0)) await b.close();
  for (const c of ctx.lineClients.splice(0)) c.destroy();
  await ctx.epchat!.stop();
  ctx.epchat = undefined;
  assert.equal(descendants(), []);
});

web.run();
