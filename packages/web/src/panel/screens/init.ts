import { api, type DeviceStatus, type InitProgress, type NewCard } from '../api.js';
import { h } from '../dom.js';
import type { Flash, Panel } from '../panel.js';
import type { Screen } from '../screen.js';
import { timeFields } from '../time-fields.js';

/**
 * Initialisation, manual §3.1.1: Time Setting, then Dev-Manager A1, A2, A3 (Card-PIN, then MK-Part
 * and MK-Part-PIN), the Write step that asks for each A card again, then Sys-Manager (several),
 * Safe-Manager and Audit-Manager cards, and Restart. Each step is one POST under /api/init/; where
 * the ceremony stands comes from the device (`status.init.next`), never from the page.
 */

const STATES = ['UNINITIALISED'] as const;
const PIN_PROMPT = (slot: string) =>
  `Please insert a new card(${slot}), and set PIN(8 chars must contain No. & char).`;

function progress(panel: Panel): InitProgress | null {
  return panel.status?.init ?? null;
}

/** The screen for where the initialisation stands, or the Init menu between stages. */
export function initHome(panel: Panel, flash?: Flash): void {
  const next = progress(panel)?.next ?? 'time';
  if (next === 'time') timeSetting(panel, flash);
  else if (next === 'write') writeCards(panel, flash);
  else initMenu(panel, flash);
}

/** Goes on to the step the device names next, with a word about the step just done. */
async function goOn(panel: Panel, flash: Flash): Promise<void> {
  const status = await panel.refresh();
  const next = status?.init?.next;
  const dm = next ? /^(card|mk-part)-(A[123])$/.exec(next) : null;
  if (status?.state !== 'UNINITIALISED' || !next) panel.home(flash);
  else if (dm?.[1] === 'card') deviceManagerCard(panel, dm[2]!, flash);
  else if (dm) deviceManagerMkPart(panel, dm[2]!, flash);
  else if (next === 'write') writeCards(panel, flash);
  else initMenu(panel, flash);
}

export function timeSetting(panel: Panel, flash?: Flash): void {
  const s = panel.open({ id: 'time-setting', title: 'Time Setting', states: STATES, keypad: 'hex' });
  const time = timeFields(s, new Date());
  s.note("Set the device's date and time in UTC (filled in from this computer's clock). Then click Next.");
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        await api.post('/api/init/time', { time: time() });
        await panel.refresh();
        initMenu(panel, { text: 'Time set.', kind: 'ok' });
      }),
    { primary: true, id: 'action-next' },
  );
  if (flash) s.flash(flash.text, flash.kind);
}

/** The Init screen: what has been made so far, and the buttons for the stage the device is at. */
export function initMenu(panel: Panel, flash?: Flash): void {
  const p = progress(panel);
  if (!p) {
    panel.home(flash);
    return;
  }
  const s = panel.open({ id: 'init-menu', title: 'Init', states: STATES });
  const dmStage = /^(card|mk-part)-/.test(p.next);
  const managerStage = p.next === 'managers' || p.next === 'finish';
  const tick = (done: boolean) => (done ? '✓' : '·');
  s.add(
    h(
      'table',
      { class: 'progress', id: 'init-progress' },
      h(
        'tr',
        {},
        h('th', {}, 'Dev-Manager'),
        h('th', {}, 'Card'),
        h('th', {}, 'MK-Part'),
        h('th', {}, 'Written'),
      ),
      ...p.deviceManagers.map((d) =>
        h(
          'tr',
          {},
          h('td', {}, d.slot),
          h('td', {}, tick(d.cardMade)),
          h('td', {}, tick(d.mkPartSet)),
          h('td', {}, tick(d.written)),
        ),
      ),
    ),
    h(
      'p',
      { class: 'progress-line' },
      `Sys-Manager: ${p.systemManagers.length ? p.systemManagers.join(', ') : 'none yet'} · Safe-Manager: ${p.safeManager ? 'C1 ✓' : 'none yet'} · Audit-Manager: ${p.auditManager ? 'D1 ✓' : 'none yet'}`,
    ),
  );
  if (dmStage) {
    s.menu([
      {
        id: 'menu-init',
        label: 'Init',
        run: () => void goOn(panel, { text: 'Initialise the Device Managers.', kind: 'ok' }),
      },
    ]);
  } else if (p.next === 'write') {
    s.menu([{ id: 'menu-write', label: 'Write', run: () => writeCards(panel) }]);
  } else if (managerStage) {
    s.menu([
      {
        id: 'menu-sys-manager',
        label: 'Sys-Manager',
        run: () => managerCard(panel, 'system-manager'),
        done: p.systemManagers.length > 0,
      },
      {
        id: 'menu-safe-manager',
        label: 'Safe-Manager',
        run: () => managerCard(panel, 'safe-manager'),
        done: p.safeManager,
        disabled: p.safeManager,
      },
      {
        id: 'menu-audit-manager',
        label: 'Audit-Manager',
        run: () => managerCard(panel, 'audit-manager'),
        done: p.auditManager,
        disabled: p.auditManager,
      },
    ]);
  }
  s.action('Cancel Init', () => cancelInit(panel), { id: 'action-cancel-init', danger: true });
  if (p.next === 'finish') {
    s.note("All Cards've already finished, please restart.", 'done', { id: 'init-finished' });
    s.action('Restart', () => panel.run(s, () => finish(panel)), { primary: true, id: 'action-restart' });
  } else if (managerStage) {
    s.note('Make at least one Sys-Manager card, the Safe-Manager card and the Audit-Manager card.');
  }
  if (flash) s.flash(flash.text, flash.kind);
}

