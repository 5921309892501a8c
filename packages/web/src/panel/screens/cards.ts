import { api, type NewCard, type TokenReply } from '../api.js';
import { h } from '../dom.js';
import type { Flash, Panel } from '../panel.js';
import type { Screen } from '../screen.js';

/**
 * Cards ReMake (manual §3.3) and Modify Card-PIN (§3.4), on a booted device with the service stopped.
 * A remade or re-PINned card comes out as a new file; the device stops accepting the old one.
 */

const STATES = ['READY'] as const;
const NEW_PIN_PROMPT = (slot: string) =>
  `Please insert a new card(${slot}), and set PIN(8 chars must contain No. & char).`;

function newPinFields(s: Screen): void {
  s.field({ name: 'pin', label: 'Card-PIN', charset: 'hex', max: 8, masked: true });
  s.field({ name: 'confirm', label: 'Confirm Card-PIN', charset: 'hex', max: 8, masked: true });
}

function remade(panel: Panel, made: NewCard): void {
  panel.handOut(made);
  panel.home({
    text: `Card ${made.slot} remade: it came out as ${made.fileName}. The old ${made.slot} card no longer works.`,
    kind: 'ok',
  });
}

export function remakeMenu(panel: Panel, flash?: Flash): void {
  const s = panel.open({ id: 'remake-menu', title: 'Cards ReMake', states: STATES });
  s.menu([
    {
      id: 'menu-remake-device-manager',
      label: 'Device-Manager',
      run: () => remakeDeviceManagerVerify(panel),
    },
    {
      id: 'menu-remake-system-manager',
      label: 'System-Manager',
      // The device is the one that refuses, in the manual's words; the page only asks.
      run: () =>
        void panel.run(s, async () => {
          const made = await api.post<NewCard>('/api/remake/system-manager', { pin: '', pinConfirm: '' });
          remade(panel, made);
        }),
    },
    {
      id: 'menu-remake-safe-manager',
      label: 'Safe-Manager',
      run: () => remakeManager(panel, 'safe-manager'),
    },
    {
      id: 'menu-remake-audit-manager',
      label: 'Audit-Manager',
      run: () => remakeManager(panel, 'audit-manager'),
    },
  ]);
  s.note('Note: System Manager authentication card cannot be remade.');
  s.action('Back', () => panel.home(), { cancel: true, id: 'action-back' });
  if (flash) s.flash(flash.text, flash.kind);
}

/** ReMake Dev-Manager(A): first the MK-Part-PIN of the card to remake. */
function remakeDeviceManagerVerify(panel: Panel): void {
  const s = panel.open({
    id: 'remake-dm-verify',
    title: 'ReMake Dev-Manager(A)',
    states: STATES,
    keypad: 'hex',
  });
  s.field({ name: 'mkPartPin', label: 'MK-Part-PIN', charset: 'hex', max: 8, masked: true });
  const choices = ['any', 'A1', 'A2', 'A3'];
  const group = h(
    'fieldset',
    { class: 'field-row choice-row' },
    h('legend', { class: 'field-label' }, 'Card'),
    ...choices.map((c) =>
      h(
        'label',
        { class: 'choice' },
        h('input', {
          type: 'radio',
          name: 'remake-slot',
          value: c,
          id: `slot-choice-${c}`,
          checked: c === 'any',
        }),
        c === 'any' ? 'found by PIN' : c,
      ),
    ),
    s.errorSlot('slot'),
  );
  s.add(group);
  s.prompt('Please input the MK-Part-PIN of the card you will re-init.');
  s.action('Cancel', () => remakeMenu(panel), { cancel: true, id: 'action-cancel' });
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        const chosen =
          group.querySelector<HTMLInputElement>('input[name="remake-slot"]:checked')?.value ?? 'any';
        const r = await api.post<TokenReply>('/api/remake/device-manager/verify', {
          mkPartPin: s.value('mkPartPin'),
          ...(chosen === 'any' ? {} : { slot: chosen }),
        });
        remakeDeviceManagerCard(panel, r.token, r.slot ?? 'A');
      }),
    { primary: true, id: 'action-next' },
  );
}

