// Browser tests: build the todo binary, run `todo serve` on a temporary
// SQLite database and drive Debian's Chromium through playwright-core.
// Run with `npm run e2e` in web/ (after `npm run build`; the binary embeds
// web/dist). Screenshots of every screen go to web/e2e/screenshots/;
// UPDATE_SCREENSHOTS=1 also copies the two the README shows to
// docs/screenshots/.
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = join(here, '..');
const repo = join(webDir, '..');
const shots = join(here, 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const BUDGET = 150 * 1024; // gzipped JS of the initial load
const TIMEOUT = 10_000;

let step = '';
const log = (...a) => console.log(...a);

// ---------------------------------------------------------------- budget
function checkBundleBudget() {
  const dist = join(webDir, 'dist');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const urls = [...html.matchAll(/<script[^>]+src="([^"]+)"|<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g)].map((m) => m[1] || m[2]);
  assert.ok(urls.length > 0, 'index.html loads no script');
  let total = 0;
  for (const u of urls) {
    assert.ok(u.startsWith('/assets/'), `script ${u} is not a hashed asset`);
    const gz = gzipSync(readFileSync(join(dist, u)), { level: 9 }).length;
    log(`  ${u}: ${gz} bytes gzipped`);
    total += gz;
  }
  log(`  initial JS: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET / 1024} KB)`);
  assert.ok(total <= BUDGET, `initial JS is ${total} bytes gzipped, over the ${BUDGET}-byte budget`);
  assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), 'index.html has an inline script (the CSP forbids it)');
}