async function finish(panel: Panel): Promise<void> {
  await api.post<DeviceStatus>('/api/init/finish');
  await panel.refresh();
  panel.home({
    text: 'Initialisation finished and the device restarted. Auth2Boot with two Device Manager cards.',
    kind: 'ok',
  });
}

function cancelInit(panel: Panel): void {
  const s = panel.open({ id: 'init-cancel', title: 'Init - Cancel', states: STATES });
  s.note(
    'Cancelling forgets everything set in this initialisation; the cards made so far will never work. You start again at Time Setting.',
    'warning',
  );
  s.action('Back', () => initHome(panel), { cancel: true, id: 'action-back' });
  s.action(
    'Cancel Init',
    () =>
      panel.run(s, async () => {
        await api.post('/api/init/cancel');
        await panel.refresh();
        panel.home({ text: 'Initialisation cancelled.', kind: 'ok' });
      }),
    { primary: true, danger: true, id: 'action-confirm' },
  );
}

function pinFields(s: Screen): void {
  s.field({ name: 'pin', label: 'Card-PIN', charset: 'hex', max: 8, masked: true });
  s.field({ name: 'confirm', label: 'Confirm Card-PIN', charset: 'hex', max: 8, masked: true });
}

/** Init Dev-Manager(Ax) - Set Card-PIN. */
export function deviceManagerCard(panel: Panel, slot: string, flash?: Flash): void {
  const s = panel.open({
    id: `init-card-${slot}`,
    title: `Init Dev-Manager(${slot}) - Set Card-PIN`,
    states: STATES,
    keypad: 'hex',
  });
  pinFields(s);
  s.prompt(PIN_PROMPT(slot));
  s.action('Cancel', () => initMenu(panel), { cancel: true, id: 'action-cancel' });
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        const made = await api.post<NewCard>('/api/init/device-manager/card', {
          slot,
          pin: s.value('pin'),
          pinConfirm: s.value('confirm'),
        });
        panel.handOut(made);
        await goOn(panel, { text: `Card ${made.slot} made: it came out as ${made.fileName}.`, kind: 'ok' });
      }),
    { primary: true, id: 'action-next' },
  );
  if (flash) s.flash(flash.text, flash.kind);
}

/** Init Dev-Manager(Ax) - Set MK-Part: the 32-hex-digit component and its protection PIN. */
export function deviceManagerMkPart(panel: Panel, slot: string, flash?: Flash): void {
  const s = panel.open({
    id: `init-mk-part-${slot}`,
    title: `Init Dev-Manager(${slot}) - Set MK-Part`,
    states: STATES,
    keypad: 'hex',
  });
  s.field({ name: 'mkPart', label: 'MK-Part', charset: 'hex', max: 32, masked: true });
  s.field({ name: 'mkPartConfirm', label: 'Confirm MK-Part', charset: 'hex', max: 32, masked: true });
  s.field({ name: 'mkPartPin', label: 'MK-Part-PIN', charset: 'hex', max: 8, masked: true });
  s.field({ name: 'mkPartPinConfirm', label: 'Confirm MK-Part-PIN', charset: 'hex', max: 8, masked: true });
  s.prompt(
    `Set the 32-digit MK component of ${slot} and its 8-char protection PIN (must contain No. & char).`,
  );
  s.action('Cancel', () => initMenu(panel), { cancel: true, id: 'action-cancel' });
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        await api.post('/api/init/device-manager/mk-part', {
          slot,
          mkPart: s.value('mkPart'),
          mkPartConfirm: s.value('mkPartConfirm'),
          mkPartPin: s.value('mkPartPin'),
          mkPartPinConfirm: s.value('mkPartPinConfirm'),
        });
        await goOn(panel, { text: `MK-Part of ${slot} set.`, kind: 'ok' });
      }),
    { primary: true, id: 'action-next' },
  );
  if (flash) s.flash(flash.text, flash.kind);
}