function remakeDeviceManagerCard(panel: Panel, token: string, slot: string): void {
  const s = panel.open({
    id: 'remake-dm-card',
    title: `ReMake Dev-Manager(${slot})`,
    states: STATES,
    keypad: 'hex',
  });
  newPinFields(s);
  s.prompt(NEW_PIN_PROMPT(slot));
  s.flash(`MK-Part-PIN of ${slot} verified.`);
  s.action(
    'Cancel',
    () => {
      void api.post('/api/ceremony/cancel', { token }).catch(() => undefined);
      remakeMenu(panel);
    },
    { cancel: true, id: 'action-cancel' },
  );
  s.action(
    'OK',
    () =>
      panel.run(s, async () => {
        remade(
          panel,
          await api.post<NewCard>('/api/remake/device-manager/card', {
            token,
            pin: s.value('pin'),
            pinConfirm: s.value('confirm'),
          }),
        );
      }),
    { primary: true, id: 'action-ok' },
  );
}

/** ReMake Safe-Manager(C) / Audit-Manager(D). */
function remakeManager(panel: Panel, role: 'safe-manager' | 'audit-manager'): void {
  const [name, letter] = role === 'safe-manager' ? ['Safe-Manager', 'C'] : ['Audit-Manager', 'D'];
  const s = panel.open({
    id: `remake-${role}`,
    title: `ReMake ${name}(${letter})`,
    states: STATES,
    keypad: 'hex',
  });
  newPinFields(s);
  s.prompt(NEW_PIN_PROMPT(letter));
  s.action('Cancel', () => remakeMenu(panel), { cancel: true, id: 'action-cancel' });
  s.action(
    'OK',
    () =>
      panel.run(s, async () => {
        remade(
          panel,
          await api.post<NewCard>(`/api/remake/${role}`, {
            pin: s.value('pin'),
            pinConfirm: s.value('confirm'),
          }),
        );
      }),
    { primary: true, id: 'action-ok' },
  );
}

/** Modify Card-PIN: the card is rewritten under the new PIN; the old file stops working. */
export function modifyPin(panel: Panel): void {
  const s = panel.open({ id: 'modify-pin', title: 'Modify Card-PIN', states: STATES, keypad: 'hex' });
  s.cardRow('insert the card whose PIN changes');
  s.field({ name: 'oldPin', label: 'Old Card-PIN', charset: 'hex', max: 8, masked: true });
  s.field({ name: 'newPin', label: 'New Card-PIN', charset: 'hex', max: 8, masked: true });
  s.field({ name: 'newPinConfirm', label: 'Confirm New Card-PIN', charset: 'hex', max: 8, masked: true });
  s.prompt('Please insert Card, and set PIN(8 chars must contain No. & char).');
  // The device names the new PIN `pin`/`confirm` when it breaks a rule, and the card's PIN `pin` when it is wrong.
  s.errorTarget = (e) => {
    if (e.field === 'confirm') return 'newPinConfirm';
    if (e.field === 'pin') return e.code === 'ERR_PIN_RULE' ? 'newPin' : 'oldPin';
    return undefined;
  };
  s.action('Cancel', () => panel.home(), { cancel: true, id: 'action-cancel' });
  s.action(
    'OK',
    () =>
      panel.run(s, async () => {
        const made = await api.post<NewCard>('/api/modify-pin', {
          card: panel.card('the card whose PIN changes'),
          oldPin: s.value('oldPin'),
          newPin: s.value('newPin'),
          newPinConfirm: s.value('newPinConfirm'),
        });
        panel.slot.eject(`${made.slot} rewritten and taken out.`);
        panel.handOut(made);
        panel.home({
          text: `PIN of ${made.slot} changed: the card came out again as ${made.fileName}; the old file no longer works.`,
          kind: 'ok',
        });
      }),
    { primary: true, id: 'action-ok' },
  );
}