// ---------------------------------------------------------------- server
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(tmp) {
  const bin = join(tmp, 'todo');
  log('building todo');
  execFileSync('go', ['build', '-o', bin, '.'], { cwd: repo, stdio: 'inherit' });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    TODO_DATABASE_URL: `sqlite://${join(tmp, 'todo.db')}`,
    TODO_SERVER_ADDR: `127.0.0.1:${port}`,
    TODO_RATELIMIT_ENABLED: 'false',
    TODO_AUTH_BCRYPT_COST: '4',
    BETTER_AUTH_SECRET: 'e2e-secret-0123456789abcdefghijklmnopqrst', // 40 characters
    TODO_LOG_LEVEL: 'warn',
  };
  const proc = spawn(bin, ['serve'], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  proc.stdout.on('data', (d) => output.push(d));
  proc.stderr.on('data', (d) => output.push(d));
  const exited = new Promise((r) => proc.on('exit', r));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {}
    if (proc.exitCode !== null || i > 150) throw new Error(`todo serve did not start:\n${Buffer.concat(output)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    output: () => Buffer.concat(output).toString(),
    stop: async () => {
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------- helpers
async function until(fn, what, timeout = TIMEOUT) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const problems = [];
function watch(page, name) {
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const t = m.text();
    // A 401/404 an API call answered is logged by Chromium as a failed resource; expected.
    if (/Failed to load resource: the server responded with a status of (401|404|422)/.test(t)) return;
    problems.push(`${name}: console error: ${t}`);
  });
  page.on('dialog', (d) => {
    problems.push(`${name}: unexpected dialog: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const rows = (page) => page.locator('li.task');
const row = (page, title) => page.locator('li.task', { has: page.locator('.task-title', { hasText: title }) });
const titles = (page) => page.locator('li.task .task-title').allTextContents();
const isLive = (page) => page.evaluate(() => document.documentElement.dataset.live === 'live');

async function rowTitles(page, want, what) {
  await until(async () => JSON.stringify((await titles(page)).sort()) === JSON.stringify([...want].sort()), `${what}: rows ${JSON.stringify(want)}`);
}

async function addTask(page, title, priority) {
  await page.keyboard.press('Escape');
  await page.locator('body').press('n');
  await until(() => page.evaluate(() => document.activeElement?.id === 'new-title'), '"n" to focus the new-task field');
  if (priority) await page.selectOption('#new-priority', String(priority));
  await page.locator('#new-title').fill(title);
  await page.locator('#new-title').press('Enter');
  await row(page, title).first().waitFor({ timeout: TIMEOUT });
  await until(async () => (await page.locator('#new-title').inputValue()) === '', 'the new-task field to clear');
}

async function signUp(page, base, name, email) {
  await page.goto(`${base}/signup`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${base}/`);
  await page.getByRole('heading', { name: 'Tasks', level: 1 }).waitFor();
}

async function setFilter(page, id, value) {
  await page.selectOption(id, value);
}

// ---------------------------------------------------------------- the run
async function main() {
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  step = 'bundle budget';
  log(`\n# ${step}`);
  checkBundleBudget();

  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const tmp = mkdtempSync(join(tmpdir(), 'todo-e2e-'));
  const srv = await startServer(tmp);
  const { base } = srv;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  let failed = null;
  const pages = [];
  const t = async (name, fn) => {
    step = name;
    log(`# ${name}`);
    await fn();
  };
  try {
    const ctxA = await browser.newContext({ viewport: { width: 1100, height: 800 }, colorScheme: 'light' });
    const a = watch(await ctxA.newPage(), 'ann');
    pages.push(a);
    const api = (method, path, data) =>
      ctxA.request.fetch(`${base}${path}`, { method, data, headers: { Origin: base }, failOnStatusCode: true }).then((r) => (r.status() === 204 ? null : r.json()));

    await t('signed out: / sends you to sign-in', async () => {
      await a.goto(`${base}/`);
      await a.waitForURL(`${base}/signin`);
      await a.getByRole('heading', { name: 'Sign in to todo' }).waitFor();
      await shot(a, 'signin');
    });

    await t('sign up: server validation shown at the field', async () => {
      await a.getByRole('link', { name: 'Create an account' }).click();
      await a.waitForURL(`${base}/signup`);
      await a.getByLabel('Name').fill('Ann Example');
      await a.getByLabel('Email').fill('ann@example.com');
      await a.getByLabel('Password').fill('short');
      await a.getByRole('button', { name: 'Create account' }).click();
      const err = a.locator('#password-error');
      await err.waitFor();
      assert.match(await err.textContent(), /Password must be at least 8 characters/);
      assert.equal(await a.getByLabel('Password').getAttribute('aria-invalid'), 'true');
      await shot(a, 'signup-error');
      await a.getByLabel('Password').fill('correct horse battery');
      await a.getByRole('button', { name: 'Create account' }).click();
      await a.waitForURL(`${base}/`);
      await a.getByTestId('empty').waitFor();
      await shot(a, 'tasks-empty');
    });

    await t('create with the keyboard (n, Enter), Esc clears', async () => {
      await addTask(a, 'Buy milk');
      await addTask(a, 'Write the quarterly report', 3);
      await addTask(a, 'Call the plumber', 1);
      await addTask(a, 'Renew passport');
      await a.locator('body').press('n');
      await a.locator('#new-title').fill('never saved');
      await a.locator('#new-title').press('Escape');
      assert.equal(await a.locator('#new-title').inputValue(), '');
      await rowTitles(a, ['Buy milk', 'Write the quarterly report', 'Call the plumber', 'Renew passport'], 'after create');
      assert.equal(await row(a, 'Write the quarterly report').locator('.badge.p3').textContent(), 'High');
    });

    await t('a script in a title is shown as text', async () => {
      const evil = '<img src=x onerror=alert(1)>';
      await addTask(a, evil);
      assert.equal(await row(a, evil).locator('.task-title').textContent(), evil);
      assert.equal(await a.locator('li.task img').count(), 0);
      await a.waitForTimeout(300);
      assert.equal(await a.evaluate(() => document.querySelectorAll('img').length), 0);
    });

    await t('create: 422 shown at the field', async () => {
      await a.locator('#new-title').fill('x'.repeat(201));
      await a.locator('#new-title').press('Enter');
      await a.locator('#new-title-error').waitFor();
      assert.match(await a.locator('#new-title-error').textContent(), /^Title /);
      await a.locator('#new-title').press('Escape');
      await until(async () => (await a.locator('#new-title-error').count()) === 0, 'the error to clear');
    });

    await t('inline edit: Enter saves, Esc cancels', async () => {
      await a.getByRole('button', { name: 'Edit title: Buy milk' }).click();
      const input = a.locator('li.task input[id^="edit-"]');
      await until(() => input.evaluate((el) => el === document.activeElement), 'the edit field to take focus');
      await input.fill('Buy oat milk');
      await input.press('Enter');
      await row(a, 'Buy oat milk').waitFor();
      await a.getByRole('button', { name: 'Edit title: Buy oat milk' }).click();
      await input.fill('discarded');
      await input.press('Escape');
      await until(async () => (await input.count()) === 0, 'the edit to close');
      await a.reload();
      await rowTitles(a, ['Buy oat milk', 'Write the quarterly report', 'Call the plumber', 'Renew passport', '<img src=x onerror=alert(1)>'], 'after reload');
    });

    let reportId;
    await t('detail view: description, category, priority, due date', async () => {
      await a.getByRole('link', { name: 'Write the quarterly report' }).click();
      await a.waitForURL(/\/tasks\/\d+$/);
      reportId = Number(a.url().split('/').pop());
      await a.getByLabel('Description').fill('Numbers from finance,\nslides for Monday.');
      await a.getByLabel('Category').fill('work');
      await a.getByLabel('Priority').selectOption('3');
      const today = await a.evaluate(() => {
        const d = new Date();
        return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
      });
      await a.getByLabel('Due date').fill(today);
      await shot(a, 'task-detail');
      await a.getByLabel('Title').press('Enter'); // Enter = save
      await a.waitForURL(`${base}/`);
      await row(a, 'Write the quarterly report').locator('.badge.cat', { hasText: 'work' }).waitFor();
      const t1 = await api('GET', `/api/tasks/${reportId}`);
      assert.equal(t1.category, 'work');
      assert.equal(t1.priority, 3);
      assert.equal(t1.description, 'Numbers from finance,\nslides for Monday.');
      assert.ok(t1.due_date);

      // A field error from the server is shown at the field.
      await a.goto(`${base}/tasks/${reportId}`);
      await a.getByLabel('Category').fill('c'.repeat(101));
      await a.getByRole('button', { name: 'Save' }).click();
      await a.locator('#category-error').waitFor();
      await a.getByLabel('Category').press('Escape'); // Esc = cancel
      await a.waitForURL(`${base}/`);
      assert.equal((await api('GET', `/api/tasks/${reportId}`)).category, 'work');

      const milk = (await api('GET', '/api/tasks?q=oat')).tasks[0];
      await api('PATCH', `/api/tasks/${milk.id}`, { category: 'home' });
      await row(a, 'Buy oat milk').locator('.badge.cat', { hasText: 'home' }).waitFor();
    });

    await t('complete and uncomplete', async () => {
      await a.getByLabel('Mark as done: Buy oat milk').check();
      await until(async () => (await row(a, 'Buy oat milk').getAttribute('class')).includes('done'), 'the row to show done');
      await a.getByLabel('Mark as done: Call the plumber').check();
      await a.getByLabel('Mark as not done: Call the plumber').uncheck();
      await a.reload();
      await row(a, 'Buy oat milk').waitFor();
      assert.equal(await a.getByLabel('Mark as not done: Buy oat milk').isChecked(), true);
      assert.equal(await a.getByLabel('Mark as done: Call the plumber').isChecked(), false);
    });

    await t('filters, search and sort', async () => {
      const all = ['Buy oat milk', 'Write the quarterly report', 'Call the plumber', 'Renew passport', '<img src=x onerror=alert(1)>'];
      await setFilter(a, '#f-status', 'completed');
      await rowTitles(a, ['Buy oat milk'], 'status=completed');
      assert.match(a.url(), /status=completed/);
      await setFilter(a, '#f-status', 'pending');
      await rowTitles(a, all.filter((x) => x !== 'Buy oat milk'), 'status=pending');
      await setFilter(a, '#f-status', '');
      await setFilter(a, '#f-priority', 'high');
      await rowTitles(a, ['Write the quarterly report'], 'priority=high');
      await setFilter(a, '#f-priority', 'low');
      await rowTitles(a, ['Call the plumber'], 'priority=low');
      await setFilter(a, '#f-priority', '');
      await setFilter(a, '#f-category', 'home');
      await rowTitles(a, ['Buy oat milk'], 'category=home');
      await setFilter(a, '#f-category', '');
      await setFilter(a, '#f-due', 'today');
      await rowTitles(a, ['Write the quarterly report'], 'due=today');
      await setFilter(a, '#f-due', 'none');
      await rowTitles(a, all.filter((x) => x !== 'Write the quarterly report'), 'due=none');
      await setFilter(a, '#f-due', '');
      await a.getByLabel('Search').fill('OAT');
      await rowTitles(a, ['Buy oat milk'], 'q=OAT');
      await a.getByLabel('Search').fill('finance'); // in the description
      await rowTitles(a, ['Write the quarterly report'], 'q=finance');
      await a.getByLabel('Search').fill('nothing like this');
      await a.getByTestId('empty').waitFor();
      assert.match(await a.getByTestId('empty').textContent(), /No tasks match/);
      await a.getByLabel('Search').fill('');
      await rowTitles(a, all, 'search cleared');
      await setFilter(a, '#f-sort', 'title');
      await until(async () => (await titles(a))[0] === '<img src=x onerror=alert(1)>' && (await titles(a))[1] === 'Buy oat milk', 'sort=title');
      await setFilter(a, '#f-sort', '-priority');
      await until(async () => (await titles(a))[0] === 'Write the quarterly report', 'sort=-priority');
      await setFilter(a, '#f-sort', '');
    });

    await t('delete with confirmation', async () => {
      await a.getByRole('button', { name: 'Delete: Renew passport' }).click();
      await a.getByRole('button', { name: 'Keep' }).click();
      await row(a, 'Renew passport').waitFor();
      await a.getByRole('button', { name: 'Delete: Renew passport' }).click();
      await a.getByRole('button', { name: 'Confirm delete' }).click();
      await until(async () => (await row(a, 'Renew passport').count()) === 0, 'the row to go');
      await a.reload();
      await row(a, 'Buy oat milk').waitFor();
      assert.equal(await row(a, 'Renew passport').count(), 0);
      await a.waitForTimeout(400);
      await shot(a, 'tasks');
    });

    await t('paging', async () => {
      const ids = [];
      for (let i = 1; i <= 19; i++) ids.push((await api('POST', '/api/tasks', { title: `Bulk task ${String(i).padStart(2, '0')}` })).id);
      await a.reload();
      await until(async () => (await a.getByTestId('range').textContent()) === '1–20 of 23', 'range 1–20 of 23');
      assert.equal(await rows(a).count(), 20);
      await a.getByRole('button', { name: 'Next →' }).click();
      await until(async () => (await a.getByTestId('range').textContent()) === '21–23 of 23', 'range 21–23 of 23');
      assert.equal(await rows(a).count(), 3);
      assert.match(a.url(), /page=2/);
      await a.getByRole('button', { name: '← Previous' }).click();
      await until(async () => (await a.getByTestId('range').textContent()) === '1–20 of 23', 'back to page 1');
      for (const id of ids) await api('DELETE', `/api/tasks/${id}`);
      await until(async () => (await a.getByTestId('range').textContent()) === '1–4 of 4', 'bulk tasks gone live');
    });

    await t('dashboard numbers', async () => {
      await a.getByRole('link', { name: 'Dashboard' }).click();
      await a.waitForURL(`${base}/dashboard`);
      const stat = (id) => a.getByTestId(`stat-${id}`).locator('.stat-value').textContent();
      await a.getByTestId('stat-total').waitFor();
      const s = await api('GET', '/api/dashboard/stats');
      assert.deepEqual([s.total_tasks, s.completed_tasks, s.pending_tasks], [4, 1, 3]);
      assert.equal(await stat('total'), '4');
      assert.equal(await stat('completed'), '1');
      assert.equal(await stat('pending'), '3');
      assert.equal(await stat('rate'), `${s.completion_rate}%`);
      assert.equal(await stat('overdue'), String(s.overdue_tasks));
      const tz = await a.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
      const ov = await api('GET', `/api/dashboard/overview?tz=${encodeURIComponent(tz)}`);
      assert.equal(await a.locator('[data-testid=chart] rect.col').count(), 14);
      assert.equal(ov.completed_per_day.at(-1).count, 1);
      assert.equal(await a.locator('[data-testid=chart] text.count').allTextContents().then((x) => x.join(',')), '1');
      const high = a.getByTestId('by-priority').locator('tbody tr').first();
      assert.deepEqual(await high.locator('th, td').allTextContents().then((x) => x.slice(0, 3)), ['High', '0', '1']);
      await a.getByTestId('by-category').getByRole('rowheader', { name: 'work' }).waitFor();
      await a.waitForTimeout(300);
      await shot(a, 'dashboard');
    });

    let a2;
    await t('two tabs of one user see each other live', async () => {
      await a.goto(`${base}/`);
      a2 = watch(await ctxA.newPage(), 'ann-tab2');
      pages.push(a2);
      await a2.setViewportSize({ width: 1100, height: 800 });
      await a2.goto(`${base}/`);
      await until(() => isLive(a), 'tab 1 live');
      await until(() => isLive(a2), 'tab 2 live');
      await addTask(a, 'Made in tab one');
      await row(a2, 'Made in tab one').waitFor({ timeout: TIMEOUT });
      await a2.getByLabel('Mark as done: Made in tab one').check();
      await until(() => a.getByLabel('Mark as not done: Made in tab one').isChecked(), 'tab 1 sees the completion');
      await a2.getByRole('button', { name: 'Edit title: Made in tab one' }).click();
      await a2.locator('li.task input[id^="edit-"]').fill('Renamed in tab two');
      await a2.locator('li.task input[id^="edit-"]').press('Enter');
      await row(a, 'Renamed in tab two').waitFor({ timeout: TIMEOUT });
      await a.getByRole('button', { name: 'Delete: Renamed in tab two' }).click();
      await a.getByRole('button', { name: 'Confirm delete' }).click();
      await until(async () => (await row(a2, 'Renamed in tab two').count()) === 0, 'tab 2 sees the delete');

      await a2.getByRole('link', { name: 'Dashboard' }).click();
      await a2.getByTestId('stat-total').waitFor();
      assert.equal(await a2.getByTestId('stat-total').locator('.stat-value').textContent(), '4');
      await addTask(a, 'Counted live');
      await until(async () => (await a2.getByTestId('stat-total').locator('.stat-value').textContent()) === '5', 'dashboard total 5 live');
    });

    await t('another user sees none of it', async () => {
      const ctxB = await browser.newContext({ viewport: { width: 1100, height: 800 } });
      const b = watch(await ctxB.newPage(), 'bob');
      pages.push(b);
      await signUp(b, base, 'Bob', 'bob@example.com');
      await b.getByTestId('empty').waitFor();
      await until(() => isLive(b), 'bob live');
      await addTask(a, 'Private to Ann');
      await row(a2, 'Private to Ann').count(); // tab 2 is on the dashboard; nothing to assert there
      await b.waitForTimeout(1500);
      assert.equal(await rows(b).count(), 0);
      assert.ok(await b.getByTestId('empty').isVisible());
      await b.goto(`${base}/tasks/${reportId}`);
      await b.getByText('This task does not exist, or it is not yours.').waitFor();
      await b.goto(`${base}/dashboard`);
      await b.getByTestId('stat-total').waitFor();
      assert.equal(await b.getByTestId('stat-total').locator('.stat-value').textContent(), '0');
      await ctxB.close();
    });

    await t('session expiry: sign-in and back', async () => {
      await a.goto(`${base}/?status=pending`);
      await row(a, 'Call the plumber').waitFor();
      await ctxA.clearCookies();
      await a.locator('#new-title').fill('After expiry');
      await a.locator('#new-title').press('Enter');
      await a.waitForURL(/\/signin\?next=/);
      assert.equal(new URL(a.url()).searchParams.get('next'), '/?status=pending');
      await a.getByText('Your session has ended').waitFor();
      await a.getByLabel('Email').fill('ann@example.com');
      await a.getByLabel('Password').fill('correct horse battery');
      await a.getByRole('button', { name: 'Sign in' }).click();
      await a.waitForURL(`${base}/?status=pending`);
      await row(a, 'Call the plumber').waitFor();
      await a2.close();
    });

    await t('360 px wide, dark', async () => {
      await a.setViewportSize({ width: 360, height: 740 });
      await a.emulateMedia({ colorScheme: 'dark' });
      await a.goto(`${base}/`);
      await row(a, 'Call the plumber').waitFor();
      const overflow = await a.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the list scrolls sideways by ${overflow}px at 360px`);
      const bg = await a.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
      assert.equal(bg, 'rgb(17, 20, 24)', 'dark background');
      await shot(a, 'tasks-mobile-dark');
      await a.goto(`${base}/dashboard`);
      await a.getByTestId('stat-total').waitFor();
      const overflow2 = await a.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow2 <= 0, `the dashboard scrolls sideways by ${overflow2}px at 360px`);
      await shot(a, 'dashboard-mobile-dark');
      await a.setViewportSize({ width: 1100, height: 800 });
      await a.emulateMedia({ colorScheme: 'light' });
    });

    await t('keyboard focus is visible', async () => {
      await a.goto(`${base}/`);
      await row(a, 'Call the plumber').waitFor();
      await a.keyboard.press('Tab');
      await a.keyboard.press('Tab');
      const outline = await a.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.equal(outline, 'solid');
    });

    await t('sign out', async () => {
      await a.getByRole('button', { name: 'Sign out' }).click();
      await a.waitForURL(`${base}/signin`);
      await a.goto(`${base}/dashboard`);
      await a.waitForURL(`${base}/signin?next=%2Fdashboard`);
    });

    assert.deepEqual(problems, [], 'console errors, page errors or dialogs');
  } catch (e) {
    failed = e;
    console.error(`\nFAILED in "${step}": ${e.stack || e}`);
    for (const p of pages) await shot(p, `failure-${pages.indexOf(p)}`).catch(() => {});
    if (problems.length) console.error('browser problems:\n  ' + problems.join('\n  '));
    console.error('server output (tail):\n' + srv.output().split('\n').slice(-30).join('\n'));
  } finally {
    await browser.close().catch(() => {});
    await srv.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  if (failed) process.exit(1);
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(join(repo, 'docs/screenshots'), { recursive: true });
    for (const n of ['tasks', 'dashboard']) copyFileSync(join(shots, `${n}.png`), join(repo, 'docs/screenshots', `${n}.png`));
    log('copied tasks.png and dashboard.png to docs/screenshots/');
  }
  log('\nall browser tests passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
