import { api, type DeviceStatus, type TokenReply } from '../api.js';
import type { Panel } from '../panel.js';
import type { Screen } from '../screen.js';

/**
 * Auth2Boot (manual §3.2): any two of the three Device Manager cards boot the device. InitAgain
 * (§3.1.2): two Device Managers, each with Card-PIN and MK-Part-PIN, clear the device and start a new
 * initialisation. The first card's step returns a token the second step carries.
 */

const STATES = ['LOCKED'] as const;

/** Cancel on a second screen: the device forgets the first card's step. */
function cancelCeremony(panel: Panel, token: string): void {
  void api.post('/api/ceremony/cancel', { token }).catch(() => undefined);
  panel.home();
}

function pin(s: Screen): void {
  s.field({ name: 'pin', label: 'Card-PIN', charset: 'hex', max: 8, masked: true });
}

function mkPartPin(s: Screen): void {
  s.field({ name: 'mkPartPin', label: 'MK-Part-PIN', charset: 'hex', max: 8, masked: true });
}

export function auth2BootFirst(panel: Panel): void {
  const s = panel.open({
    id: 'auth2boot-first',
    title: 'Auth2Boot - Auth any Dev-Manager',
    states: STATES,
    keypad: 'hex',
  });
  s.cardRow('insert A1, A2 or A3');
  pin(s);
  s.prompt('Please insert Card: any Dev-Manager');
  s.action('Cancel', () => panel.home(), { cancel: true, id: 'action-cancel' });
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        const r = await api.post<TokenReply>('/api/auth2boot/first', {
          card: panel.card('a Device Manager card'),
          pin: s.value('pin'),
        });
        panel.slot.eject(`${r.slot ?? 'The card'} accepted and taken out.`);
        auth2BootSecond(panel, r.token, r.slot ?? 'the first card');
      }),
    { primary: true, id: 'action-next' },
  );
}

function auth2BootSecond(panel: Panel, token: string, first: string): void {
  const s = panel.open({
    id: 'auth2boot-second',
    title: 'Auth2Boot - Auth another Dev-Manager',
    states: STATES,
    keypad: 'hex',
  });
  s.cardRow(`insert another A card (not ${first})`);
  pin(s);
  s.prompt('Please insert Card: another Dev-Manager');
  s.flash(`${first} verified.`);
  s.action('Cancel', () => cancelCeremony(panel, token), { cancel: true, id: 'action-cancel' });
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        await api.post<DeviceStatus>('/api/auth2boot/second', {
          token,
          card: panel.card('another Device Manager card'),
          pin: s.value('pin'),
        });
        const second = panel.slot.card?.slot ?? 'the second card';
        panel.slot.eject(`${second} accepted and taken out.`);
        await panel.refresh();
        panel.home({ text: `Booted with ${first} and ${second}. Service start is allowed.`, kind: 'ok' });
      }),
    { primary: true, id: 'action-next' },
  );
}

const WIPE_WARNING =
  'When the module is reinitialized, all current data stored in the module will be cleared. Once the operation is finished, the data cannot be restored.';

export function initAgainWarning(panel: Panel): void {
  const s = panel.open({ id: 'initagain', title: 'InitAgain', states: STATES });
  s.note(WIPE_WARNING, 'warning', { id: 'wipe-warning' });
  s.note(
    'Re-initialization needs any 2 of the 3 Device Managers: each inserts their card and inputs the Card-PIN and the MK-Part-PIN.',
  );
  s.action('Cancel', () => panel.home(), { cancel: true, id: 'action-cancel' });
  s.action('Next', () => reinitFirst(panel), { primary: true, id: 'action-next' });
}

function reinitFirst(panel: Panel): void {
  const s = panel.open({
    id: 'reinit-first',
    title: 'ReInit - Auth any Dev-Manager',
    states: STATES,
    keypad: 'hex',
  });
  s.cardRow('insert A1, A2 or A3');
  pin(s);
  mkPartPin(s);
  s.prompt('Please insert Card: any Dev-Manager');
  s.action('Cancel', () => panel.home(), { cancel: true, id: 'action-cancel' });
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        const r = await api.post<TokenReply>('/api/reinit/first', {
          card: panel.card('a Device Manager card'),
          pin: s.value('pin'),
          mkPartPin: s.value('mkPartPin'),
        });
        panel.slot.eject(`${r.slot ?? 'The card'} accepted and taken out.`);
        reinitSecond(panel, r.token, r.slot ?? 'the first card');
      }),
    { primary: true, id: 'action-next' },
  );
}

function reinitSecond(panel: Panel, token: string, first: string): void {
  const s = panel.open({
    id: 'reinit-second',
    title: 'ReInit - Auth another Dev-Manager',
    states: STATES,
    keypad: 'hex',
  });
  s.cardRow(`insert another A card (not ${first})`);
  pin(s);
  mkPartPin(s);
  s.prompt('Please insert Card: another Dev-Manager');
  s.note(
    `${first} verified. InitAgain now clears all data stored in the device; it cannot be restored.`,
    'warning',
  );
  s.action('Cancel', () => cancelCeremony(panel, token), { cancel: true, id: 'action-cancel' });
  s.action(
    'InitAgain',
    () =>
      panel.run(s, async () => {
        await api.post<DeviceStatus>('/api/reinit/second', {
          token,
          card: panel.card('another Device Manager card'),
          pin: s.value('pin'),
          mkPartPin: s.value('mkPartPin'),
        });
        panel.slot.eject('Card taken out.');
        await panel.refresh();
        panel.home({
          text: 'All data was cleared. Set the time to start the initialisation again.',
          kind: 'ok',
        });
      }),
    { primary: true, danger: true, id: 'action-initagain' },
  );
}
