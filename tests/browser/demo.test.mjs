// Browser test of the demo page that banter-local serves (local-gateway/web/).
//
// Starts target/debug/banter-local on two free loopback ports, opens the page in two
// headless Chromium contexts (two users), and walks through what a newcomer does: sign up,
// create a live event, comment, see it arrive live on the other side, like, reply,
// moderate, drop the socket and catch up, then chat with typing indicators, unread counts
// and read receipts. Screenshots of both users end up in target/browser-screenshots/.
//
// Run: scripts/setup-browser-tools && node --test tests/browser/demo.test.mjs
// Environment:
//   BANTER_LOCAL_BIN   the gateway binary (default: `cargo build -p banter-local`, then
//                      target/debug/banter-local)
//   CHROMIUM           the browser (default /usr/bin/chromium)
//   BROWSER_TIMEOUT_MS how long to wait for something to show up (default 10000)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = join(ROOT, 'target', 'browser-screenshots');
const TIMEOUT = Number(process.env.BROWSER_TIMEOUT_MS || 10000);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let gateway; // {proc, log: string[], restPort, wsPort}
let browser;
const users = {}; // a, b: {name, page, context, errors: string[]}

// ---------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function gatewayBinary() {
  if (process.env.BANTER_LOCAL_BIN) return resolve(process.env.BANTER_LOCAL_BIN);
  const build = spawnSync('cargo', ['build', '--quiet', '--locked', '-p', 'banter-local'], {
    cwd: ROOT, stdio: 'inherit',
  });
  assert.equal(build.status, 0, 'cargo build -p banter-local failed');
  return join(ROOT, 'target', 'debug', 'banter-local');
}

async function startGateway() {
  const bin = gatewayBinary();
  const restPort = await freePort();
  let wsPort = await freePort();
  while (wsPort === restPort) wsPort = await freePort();
  const log = [];
  const proc = spawn(bin, ['--host', '127.0.0.1', '--rest-port', String(restPort), '--ws-port', String(wsPort)], {
    cwd: ROOT,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) if (line) log.push(line);
    if (log.length > 400) log.splice(0, log.length - 400);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let exited = null;
  proc.on('exit', (code, signal) => { exited = { code, signal }; });
  gateway = { proc, log, restPort, wsPort };

  const deadline = Date.now() + 30000;
  for (;;) {
    if (exited) throw new Error(`banter-local exited (${JSON.stringify(exited)}):\n${log.join('\n')}`);
    try {
      const res = await fetch(`http://127.0.0.1:${restPort}/v1/health`);
      if (res.ok && (await tcpOpen(wsPort))) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`banter-local did not come up in 30 s:\n${log.join('\n')}`);
    await sleep(100);
  }
}

function tcpOpen(port) {
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); ok(true); });
    s.once('error', () => ok(false));
  });
}

