import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DeviceStatus } from '@coffer/core';
import type { Daemon } from '@coffer/server';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT, startTestDevice, tempDir } from './support.js';

/**
 * The front panel in a real browser (Debian's Chromium, headless, driven by playwright-core): a
 * person at the device clicks the keypad, inserts card files and keeps the cards that come out as
 * downloads. Screenshots of the main screens go to test-output/front-panel/.
 */

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-output/front-panel');

const PIN: Record<string, string> = {
  A1: 'A1B2C3D4',
  A2: '12AB34CD',
  A3: '9F8E7D6C',
  B1: 'B1B1B1B1',
  B2: 'B2B2B2B2',
  C1: 'C1C1C1C1',
  D1: 'D1D1D1D1',
};
const MK_PART: Record<string, string> = {
  A1: '00112233445566778899AABBCCDDEEFF',
  A2: '0F1E2D3C4B5A69788796A5B4C3D2E1F0',
  A3: 'FEDCBA98765432100123456789ABCDEF',
};
const MK_PART_PIN: Record<string, string> = { A1: '1111AAAA', A2: '2222BBBB', A3: '3333CCCC' };

describe('the front panel in a browser, operated like a person at the device', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;
  let cardsDir: string;
  const cards = new Map<string, string>();
  const pageErrors: string[] = [];

  const status = (): DeviceStatus => daemon.device.status();

  /** Waits for a screen (`data-screen`) to be the one shown. */
  async function onScreen(id: string): Promise<void> {
    await page.locator(`#screen-host [data-screen="${id}"]:not(.busy)`).waitFor();
  }

  async function shot(name: string): Promise<void> {
    await page.locator('#device').screenshot({ path: join(SHOTS, `${name}.png`) });
  }

  /** Clicks the on-screen keys, one by one. */
  async function press(text: string): Promise<void> {
    for (const ch of text) await page.click(`#touch-screen .key[data-key="${ch}"]`);
  }

  /** Touches a field, clears it with the Clear key and types `text` on the keypad. */
  async function type(field: string, text: string): Promise<void> {
    await page.click(`#f-${field.replace(/[^A-Za-z0-9]/g, '-')}`);
    await page.click('#touch-screen .key[data-key="Clear"]');
    await press(text);
  }

  async function click(id: string): Promise<void> {
    await page.click(`#${id}`);
  }

  /** Inserts a card file into the slot and waits until the slot shows it. */
  async function insert(slot: string, file = cards.get(slot)!): Promise<void> {
    await page.setInputFiles('#card-file', file);
    await page.locator('#slot-card-name', { hasText: slot }).waitFor();
  }

  /** Does `act` and keeps the card that comes out of the slot (a download) under its file name. */
  async function keepNewCard(act: () => Promise<void>): Promise<string> {
    const [download] = await Promise.all([page.waitForEvent('download'), act()]);
    const name = download.suggestedFilename();
    const path = join(cardsDir, name);
    await download.saveAs(path);
    const slot = /^coffer-(\w+)\.card$/.exec(name)?.[1];
    assert.ok(slot, `the new card's file is named for its slot: ${name}`);
    cards.set(slot, path);
    return slot;
  }

  /** The refusal written beside `field`, once it is shown. */
  async function refusalAt(field: string): Promise<string> {
    const el = page.locator(`#err-${field.replace(/[^A-Za-z0-9]/g, '-')}.shown`);
    await el.waitFor();
    return (await el.textContent()) ?? '';
  }

  async function message(): Promise<string> {
    const el = page.locator('#screen-message .flash');
    await el.waitFor();
    return (await el.textContent()) ?? '';
  }

  async function led(name: 'power' | 'error' | 'waiting' | 'working'): Promise<boolean> {
    return (await page.getAttribute(`#led-${name}`, 'data-on')) === 'true';
  }

  /** The System Manager card step shared by Start Service, Stop Service and Setting. */
  async function systemManager(): Promise<void> {
    await insert('B1');
    await type('pin', PIN['B1']!);
    await click('action-next');
  }

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium)`,
    );
    mkdirSync(SHOTS, { recursive: true });
    tmp = await tempDir('coffer-panel-');
    cardsDir = join(tmp.dir, 'cards');
    mkdirSync(cardsDir);
    ({ daemon } = await startTestDevice(join(tmp.dir, 'data')));
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
    const context = await browser.newContext({
      viewport: { width: 1260, height: 700 },
      acceptDownloads: true,
    });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await daemon?.close();
    await tmp?.cleanup();
  });

  it('serves the page from the device itself, with a policy that forbids anything from elsewhere', async () => {
    const response = await page.goto(daemon.panelUrl);
    assert.equal(response?.status(), 200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    for (const r of ['/assets/panel.css', '/js/main.js']) {
      const res = await fetch(new URL(r, daemon.panelUrl));
      assert.equal(res.status, 200, r);
    }
    for (const r of ['/js/main.d.ts', '/js/main.js.map', '/index.js', '/assets/../package.json']) {
      assert.equal((await fetch(new URL(r, daemon.panelUrl))).status, 404, r);
    }
    // What a page of another site could send without a CORS preflight is refused before the device sees it.
    const foreign = await fetch(new URL('/api/init/cancel', daemon.panelUrl), {
      method: 'POST',
      headers: { origin: 'https://elsewhere.example', 'content-type': 'text/plain' },
      body: '{}',
    });
    assert.equal(foreign.status, 403);
  });

  it('a fresh device shows Time Setting with the power and blue lights on', async () => {
    await onScreen('time-setting');
    assert.equal(await led('power'), true);
    assert.equal(await led('waiting'), true);
    assert.equal(await led('working'), false);
    assert.match((await page.textContent('#status-words')) ?? '', /Waiting for initialisation/);
    await shot('01-time-setting');
    await click('action-next');
    await onScreen('init-menu');
    assert.equal(status().init?.timeSet, true);
    await click('menu-init');
  });

  it('Init Dev-Manager A1–A3: a broken PIN rule and a mismatched confirmation are refused beside their fields', async () => {
    await onScreen('init-card-A1');
    await type('pin', '12345678');
    await type('confirm', '12345678');
    await click('action-next');
    assert.match(await refusalAt('pin'), /at least one letter/);
    await shot('02-refusal-pin-rule');
    await type('pin', PIN['A1']!);
    await type('confirm', 'A1B2C3D5');
    await click('action-next');
    assert.match(await refusalAt('confirm'), /do not match/);

    for (const slot of ['A1', 'A2', 'A3']) {
      await onScreen(`init-card-${slot}`);
      await type('pin', PIN[slot]!);
      await type('confirm', PIN[slot]!);
      assert.equal(await keepNewCard(() => click('action-next')), slot);
      await onScreen(`init-mk-part-${slot}`);
      await type('mkPart', MK_PART[slot]!);
      await type('mkPartConfirm', MK_PART[slot]!);
      await type('mkPartPin', MK_PART_PIN[slot]!);
      await type('mkPartPinConfirm', MK_PART_PIN[slot]!);
      if (slot === 'A1') await shot('03-init-mk-part');
      await click('action-next');
    }
    await onScreen('init-write');
    assert.equal(status().init?.next, 'write');
  });

  it('Write asks for each A card again and gives it back with its share', async () => {
    for (const slot of ['A1', 'A2', 'A3']) {
      await onScreen('init-write');
      await insert(slot);
      if (slot === 'A1') {
        await type('pin', '0000AAAA');
        await click('action-write');
        assert.match(await refusalAt('pin'), /PIN is wrong/);
      }
      await type('pin', PIN[slot]!);
      if (slot === 'A2') await shot('04-init-write');
      assert.equal(await keepNewCard(() => click('action-write')), slot);
    }
    await onScreen('init-menu');
    assert.ok(status().init?.deviceManagers.every((d) => d.written));
  });

  it('Sys-Manager (two cards, with a Factor), Safe-Manager and Audit-Manager, then Restart', async () => {
    for (const slot of ['B1', 'B2']) {
      await onScreen('init-menu');
      await click('menu-sys-manager');
      await onScreen('init-system-manager');
      assert.match(
        (await page.textContent('#screen-title')) ?? '',
        new RegExp(`System-Manager\\(${slot}\\)`),
      );
      await type('factor', '0123456789ABCDEF');
      await type('pin', PIN[slot]!);
      await type('confirm', PIN[slot]!);
      if (slot === 'B1') await shot('05-init-sys-manager');
      assert.equal(await keepNewCard(() => click('action-make')), slot);
    }
    for (const [menu, slot] of [
      ['menu-safe-manager', 'C1'],
      ['menu-audit-manager', 'D1'],
    ] as const) {
      await onScreen('init-menu');
      await click(menu);
      await type('pin', PIN[slot]!);
      await type('confirm', PIN[slot]!);
      assert.equal(await keepNewCard(() => click('action-make')), slot);
    }
    await onScreen('init-menu');
    assert.match(
      (await page.textContent('#init-finished')) ?? '',
      /All Cards've already finished, please restart/,
    );
    await shot('06-init-finished');
    await click('action-restart');
    await onScreen('locked-home');
    assert.equal(status().state, 'LOCKED');
    assert.equal(await led('waiting'), false);
    await shot('07-locked');
    assert.deepEqual([...cards.keys()].sort(), ['A1', 'A2', 'A3', 'B1', 'B2', 'C1', 'D1']);
    assert.equal(JSON.parse(readFileSync(cards.get('A2')!, 'utf8')).slot, 'A2');
  });

  it('Auth2Boot: a wrong PIN shows the attempts left, the same card twice is refused, two A cards boot', async () => {
    await click('menu-auth2boot');
    await onScreen('auth2boot-first');
    await insert('A1');
    await type('pin', 'A1B2C3D0');
    await click('action-next');
    assert.match(await refusalAt('pin'), /wrong\. 4 attempts left/);
    await shot('08-refusal-wrong-pin');
    await type('pin', PIN['A1']!);
    await click('action-next');
    await onScreen('auth2boot-second');
    await insert('A1');
    await type('pin', PIN['A1']!);
    await click('action-next');
    assert.match(await refusalAt('card'), /already presented/);
    await insert('A3');
    await type('pin', PIN['A3']!);
    await click('action-next');
    await onScreen('ready-home');
    assert.equal(status().state, 'READY');
    assert.match(await message(), /Booted with A1 and A3/);
    await shot('09-ready');
  });

  it('Start Service with a B card and M-Net0/A-Net1 typed on the IP keypad turns the green light on', async () => {
    await click('menu-start-service');
    await onScreen('start-service-auth');
    await systemManager();
    await onScreen('start-service-setting');
    assert.equal(await page.getAttribute('#touch-screen .keypad', 'data-kind'), 'ip');
    for (const net of ['mNet0', 'aNet1']) {
      await type(`${net}.ip`, '127.0.0.1');
      await type(`${net}.port`, '0');
      await type(`${net}.mask`, '255.0.0.0');
    }
    await type('mNet0.gateway', '');
    await type('aNet1.gateway', '127.0.0.1');
    await shot('10-start-service-setting');
    await click('action-start');
    await onScreen('serving-home');
    assert.equal(status().state, 'SERVING');
    assert.equal(status().network?.aNet1.gateway, '127.0.0.1');
    await page.locator('#led-working[data-on="true"]').waitFor();
    assert.match(
      (await page.textContent('#status-words')) ?? '',
      /Crypto service: running · M-Net0 127\.0\.0\.1/,
    );
    await shot('11-serving');
  });

  it('Device Info shows the device key check value', async () => {
    await click('menu-device-info');
    await onScreen('device-info');
    const kcv = (await page.locator('#info-kcv').textContent()) ?? '';
    assert.match(kcv, /^[0-9a-f]{64}$/);
    assert.equal(kcv, (await daemon.device.deviceInfo()).kcv);
    assert.match(
      (await page.textContent('#info-anet1')) ?? '',
      /Ip:port=127\.0\.0\.1:0 .*Gateway=127\.0\.0\.1/,
    );
    await shot('12-device-info');
    await click('action-back');
  });

  it('Setting: the Tool IP White list takes an address typed on the IP keypad and refuses a malformed one', async () => {
    await onScreen('serving-home');
    await click('menu-setting');
    await onScreen('setting-auth');
    await systemManager();
    await onScreen('setting-menu');
    await click('menu-whitelist');
    await onScreen('setting-whitelist');
    await type('ip', '192.168.25.81');
    await click('action-add');
    await page.locator('#whitelist code', { hasText: '192.168.25.81' }).waitFor();
    await type('ip', '192.168.25');
    await click('action-add');
    assert.match(await refusalAt('ip'), /not an IPv4 address/);
    await shot('13-tool-whitelist');
    await click('action-back');
    await onScreen('setting-menu');
    await click('menu-system-time');
    await onScreen('setting-time');
    await shot('14-system-time');
    await click('action-back');
    await onScreen('setting-menu');
    await click('menu-power');
    await onScreen('setting-power');
    await shot('15-power');
    await click('action-back');
    await onScreen('setting-menu');
    await click('action-back');
    await onScreen('serving-home');
  });

  it('Stop Service with the B card turns the green light off', async () => {
    await click('menu-stop-service');
    await onScreen('stop-service');
    await systemManager();
    await onScreen('ready-home');
    assert.equal(status().state, 'READY');
    await page.locator('#led-working[data-on="false"]').waitFor();
    assert.match((await page.textContent('#status-words')) ?? '', /Crypto service: stopped/);
  });

  it('Cards ReMake: the System Manager card is refused with the manual note; a C card is remade', async () => {
    await click('menu-remake');
    await onScreen('remake-menu');
    await click('menu-remake-system-manager');
    assert.match(await message(), /System Manager authentication card cannot be remade\./);
    await shot('16-refusal-remake-system-manager');
    await click('menu-remake-safe-manager');
    await onScreen('remake-safe-manager');
    await type('pin', 'C2C2C2C2');
    await type('confirm', 'C2C2C2C2');
    const oldC1 = join(cardsDir, 'old-coffer-C1.card');
    copyFileSync(cards.get('C1')!, oldC1);
    cards.set('C1-old', oldC1);
    assert.equal(await keepNewCard(() => click('action-ok')), 'C1');
    await onScreen('ready-home');
    assert.match(await message(), /Card C1 remade/);
    PIN['C1'] = 'C2C2C2C2';
  });

  it('Modify Card-PIN, typed on the keyboard: the old C1 file is refused as replaced, the remade one changes its PIN', async () => {
    await click('menu-modify-pin');
    await onScreen('modify-pin');
    await insert('C1', cards.get('C1-old'));
    await page.click('#f-oldPin');
    await page.keyboard.type(PIN['C1']!.toLowerCase());
    await page.keyboard.press('Tab');
    await page.keyboard.type('C3C3C3C3');
    await page.keyboard.press('Tab');
    await page.keyboard.type('c3c3c3c3');
    assert.equal(
      await page.inputValue('#f-oldPin'),
      PIN['C1'],
      'typed lower case, read as the keypad’s upper case',
    );
    await page.keyboard.press('Enter');
    assert.match(await refusalAt('card'), /replaced by a newer card/);
    await shot('17-refusal-card-replaced');
    await insert('C1');
    const slot = await keepNewCard(() => page.keyboard.press('Enter'));
    assert.equal(slot, 'C1');
    await onScreen('ready-home');
    assert.match(await message(), /PIN of C1 changed/);
    PIN['C1'] = 'C3C3C3C3';
  });

  it('Power: Restart from Setting locks the device again', async () => {
    await click('menu-setting');
    await onScreen('setting-auth');
    await systemManager();
    await onScreen('setting-menu');
    await click('menu-power');
    await onScreen('setting-power');
    await click('menu-restart');
    await onScreen('setting-restart');
    await click('action-confirm');
    await onScreen('locked-home');
    assert.equal(status().state, 'LOCKED');
  });

  it('InitAgain: warned that all data will be cleared, two A cards with Card-PIN and MK-Part-PIN re-initialise', async () => {
    await click('menu-initagain');
    await onScreen('initagain');
    assert.match(
      (await page.textContent('#wipe-warning')) ?? '',
      /all current data stored in the module will be cleared/,
    );
    await shot('18-initagain-warning');
    await click('action-next');
    await onScreen('reinit-first');
    await insert('A2');
    await type('pin', PIN['A2']!);
    await type('mkPartPin', '2222BBBC');
    await click('action-next');
    assert.match(await refusalAt('mkPartPin'), /MK-Part-PIN of A2 is wrong/);
    await type('mkPartPin', MK_PART_PIN['A2']!);
    await click('action-next');
    await onScreen('reinit-second');
    await insert('A3');
    await type('pin', PIN['A3']!);
    await type('mkPartPin', MK_PART_PIN['A3']!);
    await shot('19-reinit-second');
    await click('action-initagain');
    await onScreen('time-setting');
    assert.equal(status().state, 'UNINITIALISED');
    assert.equal(await led('waiting'), true);
  });

  it('a self-test failure shows the reason and the buzzer pattern of §6, with the yellow light; the buzzer can be muted', async () => {
    const faulty = await startTestDevice(join(tmp.dir, 'faulty'), {
      extraSelfTests: [
        {
          name: 'case intrusion switch',
          fault: 'FORCED_DEMOLITION',
          run: async () => {
            throw new Error('the case was opened');
          },
        },
      ],
    });
    try {
      await page.goto(faulty.daemon.panelUrl);
      await onScreen('fault');
      assert.equal(await page.textContent('#fault-reason'), 'Forced demolitions');
      assert.equal(await page.textContent('#fault-buzzer'), '2 long & 1 short');
      assert.equal(await led('error'), true);
      assert.match((await page.textContent('#buzzer-state')) ?? '', /2 long & 1 short — sounding/);
      await page.locator('#buzzer-light.on').waitFor();
      await click('fault-mute');
      assert.match((await page.textContent('#buzzer-state')) ?? '', /muted/);
      await shot('20-fault');
    } finally {
      await faulty.daemon.close();
    }
  });

  it('the page threw no error along the way', () => {
    assert.deepEqual(pageErrors, []);
  });
});
