// The web client in a real browser: Debian's chromium driven by playwright-core, two users on the
// IRC-over-WebSocket server that the fixture starts (today InspIRCd's m_websocket; epchat's own
// WebSocket listener once it exists). Run with `npm run test:browser`; screenshots go to test-output/.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { launchBrowser, startIrcWsServer, startStaticServer, type Browser, type StaticServer, type WsServer } from './web-helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(root, 'test-output');
const WAIT = { timeout: 15000 };

interface Ctx {
  ws?: WsServer;
  web?: StaticServer;
  browsers: Browser[];
  alice?: Page;
  bob?: Page;
  /** Problems seen by the pages: console errors, failed or foreign requests, CSP violations. */
  problems: string[];
}

const web = suite<Ctx>('web client', { browsers: [], problems: [] });

async function open(ctx: Ctx, viewport: { width: number; height: number; mobile?: boolean }): Promise<Page> {
  const b = await launchBrowser(viewport);
  ctx.browsers.push(b);
  const page = b.context.pages()[0] ?? (await b.context.newPage());
  const origin = ctx.web!.origin;
  const wsOrigin = ctx.ws!.url.replace(/\/$/, '');
  page.on('console', (m) => {
    if (m.type() === 'error') ctx.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => ctx.problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith(wsOrigin)) ctx.problems.push(`foreign request: ${u}`);
  });
  page.on('requestfailed', (r) => ctx.problems.push(`request failed: ${r.url()}`));
  await page.goto(`${origin}/?server=${encodeURIComponent(ctx.ws!.url)}`);
  return page;
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
  ctx.ws = await startIrcWsServer();
  ctx.web = await startStaticServer(join(root, 'dist', 'web'));
});

web.after(async (ctx) => {
  for (const b of ctx.browsers) await b.close().catch(() => undefined);
  await ctx.web?.stop();
  await ctx.ws?.stop();
});

web('two users sign in; the first creates a room from the room browser, the second finds it with its member count', async (ctx) => {
  const alice = (ctx.alice = await open(ctx, { width: 1280, height: 800 }));
  await alice.screenshot({ path: join(outDir, 'web-login.png') });
  await signIn(alice, 'alice');
  // No rooms yet: the room browser opens by itself.
  await alice.locator('#rooms-dialog').waitFor(WAIT);
  await alice.locator('#rooms-status', { hasText: 'No rooms yet' }).waitFor(WAIT);
  await alice.fill('#rooms-filter', 'lobby');
  await alice.press('#rooms-filter', 'Enter');
  await alice.locator('#conv-name', { hasText: 'lobby' }).waitFor(WAIT);
  await alice.locator('#member-list', { hasText: 'alice' }).waitFor(WAIT);

  const bob = (ctx.bob = await open(ctx, { width: 390, height: 844, mobile: true }));
  await signIn(bob, 'bob');
  const row = bob.locator('.room-row', { hasText: 'lobby' });
  await row.waitFor(WAIT);
  assert.is((await row.locator('.room-count').textContent())?.trim(), '1');
  await row.locator('button', { hasText: 'Join' }).click();
  await bob.locator('#conv-name', { hasText: 'lobby' }).waitFor(WAIT);
});

web('each sees the other in the members list, and joins are announced', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  await alice.locator('#member-list .member', { hasText: 'bob' }).waitFor(WAIT);
  await bob.locator('#member-list .member', { hasText: 'alice' }).waitFor({ ...WAIT, state: 'attached' });
  await message(alice, 'bob joined', '.line.event').waitFor(WAIT);
  assert.is((await alice.locator('#members-count').textContent())?.trim(), '2');
});

web('messages arrive with the sender and a time', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  await say(alice, 'hello bob, welcome to the lobby 👋');
  const got = message(bob, 'welcome to the lobby');
  await got.waitFor(WAIT);
  assert.is(await got.locator('.nick').first().textContent(), 'alice');
  assert.match((await got.locator('time').first().textContent()) ?? '', /\d{1,2}[:.]\d{2}/);
  await say(bob, 'hi alice! glad to be here');
  await message(alice, 'glad to be here').waitFor(WAIT);
  await say(alice, 'the docs are at https://example.org/docs, have a look');
  const link = message(bob, 'the docs are at').locator('a.link');
  await link.waitFor(WAIT);
  assert.is(await link.getAttribute('href'), 'https://example.org/docs');
});

web('/me arrives as an action', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  await say(bob, '/me waves from a phone');
  const action = message(alice, 'waves from a phone', '.msg.action');
  await action.waitFor(WAIT);
  assert.is(await action.locator('.nick').textContent(), 'bob');
});