async function stopGateway() {
  if (!gateway || gateway.proc.exitCode !== null || gateway.proc.signalCode) return;
  const done = new Promise((ok) => gateway.proc.once('exit', ok));
  gateway.proc.kill('SIGTERM');
  const timer = setTimeout(() => gateway.proc.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(timer);
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// ---------------------------------------------------------------------------------------
// Browser helpers
// ---------------------------------------------------------------------------------------

async function openUser(key, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  const url = `http://127.0.0.1:${gateway.restPort}/?ws=${encodeURIComponent(`ws://127.0.0.1:${gateway.wsPort}`)}`;
  await page.goto(url);
  users[key] = { name, page, context, errors };
  return users[key];
}

const tid = (page, id) => page.getByTestId(id);

async function expectText(locator, text) {
  await locator.filter({ hasText: text }).first().waitFor({ state: 'visible' });
}

async function screenshot(key, label) {
  const u = users[key];
  if (!u) return;
  mkdirSync(SHOTS, { recursive: true });
  await u.page.screenshot({ path: join(SHOTS, `${key}-${label}.png`) }).catch(() => {});
}

// One failed step skips the rest, so the report shows the first failure, not its echoes.
let broken = false;
async function step(t, name, fn) {
  await t.test(name, async (st) => {
    if (broken) { st.skip('an earlier step failed'); return; }
    try {
      await fn();
    } catch (err) {
      broken = true;
      await screenshot('a', 'failure');
      await screenshot('b', 'failure');
      const tail = gateway ? gateway.log.slice(-60).join('\n') : '';
      const pageErrors = Object.entries(users).map(([k, u]) => `${k}: ${u.errors.join(' | ') || '-'}`).join('\n');
      err.message += `\n--- page errors ---\n${pageErrors}\n--- banter-local log (tail) ---\n${tail}`;
      throw err;
    }
  });
}

// ---------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------

before(async () => {
  await startGateway();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
    ],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await stopGateway();
});

test('demo page: live comments and chat between two users', async (t) => {
  const suffix = Date.now().toString(36).slice(-5);
  const alice = `alice_${suffix}`;
  const bob = `bob_${suffix}`;
  const eventTitle = `Cup final ${suffix}`;
  let A, B;

  await step(t, 'the page loads with the sign-up form and no script errors', async () => {
    A = await openUser('a', 'Alice');
    B = await openUser('b', 'Bob');
    for (const u of [A, B]) {
      await tid(u.page, 'auth-panel').waitFor();
      assert.equal(await u.page.title(), 'Banter — live comments & chat');
      const config = await u.page.evaluate(() => window.banter.config);
      assert.equal(config.ws, `ws://127.0.0.1:${gateway.wsPort}`);
    }
    await screenshot('a', '0-signup');
  });

  await step(t, 'both users sign up and get a live connection', async () => {
    for (const [u, username, display] of [[A, alice, 'Alice'], [B, bob, 'Bob']]) {
      await tid(u.page, 'auth-mode-register').click();
      await tid(u.page, 'auth-username').fill(username);
      await tid(u.page, 'auth-display-name').fill(display);
      await tid(u.page, 'auth-password').fill('correct horse battery');
      await tid(u.page, 'auth-submit').click();
      await tid(u.page, 'events-view').waitFor();
      await expectText(tid(u.page, 'current-user'), display);
      await u.page.locator('[data-testid="connection-status"][data-state="online"]').waitFor();
    }
  });

  await step(t, 'a wrong password is refused with a readable error', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`http://127.0.0.1:${gateway.restPort}/`);
    await tid(page, 'auth-mode-login').click();
    await tid(page, 'auth-username').fill(alice);
    await tid(page, 'auth-password').fill('not the password');
    await tid(page, 'auth-submit').click();
    await expectText(tid(page, 'auth-error'), 'Wrong username or password');
    await ctx.close();
  });

  let eventId;
  await step(t, 'Alice creates an event and sets it live', async () => {
    await tid(A.page, 'create-event-title').fill(eventTitle);
    await tid(A.page, 'create-event-live').check();
    await tid(A.page, 'create-event-submit').click();
    await expectText(tid(A.page, 'event-title'), eventTitle);
    await A.page.locator('[data-testid="event-status"][data-status="live"]').waitFor();
    eventId = await A.page.locator('[data-testid="event-item"][aria-current="true"]').getAttribute('data-event-id');
    assert.match(eventId, /^[0-9a-f-]{36}$/);
    // The creator moderates: the end button is there.
    await tid(A.page, 'event-end').waitFor();
  });

  await step(t, 'Bob finds the live event and opens it', async () => {
    await tid(B.page, 'events-refresh').click();
    const item = B.page.locator(`[data-testid="event-item"][data-event-id="${eventId}"]`);
    await item.click();
    await expectText(tid(B.page, 'event-title'), eventTitle);
    await tid(B.page, 'comment-list-empty').waitFor();
    assert.equal(await tid(B.page, 'event-end').isVisible(), false, 'only the creator can end the event');
  });

  await step(t, 'both pages show that two people watch the event', async () => {
    // Bob's subscribe asks the room for a viewer count (taken at most every 5 s); it
    // arrives in the room's stream on both pages.
    for (const u of [A, B]) {
      await tid(u.page, 'event-viewers').filter({ hasText: '2 watching' }).waitFor({ timeout: 20000 });
    }
  });

  await step(t, "Alice comments and Bob sees it arrive without reloading", async () => {
    await tid(A.page, 'comment-input').fill('What a goal!');
    await tid(A.page, 'comment-submit').click();
    const onB = B.page.locator('[data-testid="comment"]', { hasText: 'What a goal!' });
    await onB.waitFor();
    await expectText(onB.getByTestId('comment-author'), 'Alice');
    // Exactly once on both sides (the author's ack and the broadcast are merged).
    await A.page.locator('[data-testid="comment"]', { hasText: 'What a goal!' }).waitFor();
    await sleep(300);
    assert.equal(await onB.count(), 1);
    assert.equal(await A.page.locator('[data-testid="comment"]', { hasText: 'What a goal!' }).count(), 1);
    // Bob did not write it: no delete, no moderation buttons.
    assert.equal(await onB.getByTestId('comment-delete').count(), 0);
    assert.equal(await onB.getByTestId('comment-moderation').count(), 0);
  });

  await step(t, "Bob likes it and Alice's like count goes up live", async () => {
    const onB = B.page.locator('[data-testid="comment"]', { hasText: 'What a goal!' });
    await onB.getByTestId('comment-like').click();
    await B.page.locator('[data-testid="comment"][data-position] [data-testid="comment-like"][aria-pressed="true"]').waitFor();
    const onA = A.page.locator('[data-testid="comment"]', { hasText: 'What a goal!' });
    await expectText(onA.getByTestId('comment-like-count'), '1');
  });

  await step(t, 'Bob replies and Alice sees the reply with its context', async () => {
    const onB = B.page.locator('[data-testid="comment"]', { hasText: 'What a goal!' });
    await onB.getByTestId('comment-reply').click();
    await tid(B.page, 'reply-chip').waitFor();
    await tid(B.page, 'comment-input').fill('Best goal of the season');
    await tid(B.page, 'comment-input').press('Enter');
    const reply = A.page.locator('[data-testid="comment"]', { hasText: 'Best goal of the season' });
    await reply.waitFor();
    await expectText(reply.getByTestId('comment-reply-ref'), 'Alice');
    await expectText(reply.getByTestId('comment-author'), 'Bob');
    assert.equal(await tid(B.page, 'reply-chip').isVisible(), false, 'the reply chip clears after posting');
  });

  await step(t, "Alice moderates: blocking Bob's reply hides it for Bob too", async () => {
    const reply = A.page.locator('[data-testid="comment"]', { hasText: 'Best goal of the season' });
    const commentId = await reply.getAttribute('data-comment-id');
    await reply.getByTestId('moderate-block').click();
    const onB = B.page.locator(`[data-testid="comment"][data-comment-id="${commentId}"]`);
    await expectText(onB.getByTestId('comment-content'), 'removed by a moderator');
    await expectText(onB.getByTestId('comment-badge'), 'blocked');
  });

  await step(t, 'Alice deletes her own comment and it disappears for Bob', async () => {
    await tid(A.page, 'comment-input').fill('Oops, wrong match');
    await tid(A.page, 'comment-submit').click();
    const onB = B.page.locator('[data-testid="comment"]', { hasText: 'Oops, wrong match' });
    await onB.waitFor();
    const id = await onB.getAttribute('data-comment-id');
    await A.page.locator(`[data-testid="comment"][data-comment-id="${id}"] [data-testid="comment-delete"]`).click();
    await expectText(B.page.locator(`[data-testid="comment"][data-comment-id="${id}"] [data-testid="comment-content"]`), 'deleted');
  });

  await step(t, "Bob's socket drops; he catches up on what he missed after reconnecting", async () => {
    await B.page.evaluate(() => window.banter.disconnect({ reconnect: false }));
    await B.page.locator('[data-testid="connection-status"][data-state="offline"]').waitFor();
    for (const text of ['Missed one', 'Missed two']) {
      await tid(A.page, 'comment-input').fill(text);
      await tid(A.page, 'comment-submit').click();
      await A.page.locator('[data-testid="comment"]', { hasText: text }).waitFor();
    }
    await sleep(500);
    assert.equal(await B.page.locator('[data-testid="comment"]', { hasText: 'Missed' }).count(), 0, 'nothing arrives while offline');
    await B.page.evaluate(() => window.banter.reconnect());
    await B.page.locator('[data-testid="connection-status"][data-state="online"]').waitFor();
    await B.page.locator('[data-testid="comment"]', { hasText: 'Missed two' }).waitFor();
    assert.equal(await B.page.locator('[data-testid="comment"]', { hasText: 'Missed one' }).count(), 1);
    // In position order, each once.
    const positions = await B.page.locator('[data-testid="comment"]').evaluateAll((els) => els.map((e) => Number(e.dataset.position)));
    assert.deepEqual(positions, [...positions].sort((x, y) => x - y));
    assert.equal(new Set(positions).size, positions.length);
    // And live again afterwards.
    await tid(A.page, 'comment-input').fill('Back live');
    await tid(A.page, 'comment-submit').click();
    await B.page.locator('[data-testid="comment"]', { hasText: 'Back live' }).waitFor();
    await screenshot('a', '1-events');
    await screenshot('b', '1-events');
  });

  await step(t, 'an access token that stops working is refreshed, for REST and for the socket', async () => {
    const before = await B.page.evaluate(() => window.banter.accessToken);
    await B.page.evaluate(() => window.banter.spoilAccessToken());
    // REST: 401, refresh, retry; no error shown.
    const reloaded = B.page.waitForResponse((r) => r.url().includes('/comments?') && r.status() === 200);
    await tid(B.page, 'comments-refresh').click();
    await reloaded;
    const after = await B.page.evaluate(() => window.banter.accessToken);
    assert.notEqual(after, before);
    assert.ok(!after.startsWith('spoiled.'));
    // WebSocket: the handshake fails (401), the page refreshes and reconnects.
    await B.page.evaluate(() => window.banter.spoilAccessToken());
    await B.page.evaluate(() => window.banter.disconnect({ reconnect: true }));
    await B.page.locator('[data-testid="connection-status"][data-state="offline"]').waitFor();
    await B.page.locator('[data-testid="connection-status"][data-state="online"]').waitFor({ timeout: TIMEOUT + 5000 });
    assert.ok(!(await B.page.evaluate(() => window.banter.accessToken)).startsWith('spoiled.'));
    assert.equal(await tid(B.page, 'toast').filter({ hasText: 'Could not' }).count(), 0);
    // Still live on the new socket.
    await tid(A.page, 'comment-input').fill('Next question');
    await tid(A.page, 'comment-submit').click();
    await B.page.locator('[data-testid="comment"]', { hasText: 'Next question' }).waitFor();
  });

  await step(t, 'a strict event: Bob\'s comment waits until Alice approves it', async () => {
    const title = `Press conference ${suffix}`;
    await tid(A.page, 'create-event-title').fill(title);
    await tid(A.page, 'create-event-moderation').selectOption('strict');
    await tid(A.page, 'create-event-submit').click();
    await expectText(tid(A.page, 'event-title'), title);
    await tid(B.page, 'events-refresh').click();
    await B.page.locator('[data-testid="event-item"]', { hasText: title }).click();
    await expectText(tid(B.page, 'event-title'), title);
    await expectText(tid(B.page, 'comment-note'), 'once a moderator approves');
    await tid(B.page, 'comment-input').fill('Is the coach staying?');
    await tid(B.page, 'comment-submit').click();
    const onB = B.page.locator('[data-testid="comment"]', { hasText: 'Is the coach staying?' });
    await expectText(onB.getByTestId('comment-badge'), 'awaiting approval');
    // Pending comments reach the moderator's page live (comment_pending), nobody else's.
    const onA = A.page.locator('[data-testid="comment"][data-status="pending"]', { hasText: 'Is the coach staying?' });
    await onA.waitFor();
    await screenshot('a', '1-strict-pending');
    await onA.getByTestId('moderate-approve').click();
    await B.page.locator('[data-testid="comment"][data-status="approved"]', { hasText: 'Is the coach staying?' }).waitFor();
    assert.equal(await onB.getByTestId('comment-badge').count(), 0);
  });

  await step(t, 'Alice starts a direct chat with Bob by searching his username', async () => {
    await tid(B.page, 'tab-chat').click();
    await tid(B.page, 'chat-view').waitFor();
    await tid(A.page, 'tab-chat').click();
    await tid(A.page, 'user-search-input').fill(bob.slice(0, 6));
    const result = A.page.locator(`[data-testid="user-search-result"][data-username="${bob}"]`);
    await result.click();
    await expectText(tid(A.page, 'chat-title'), 'Bob');
    await tid(A.page, 'message-input').fill('Hi Bob! Did you see that goal?');
    await tid(A.page, 'message-send').click();
    const mine = A.page.locator('[data-testid="message"]', { hasText: 'Hi Bob!' });
    await mine.waitFor();
    await A.page.locator('[data-testid="message"][data-mine="1"] [data-testid="message-receipt"]:not([data-status="sending"])').first().waitFor();
  });

  await step(t, 'Bob sees the new chat with an unread count, opens it, and Alice sees it read', async () => {
    await tid(B.page, 'conversations-refresh').click();
    const item = B.page.locator('[data-testid="conversation-item"]', { hasText: 'Alice' });
    await expectText(item.getByTestId('conversation-unread'), '1');
    await expectText(tid(B.page, 'chat-unread-total'), '1');
    await item.click();
    await B.page.locator('[data-testid="message"]', { hasText: 'Hi Bob! Did you see that goal?' }).waitFor();
    await A.page.locator('[data-testid="message"]', { hasText: 'Hi Bob!' })
      .locator('[data-testid="message-receipt"][data-status="read"]').waitFor();
    await expectText(A.page.locator('[data-testid="message-receipt"][data-status="read"]'), '✓✓');
    assert.equal(await item.getByTestId('conversation-unread').count(), 0, 'opening the chat clears its unread count');
  });

  await step(t, "Alice types and Bob sees 'Alice is typing…'; it goes away when she sends", async () => {
    await tid(A.page, 'message-input').pressSequentially('Yes, top corner', { delay: 20 });
    await expectText(tid(B.page, 'typing-indicator'), 'Alice is typing');
    await tid(A.page, 'message-input').press('Enter');
    await B.page.locator('[data-testid="message"]', { hasText: 'Yes, top corner' }).waitFor();
    await B.page.waitForFunction(() => document.querySelector('[data-testid="typing-indicator"]').textContent === '');
  });

  await step(t, 'Bob answers and Alice gets it live, read receipts both ways', async () => {
    await tid(B.page, 'message-input').fill('Unbelievable. Rematch next week?');
    await tid(B.page, 'message-send').click();
    await A.page.locator('[data-testid="message"]', { hasText: 'Unbelievable.' }).waitFor();
    await B.page.locator('[data-testid="message"]', { hasText: 'Unbelievable.' })
      .locator('[data-testid="message-receipt"][data-status="read"]').waitFor();
    await A.page.locator('[data-testid="message"]', { hasText: 'Yes, top corner' })
      .locator('[data-testid="message-receipt"][data-status="read"]').waitFor();
  });

  await step(t, 'slow mode and a ban are told to Bob when he comments', async () => {
    const token = await A.page.evaluate(() => window.banter.accessToken);
    const rest = (method, path, body) => fetch(`http://127.0.0.1:${gateway.restPort}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const patched = await rest('PATCH', `/v1/events/${eventId}`, { comment_settings: { slow_mode_seconds: 60 } });
    assert.equal(patched.status, 200);
    await B.page.locator('.tab[data-tab="events"]').click();
    await B.page.locator(`[data-testid="event-item"][data-event-id="${eventId}"]`).click();
    await expectText(tid(B.page, 'event-title'), eventTitle);
    for (const text of ['Slow one', 'Slow two']) {
      await tid(B.page, 'comment-input').fill(text);
      await tid(B.page, 'comment-submit').click();
    }
    await tid(B.page, 'toast').filter({ hasText: 'Slow down a little' }).first().waitFor();
    const me = await B.page.evaluate(() => window.banter.session.user.user_id);
    const banned = await rest('POST', `/v1/events/${eventId}/bans`, { user_id: me, reason: 'testing' });
    assert.equal(banned.status, 201);
    await rest('PATCH', `/v1/events/${eventId}`, { comment_settings: { slow_mode_seconds: 0 } });
    await tid(B.page, 'comment-input').fill('Banned now?');
    await tid(B.page, 'comment-submit').click();
    await tid(B.page, 'toast').filter({ hasText: 'banned' }).first().waitFor();
    assert.equal((await rest('DELETE', `/v1/events/${eventId}/bans/${me}`)).status, 204);
  });

  await step(t, 'a visitor watches the event without signing in and sees comments arrive', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`http://127.0.0.1:${gateway.restPort}/`);
    await tid(page, 'auth-watch').click();
    await tid(page, 'events-view').waitFor();
    await page.locator('[data-testid="connection-status"][data-state="online"]').waitFor();
    await page.locator(`[data-testid="event-item"][data-event-id="${eventId}"]`).click();
    await expectText(tid(page, 'event-title'), eventTitle);
    assert.equal(await tid(page, 'comment-input').isDisabled(), true, 'a visitor cannot comment');
    assert.equal(await tid(page, 'tabs').isVisible(), false, 'no chat without an account');
    await A.page.locator('.tab[data-tab="events"]').click();
    await A.page.locator(`[data-testid="event-item"][data-event-id="${eventId}"]`).click();
    await expectText(tid(A.page, 'event-title'), eventTitle);
    await tid(A.page, 'comment-input').fill('Hello, whoever is watching');
    await tid(A.page, 'comment-submit').click();
    await page.locator('[data-testid="comment"]', { hasText: 'Hello, whoever is watching' }).waitFor();
    await ctx.close();
  });

  await step(t, 'screenshots, and no script errors on either page', async () => {
    await screenshot('a', '2-chat');
    await screenshot('b', '2-chat');
    for (const key of ['a', 'b']) {
      // Expected noise: the refused handshake and the 401s of the token step.
      const serious = users[key].errors.filter((e) => !/WebSocket connection to .* failed|status of 401/.test(e));
      assert.deepEqual(serious, [], `${key}: errors in the page`);
    }
  });
});