/** Write: each A card is inserted again with its PIN and comes back out with its master-key share. */
export function writeCards(panel: Panel, flash?: Flash): void {
  const p = progress(panel);
  const s = panel.open({
    id: 'init-write',
    title: 'Init Dev-Manager - Write',
    states: STATES,
    keypad: 'hex',
  });
  const left = p?.deviceManagers.filter((d) => !d.written).map((d) => d.slot) ?? [];
  s.add(
    h(
      'p',
      { class: 'progress-line', id: 'write-progress' },
      ...(p?.deviceManagers ?? []).flatMap((d) => [
        h(
          'span',
          { class: `chip${d.written ? ' done' : ''}` },
          `${d.slot} ${d.written ? 'written ✓' : 'to write'}`,
        ),
        ' ',
      ]),
    ),
  );
  s.cardRow(`insert ${left.join(', ') || 'an A card'}`);
  s.field({ name: 'pin', label: 'Card-PIN', charset: 'hex', max: 8, masked: true });
  s.prompt('Please insert each Dev-Manager card in turn, input its Card-PIN and click Write.');
  s.action('Cancel', () => initMenu(panel), { cancel: true, id: 'action-cancel' });
  s.action(
    'Write',
    () =>
      panel.run(s, async () => {
        const made = await api.post<NewCard>('/api/init/device-manager/write', {
          card: panel.card('a Device Manager card (A1, A2 or A3)'),
          pin: s.value('pin'),
        });
        panel.slot.eject(`${made.slot} written and taken out.`);
        panel.handOut(made);
        await goOn(panel, {
          text: `Card ${made.slot} written: use the new ${made.fileName} from now on.`,
          kind: 'ok',
        });
      }),
    { primary: true, id: 'action-write' },
  );
  if (flash) s.flash(flash.text, flash.kind);
}

type ManagerRole = 'system-manager' | 'safe-manager' | 'audit-manager';

/** Init System-Manager(Bn) (Factor, PIN), Safe-Manager(C1), Audit-Manager(D1). */
export function managerCard(panel: Panel, role: ManagerRole): void {
  const p = progress(panel);
  const slot =
    role === 'system-manager'
      ? `B${(p?.systemManagers.length ?? 0) + 1}`
      : role === 'safe-manager'
        ? 'C1'
        : 'D1';
  const name =
    role === 'system-manager' ? 'System-Manager' : role === 'safe-manager' ? 'Safe-Manager' : 'Audit-Manager';
  const s = panel.open({
    id: `init-${role}`,
    title: `Init ${name}(${slot}) - Set Card-PIN`,
    states: STATES,
    keypad: 'hex',
  });
  if (role === 'system-manager') s.field({ name: 'factor', label: 'Factor', charset: 'hex', max: 32 });
  pinFields(s);
  s.prompt(PIN_PROMPT(slot));
  if (role === 'system-manager') {
    s.note(
      'System Manager cards cannot be made afterwards: make several now as backups. The Factor is 8 to 32 hex digits.',
    );
  }
  s.action('Cancel', () => initMenu(panel), { cancel: true, id: 'action-cancel' });
  s.action(
    'Make',
    () =>
      panel.run(s, async () => {
        const body = { pin: s.value('pin'), pinConfirm: s.value('confirm') };
        const made = await api.post<NewCard>(
          `/api/init/${role}`,
          role === 'system-manager' ? { factor: s.value('factor'), ...body } : body,
        );
        panel.handOut(made);
        await panel.refresh();
        initMenu(panel, { text: `Card ${made.slot} made: it came out as ${made.fileName}.`, kind: 'ok' });
      }),
    { primary: true, id: 'action-make' },
  );
}