web('HTML in a message, a nick and a topic is shown as text', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  const evil = '<img src=x onerror="window.__pwned=1"><b>bold?</b>';
  await say(alice, evil);
  const got = message(bob, 'bold?');
  await got.waitFor(WAIT);
  assert.is(await got.locator('.text').textContent(), evil);

  // IRC refuses such a nick; the refusal quotes it, and that quote must be text too.
  const evilNick = '<img/src=x/onerror=window.__pwned=2>';
  await say(bob, `/nick ${evilNick}`);
  const refusal = message(bob, 'onerror=window.__pwned=2', '.line.error');
  await refusal.waitFor(WAIT);
  assert.ok((await refusal.textContent())?.includes(evilNick));

  const evilTopic = '<script>window.__pwned=3</script> Be nice <i>please</i>';
  await say(alice, `/topic ${evilTopic}`);
  await bob.locator('#conv-topic', { hasText: 'Be nice' }).waitFor(WAIT);
  assert.is(await bob.locator('#conv-topic').textContent(), evilTopic);

  for (const page of [alice, bob]) {
    assert.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.is(await page.locator('#messages img, #messages b, #messages i, #conv-topic script, #conv-topic i').count(), 0);
  }
});

web('a private message opens a conversation and marks it unread', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
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
});

web('a room not in view counts unread messages', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  await alice.locator('#nav-rooms .nav-item', { hasText: 'lobby' }).click();
  await say(alice, 'anyone else around?');
  await say(alice, 'bob, back to the lobby when you can');
  const lobby = bob.locator('#nav-rooms .nav-item', { hasText: 'lobby' });
  await lobby.locator('.badge', { hasText: '2' }).waitFor({ ...WAIT, state: 'attached' });
  assert.ok(await lobby.locator('.badge.mention').count(), 'a mention of the nick is marked');
  await openDrawerItem(bob, 'lobby');
  await message(bob, 'back to the lobby').waitFor(WAIT);
  assert.is(await lobby.locator('.badge').count(), 0);
  // The "new messages" divider sits right before the first of the two.
  const next = bob.locator('#messages .new-divider + .msg');
  await next.waitFor(WAIT);
  assert.ok((await next.textContent())?.includes('anyone else around?'));
});

web('the room list shows member counts and refreshes', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  await say(bob, '/join #random');
  await bob.locator('#conv-name', { hasText: 'random' }).waitFor(WAIT);
  await alice.click('#browse');
  await alice.click('#rooms-refresh');
  const lobby = alice.locator('.room-row', { hasText: 'lobby' });
  await lobby.locator('.room-count', { hasText: '2' }).waitFor(WAIT);
  await alice.locator('.room-row', { hasText: 'random' }).locator('.room-count', { hasText: '1' }).waitFor(WAIT);
  await alice.screenshot({ path: join(outDir, 'web-rooms.png') });
  await alice.click('#rooms-close');
  await openDrawerItem(bob, 'lobby');
});

web('screenshots: desktop (light and dark) and phone (conversation and drawer)', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  await say(bob, 'this client reads well on a phone too');
  await message(alice, 'reads well on a phone').waitFor(WAIT);
  await alice.screenshot({ path: join(outDir, 'web-desktop.png') });
  await alice.emulateMedia({ colorScheme: 'dark' });
  await alice.screenshot({ path: join(outDir, 'web-desktop-dark.png') });
  await alice.emulateMedia({ colorScheme: 'light' });
  await bob.screenshot({ path: join(outDir, 'web-phone.png') });
  await bob.click('#menu');
  await bob.locator('body.nav-open').waitFor(WAIT);
  await bob.waitForTimeout(300); // let the drawer's slide-in finish for the picture
  await bob.screenshot({ path: join(outDir, 'web-phone-drawer.png') });
  await bob.click('#backdrop', { position: { x: 370, y: 400 } });
});

web('after the server restarts, both reconnect with back-off and rejoin their rooms', async (ctx) => {
  const { alice, bob } = ctx as Required<Ctx>;
  const port = Number(new URL(ctx.ws!.url).port);
  await ctx.ws!.stop();
  await alice.locator('#banner', { hasText: 'Reconnecting' }).waitFor(WAIT);
  ctx.ws = await startIrcWsServer(port);
  for (const page of [alice, bob]) await page.locator('#status-dot.on').waitFor({ ...WAIT, timeout: 30000, state: 'attached' });
  await alice.locator('#member-list .member', { hasText: 'bob' }).waitFor(WAIT);
  assert.ok(await bob.locator('#nav-rooms .nav-item', { hasText: 'random' }).count(), 'bob is back in #random too');
  await say(bob, 'back again');
  await message(alice, 'back again').waitFor(WAIT);
});

web('account login on a server without SASL says so and returns to the form', async (ctx) => {
  const { alice } = ctx as Required<Ctx>;
  const page = await alice.context().newPage();
  await page.goto(`${ctx.web!.origin}/?server=${encodeURIComponent(ctx.ws!.url)}`);
  await page.fill('#login-nick', 'carol');
  await page.click('#login-account summary');
  await page.fill('#login-user', 'carol');
  await page.fill('#login-pass', 'correct horse battery staple');
  await page.click('#login-submit');
  await page.locator('#login-error', { hasText: 'does not offer account login' }).waitFor(WAIT);
  assert.ok(await page.locator('#login').isVisible());
  assert.not.ok(await page.locator('#app').isVisible());
  await page.close();
});

web('nothing was fetched from elsewhere and no page reported an error', async (ctx) => {
  // Lost connections during the restart are expected; everything else is a problem.
  const problems = ctx.problems.filter((p) => !/WebSocket connection to 'ws:\/\/127\.0\.0\.1/.test(p));
  assert.equal(problems, []);
});

web.run();
