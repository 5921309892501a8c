import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openLicence } from '@coffer/core';
import { connect } from '@coffer/sdk';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type ServingDevice, startServingDevice } from './management-support.js';
import { ROOT, refusal } from './support.js';

/**
 * The management tool (manual §4, issue 6) in a real browser (Debian's Chromium, headless, driven by
 * playwright-core) against a real serving device: each manager logs on with the card file and PIN
 * (the card is opened in the page with WebCrypto), and does the role's main functions. Screenshots
 * of each main page go to test-output/management-tool/.
 */

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-output/management-tool');
/** The idle time of a session, shortened so that the idle logout can be watched. */
const IDLE_MS = 6_000;
const LICENCE_PIN = '1234ABCD';

describe('the management tool in a browser, used by the System, Safe and Audit Managers', () => {
  let dev: ServingDevice;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let downloads: string;
  let licencePath = '';
  const pageErrors: string[] = [];

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  }

  async function logOn(slot: string, pin = dev.init.card(slot).pin): Promise<void> {
    await page.goto(dev.url);
    await page.setInputFiles('#card-file', dev.init.card(slot).file);
    await page.fill('#pin', pin);
    await page.click('#login');
  }

  async function logOnAs(slot: string): Promise<void> {
    await logOn(slot);
    await page.locator('#who-role').waitFor();
  }

  async function logOut(): Promise<void> {
    await page.click('#logout');
    await page.locator('#logon-form').waitFor();
  }

  async function open(id: string): Promise<void> {
    await page.click(`#menu a[data-page="${id}"]`);
    await page.locator(`section[data-page="${id}"]`).waitFor();
  }

  /** Waits until the page's message line says `text` (an action's outcome, in words). */
  async function expectMessage(kind: 'ok' | 'error', text: RegExp): Promise<void> {
    await page.locator(`#page-message.${kind}`, { hasText: text }).waitFor();
  }

  /** Does `act` and saves the file the browser downloads; returns its path. */
  async function saveDownload(act: () => Promise<void>): Promise<{ path: string; name: string }> {
    const [download] = await Promise.all([page.waitForEvent('download'), act()]);
    const name = download.suggestedFilename();
    const path = join(downloads, name);
    await download.saveAs(path);
    return { path, name };
  }

  const row = (key: string) => page.locator(`tbody tr[data-row="${key}"]`);

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium)`,
    );
    mkdirSync(SHOTS, { recursive: true });
    dev = await startServingDevice({ extra: { management: { sessionIdleMs: IDLE_MS } } });
    downloads = join(dev.dir, 'downloads');
    mkdirSync(downloads);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-gpu',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    // The device's TLS certificate comes from its own CA; the test trusts it as a pinned CA would be.
    context = await browser.newContext({
      viewport: { width: 1280, height: 760 },
      acceptDownloads: true,
      ignoreHTTPSErrors: true,
    });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await dev?.close();
  });

  it('is served by the management service itself, with a policy that forbids anything from elsewhere', async () => {
    const response = await page.goto(dev.url);
    assert.equal(response?.status(), 200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    for (const r of ['/assets/manager.css', '/js/main.js', '/js/card-login.js']) {
      assert.equal((await page.request.get(new URL(r, dev.url).href)).status(), 200, r);
    }
    for (const r of ['/js/main.d.ts', '/js/main.js.map', '/assets/../package.json']) {
      assert.notEqual((await page.request.get(new URL(r, dev.url).href)).status(), 200, r);
    }
    await page.locator('#logon-form').waitFor();
    await shot('01-logon');
  });

  it('logon refuses a wrong PIN beside the PIN field without sending anything, a PIN breaking the rule, and a Device Manager card (ERR_CARD_ROLE)', async () => {
    await logOn('B1', '0000AAAA');
    const err = page.locator('#err-pin.shown');
    await err.waitFor();
    assert.match((await err.textContent()) ?? '', /PIN is wrong/);
    await page.fill('#pin', '12');
    await page.click('#login');
    await page.locator('#err-pin.shown', { hasText: '8 characters' }).waitFor();
    // A Device Manager card opens, signs, and is refused by the device: in its words.
    await logOn('A1');
    await page.locator('#login-message.error', { hasText: 'ERR_CARD_ROLE' }).waitFor();
  });

  it('System Manager: adds operators (paged), sees a detail, downloads a licence that opens with its PIN, deletes with confirmation', async () => {
    // Eleven operators through the API, so that the list has two pages.
    const admin = await dev.admin('B1');
    for (let i = 1; i <= 11; i++) {
      await admin.post('/api/operators', {
        name: `app${String(i).padStart(2, '0')}`,
        description: `Application ${i}`,
      });
    }
    await logOnAs('B1');
    assert.equal(await page.textContent('#who-role'), 'System Manager');
    assert.match((await page.textContent('#who-account')) ?? '', /B1/);
    await page.locator('#operators-table').waitFor();
    assert.match((await page.textContent('.pager-text')) ?? '', /From 1 To 10 Total 11 rows/);

    // The form checks the name before sending.
    await page.click('#add-operator');
    await page.fill('#op-name', '-bad');
    await page.click('#add-operator-ok');
    await page.locator('#err-op-name.shown').waitFor();
    await page.fill('#op-name', 'payments');
    await page.fill('#op-description', 'Payment switch');
    await page.click('#add-operator-ok');
    await expectMessage('ok', /Operator payments added/);
    assert.match((await page.textContent('.pager-text')) ?? '', /Total 12 rows/);
    // A name in use: the device's refusal shows in the dialog.
    await page.click('#add-operator');
    await page.fill('#op-name', 'app01');
    await page.click('#add-operator-ok');
    await page
      .locator('#add-operator-dialog .shown, #add-operator-dialog .message.error', {
        hasText: 'ERR_CONFLICT',
      })
      .waitFor();
    await page.click('#add-operator-dialog .dialog-close');
    // Sorting (the rows shown): by account name, then reversed.
    await page.click('#operators-table th[data-key="name"]');
    await page.click('#operators-table th[data-key="name"]');
    assert.equal(
      await page.textContent('#operators-table tbody tr:first-child td[data-col="name"]'),
      'app10',
    );
    await shot('02-system-operators');
    // The second page, then twenty rows a page.
    await page.click('.pager-btn.next');
    await page.locator('.pager-text', { hasText: 'From 11 To 12 Total 12 rows' }).waitFor();
    await page.selectOption('.page-size', '20');
    await page.locator('.pager-text', { hasText: 'From 1 To 12 Total 12 rows' }).waitFor();
    await page.locator('#operators-table').waitFor();
    // Licence: the dialog checks the PIN rule, then the file downloads and opens with its PIN.
    await row('payments').locator('[data-op="licence"]').click();
    await page.fill('#lic-pin', 'ABCDEFAB');
    await page.fill('#lic-pin-confirm', 'ABCDEFAB');
    await page.click('#licence-download');
    await page.locator('#err-lic-pin.shown').waitFor();
    await page.fill('#lic-pin', LICENCE_PIN);
    await page.fill('#lic-pin-confirm', LICENCE_PIN);
    await page.fill('#lic-max', '8');
    await shot('03-system-licence-dialog');
    const licence = await saveDownload(() => page.click('#licence-download'));
    assert.equal(licence.name, 'payments.license');
    licencePath = licence.path;
    const opened = await openLicence(readFileSync(licence.path, 'utf8'), LICENCE_PIN);
    assert.equal(opened.operator, 'payments');
    assert.equal(opened.maxConnections, 8);
    assert.match(opened.keyPem, /BEGIN PRIVATE KEY/);
    await expectMessage('ok', /payments\.license downloaded/);

    // White list: add an IP with two operators, see its detail, and the operator detail shows it.
    await open('whitelist');
    await page.click('#add-whitelist');
    await page.fill('#wl-ip', '10.0.0.300');
    await page.click('#add-whitelist-ok');
    await page.locator('#err-wl-ip.shown').waitFor();
    await page.locator('#err-wl-operators.shown').waitFor();
    await page.fill('#wl-ip', '10.0.0.30');
    await page.check('#wl-op-payments');
    await page.check('#wl-op-app01');
    await page.click('#add-whitelist-ok');
    await expectMessage('ok', /10\.0\.0\.30 added/);
    await row('10.0.0.30').locator('[data-op="detail"]').click();
    await page.locator('#whitelist-detail-table tbody tr[data-row="payments"]').waitFor();
    await shot('04-system-whitelist-detail');
    await page.click('#whitelist-detail .dialog-close');
    // This host too, for the SDK below.
    await page.click('#add-whitelist');
    await page.fill('#wl-ip', '127.0.0.1');
    await page.check('#wl-op-payments');
    await page.click('#add-whitelist-ok');
    await expectMessage('ok', /127\.0\.0\.1 added/);
    await shot('05-system-whitelist');

    await open('operators');
    await row('payments').locator('[data-op="detail"]').click();
    await page.locator('#detail-ips', { hasText: '10.0.0.30' }).waitFor();
    await shot('06-system-operator-detail');
    await page.click('#operator-detail .dialog-close');

    // Delete asks first; Cancel keeps the operator, OK deletes it.
    await row('app11').locator('[data-op="delete"]').click();
    await page.click('#confirm-cancel');
    assert.equal(await row('app11').count(), 1);
    await row('app11').locator('[data-op="delete"]').click();
    await page.click('#confirm-ok');
    await expectMessage('ok', /Operator app11 deleted/);

    await open('device-info');
    await page.locator('.details', { hasText: 'Key check value' }).waitFor();
    await shot('07-system-device-info');
    await logOut();
  });

  it('Safe Manager: adds, binds, discards and restores, invalidates and deletes keys, imports with progress and backs up to a file', async () => {
    await logOnAs('C1');
    assert.equal(await page.textContent('#who-role'), 'Safe Manager');
    await page.locator('section[data-page="symmetric-keys"] #keys-table').waitFor();

    await page.click('#add-key');
    await page.selectOption('#key-type', 'AES-256');
    await page.fill('#key-validity', '0');
    await page.click('#add-key-ok');
    await page.locator('#err-key-validity.shown').waitFor();
    await page.fill('#key-validity', '365');
    await page.fill('#key-description', 'PIN block key');
    await page.click('#add-key-ok');
    await expectMessage('ok', /Key 1 \(AES-256\) added/);
    await page.click('#add-key');
    await page.selectOption('#key-type', 'HMAC-SHA256');
    await page.click('#add-key-ok');
    await expectMessage('ok', /Key 2 \(HMAC-SHA256\) added/);
    // Several at once: a job, with progress.
    await page.click('#add-key');
    await page.selectOption('#key-type', 'AES-128');
    await page.fill('#key-count', '3');
    await page.click('#add-key-ok');
    await expectMessage('ok', /3 AES-128 keys added/);

    // Import a file of hex secrets: a job with progress.
    const hexFile = join(downloads, 'aes-keys.txt');
    writeFileSync(
      hexFile,
      `# two AES-128 keys\n${'00112233445566778899aabbccddeeff'}\n${'0f0e0d0c0b0a09080706050403020100'}\n`,
    );
    await page.click('#import-keys');
    await page.setInputFiles('#import-file', hexFile);
    await page.fill('#import-type', 'AES-128');
    await page.click('#import-ok');
    await expectMessage('ok', /aes-keys\.txt: 2 imported/);

    // A key wrapped (RFC 3394) under the first imported key, now stored as key 6: imported as key 8.
    const kek = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const wrapper = createCipheriv('id-aes128-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    const secret = Buffer.alloc(32, 7);
    const wrapped = Buffer.concat([wrapper.update(secret), wrapper.final()]);
    const wrappedFile = join(downloads, 'wrapped.txt');
    writeFileSync(wrappedFile, `${wrapped.toString('hex')}\n`);
    await page.click('#import-keys');
    await page.setInputFiles('#import-file', wrappedFile);
    await page.fill('#import-type', 'AES-256');
    await page.fill('#import-kek', '6');
    await page.click('#import-ok');
    await expectMessage('ok', /wrapped\.txt: 1 imported/);

    // A file with a line that is not an AES-128 key: nothing is imported, and the report says where.
    const badFile = join(downloads, 'bad-keys.txt');
    writeFileSync(badFile, '00112233445566778899aabbccddeeff\n0011\n');
    await page.click('#import-keys');
    await page.setInputFiles('#import-file', badFile);
    await page.selectOption('#import-format', 'hex');
    await page.fill('#import-type', 'AES-128');
    await page.click('#import-ok');
    await page.locator('#transfer-report tbody tr', { hasText: 'line 2' }).waitFor();
    await page.locator('#import-dialog-message.error', { hasText: 'nothing was imported' }).waitFor();
    await shot('08b-safe-import-refused');
    await page.click('#import-dialog .dialog-close');
    assert.match((await page.textContent('.pager-text')) ?? '', /Total 8 rows/);

    // Bind key 1 to an operator; its detail shows the check value and the operator.
    await row('1').locator('[data-op="operators"]').click();
    await page.check('#bind-payments');
    await page.check('#bind-app01');
    await page.click('#bind-ok');
    await expectMessage('ok', /Key 1 bound to app01, payments/);
    // The same dialog unbinds: the bound operators come ticked; clearing one unbinds it.
    await row('1').locator('[data-op="operators"]').click();
    assert.equal(await page.isChecked('#bind-payments'), true);
    await page.uncheck('#bind-app01');
    await shot('08a-safe-bind-dialog');
    await page.click('#bind-ok');
    await expectMessage('ok', /Key 1 unbound from app01/);
    await row('1').locator('[data-op="detail"]').click();
    await page.locator('#key-detail .details', { hasText: 'payments' }).waitFor();
    assert.match((await page.textContent('#key-detail')) ?? '', /Check value[0-9A-F]{6}/);
    await shot('08-safe-key-detail');
    await page.click('#key-detail .dialog-close');

    // Discard and restore, invalidate (confirmed), then delete (invalid keys only).
    await row('3').locator('[data-op="discard"]').click();
    await expectMessage('ok', /Key 3 discarded/);
    await row('3').locator('[data-op="restore"]').click();
    await expectMessage('ok', /Key 3 restored/);
    await row('4').locator('[data-op="invalidate"]').click();
    await page.click('#confirm-ok');
    await expectMessage('ok', /Key 4 is now invalid/);
    await shot('09-safe-symmetric-keys');
    await row('4').locator('[data-op="delete"]').click();
    await page.click('#confirm-ok');
    await expectMessage('ok', /Key 4 deleted/);

    // Back up the selected keys: the file downloads and is a Coffer key backup of those two.
    await row('1').locator('input[type="checkbox"]').check();
    await row('2').locator('input[type="checkbox"]').check();
    await page.click('#backup-keys');
    await page.selectOption('#backup-scope', 'selected');
    const backup = await saveDownload(() => page.click('#backup-ok'));
    const file = JSON.parse(readFileSync(backup.path, 'utf8')) as { format: string; count: number };
    assert.equal(file.format, 'coffer-key-backup');
    assert.equal(file.count, 2);
    await expectMessage('ok', /Backup of 2 key\(s\) downloaded/);
    // Restoring it here again: the same keys are there, so nothing changes and the job ends well.
    await page.click('#restore-backup');
    await page.setInputFiles('#restore-file', backup.path);
    await page.click('#restore-ok');
    await expectMessage('ok', /restored: 0 restored, 2 skipped \(already there\)/);
    // And the current query (every symmetric key).
    await page.click('#backup-keys');
    await page.selectOption('#backup-scope', 'query');
    const all = await saveDownload(() => page.click('#backup-ok'));
    assert.equal((JSON.parse(readFileSync(all.path, 'utf8')) as { count: number }).count, 7);

    // A time range with its start after its end is refused before anything is sent.
    await page.fill('#q-from', '2030-01-02T10:00');
    await page.fill('#q-to', '2030-01-01T10:00');
    await page.click('#query');
    await expectMessage('error', /after its end/);
    await page.fill('#q-from', '');
    await page.fill('#q-to', '');

    await open('asymmetric-keys');
    await page.click('#add-key');
    await page.selectOption('#key-type', 'EC-P256');
    await page.click('#add-key-ok');
    await expectMessage('ok', /\(EC-P256\) added/);
    await row('9').locator('[data-op="detail"]').click();
    await page.locator('#key-detail pre.pem', { hasText: 'BEGIN PUBLIC KEY' }).waitFor();
    await page.click('#key-detail .dialog-close');
    await shot('10-safe-asymmetric-keys');
    await logOut();
  });

  it('the licence downloaded in the browser lets the SDK connect to the crypto service and use the key bound to it', async () => {
    const client = await connect({ license: licencePath, pin: LICENCE_PIN, poolSize: 1 });
    try {
      assert.equal((await client.random(16)).length, 16);
      const data = Buffer.from('bound in the browser');
      const sealed = await client.encrypt({ key: 1, mode: 'gcm', data });
      const back = await client.decrypt({
        key: 1,
        mode: 'gcm',
        iv: sealed.iv!,
        tag: sealed.tag!,
        data: sealed.ciphertext,
      });
      assert.deepEqual(Buffer.from(back), data);
    } finally {
      await client.close();
    }
  });

  it('Audit Manager: queries the manager log with its chain status, sees a details box, exports selection and query', async () => {
    await logOnAs('D1');
    assert.equal(await page.textContent('#who-role'), 'Audit Manager');
    await page.locator('#log-table').waitFor();
    assert.match((await page.textContent('#chain-status')) ?? '', /chain verified/);
    assert.match((await page.textContent('.pager-text')) ?? '', /From 1 To 10 Total \d+ rows/);
    await shot('11-audit-manager-log');

    const first = page.locator('#log-table tbody tr').first();
    const seq = await first.getAttribute('data-row');
    await first.locator('[data-op="details"]').click();
    await page.locator('#log-detail .details', { hasText: 'Digest' }).waitFor();
    await shot('12-audit-log-details');
    await page.click('#log-detail .dialog-close');

    await first.locator('input[type="checkbox"]').check();
    const csv = await saveDownload(() => page.click('#export-selected'));
    const text = readFileSync(csv.path, 'utf8');
    assert.match(text.split('\n')[0] ?? '', /seq/);
    assert.equal(text.trim().split('\n').length, 2, 'a header and the one selected entry');
    assert.ok(text.includes(`\n${seq},`), 'the selected entry');
    await page.selectOption('#export-format', 'json');
    const json = await saveDownload(() => page.click('#export-query'));
    assert.ok(JSON.parse(readFileSync(json.path, 'utf8')));

    // A time range: nothing after 2099; everything since 2000.
    await page.fill('#q-from', '2099-01-01T00:00');
    await page.click('#query');
    await page.locator('.pager-text', { hasText: 'From 0 To 0 Total 0 rows' }).waitFor();
    await page.fill('#q-from', '2000-01-01T00:00');
    await page.click('#query');
    await page.locator('.pager-text', { hasText: /From 1 To 10 Total \d+ rows/ }).waitFor();

    await open('operator-log');
    await page.locator('#log-table').waitFor();

    await open('log-settings');
    await page.fill('#retention-days', '400');
    await page.click('#save-settings');
    await page.locator('#err-retention-days.shown').waitFor();
    await page.fill('#retention-days', '90');
    await page.selectOption('#level', 'error');
    await page.click('#save-settings');
    await expectMessage('ok', /Saved: ERROR, 90 days/);
    await shot('13-audit-log-settings');

    await open('running-log');
    await page.locator('#running-logs-table tbody tr').first().locator('[data-op="view"]').click();
    await page.locator('#log-view', { hasNotText: 'Choose View' }).waitFor();
    const log = await saveDownload(() =>
      page.locator('#running-logs-table tbody tr').first().locator('[data-op="download"]').click(),
    );
    assert.match(log.name, /\.log$/);
    await shot('14-audit-running-log');

    await open('network');
    await page.locator('.card-box', { hasText: 'M-Net0' }).waitFor();
    await shot('15-audit-network');
  });

  it('a page of another role is refused by the device, in words', async () => {
    // Still the Audit Manager: the System Manager's operator page.
    await page.evaluate('location.hash = "#/operators"');
    await expectMessage('error', /ERR_FORBIDDEN/);
    await expectMessage('error', /function of the System Manager/);
    await page.mouse.move(700, 500);
    await shot('16-refused-other-role');
  });

  it('a session left idle ends on the device, and the page says so', async () => {
    await page.goto(dev.url);
    const [login] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/login'),
      logOnAs('D1'),
    ]);
    const { token } = (await login.json()) as { token: string };
    await sleep(IDLE_MS + 1_000);
    const msg = page.locator('#login-message.info');
    await msg.waitFor();
    assert.match((await msg.textContent()) ?? '', /logged out after 6 seconds without activity/);
    await shot('17-idle-logout');
    // The device ended it too: the page's token no longer works.
    const other = dev.client();
    other.token = token;
    await refusal(other.get('/api/session'), 'ERR_SESSION_EXPIRED');
  });

  it('fits a tablet screen', async () => {
    await page.setViewportSize({ width: 768, height: 1024 });
    await logOnAs('C1');
    await page.locator('#keys-table').waitFor();
    const overflow = (await page.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    )) as number;
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    const ops = await page.locator('#keys-table tbody tr').first().locator('td.ops').boundingBox();
    assert.ok(ops && ops.x + ops.width <= 768, 'the operation column is on the screen');
    await shot('18-tablet-safe-keys');
    await logOut();
    assert.deepEqual(pageErrors, []);
  });
});
