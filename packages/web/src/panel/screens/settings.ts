import { api, type DeviceStatus, type TokenReply, type WhitelistEntry } from '../api.js';
import { h, showTime } from '../dom.js';
import type { Flash, Panel } from '../panel.js';
import { LocalRefusal } from '../screen.js';
import { timeFields } from '../time-fields.js';
import { shutDown } from './home.js';
import { systemManagerForm } from './service.js';

/**
 * Setting (manual §3.6): a System Manager card opens a settings session (its token rides in the
 * x-ceremony-token header); then Tool IP White list, System Time and Power (ShutDown & Restart).
 */

const STATES = ['READY', 'SERVING'] as const;

function endSession(panel: Panel, token: string): void {
  void api.post('/api/ceremony/cancel', { token }).catch(() => undefined);
  panel.home();
}

export function settingsAuth(panel: Panel): void {
  const s = panel.open({
    id: 'setting-auth',
    title: 'Setting - Authentication',
    states: STATES,
    keypad: 'hex',
  });
  systemManagerForm(s);
  s.action('Cancel', () => panel.home(), { cancel: true, id: 'action-cancel' });
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        const r = await api.post<TokenReply>('/api/settings/auth', {
          card: panel.card('a System Manager card'),
          pin: s.value('pin'),
        });
        panel.slot.eject('System Manager verified; card taken out.');
        settingsMenu(panel, r.token);
      }),
    { primary: true, id: 'action-next' },
  );
}

function settingsMenu(panel: Panel, token: string, flash?: Flash): void {
  const s = panel.open({ id: 'setting-menu', title: 'Setting', states: STATES });
  s.menu([
    { id: 'menu-whitelist', label: 'Tool IP White list', run: () => toolWhitelist(panel, token) },
    { id: 'menu-system-time', label: 'System Time', run: () => systemTime(panel, token) },
    { id: 'menu-power', label: 'Power', run: () => power(panel, token) },
  ]);
  s.note('The settings session ends with Back, or after 10 minutes without use.');
  s.action('Back', () => endSession(panel, token), { cancel: true, id: 'action-back' });
  if (flash) s.flash(flash.text, flash.kind);
}

/** The addresses whose management tool may connect to the management port (M-Net0). */
function toolWhitelist(panel: Panel, token: string, flash?: Flash): void {
  const s = panel.open({
    id: 'setting-whitelist',
    title: 'Tool IP White list',
    states: STATES,
    keypad: 'ip',
  });
  const list = h('ul', {
    class: 'whitelist',
    id: 'whitelist',
    'aria-label': 'Allowed management tool addresses',
  });
  s.add(h('div', { class: 'whitelist-box' }, list, s.errorSlot('ips')));
  s.field({ name: 'ip', label: 'IP address', charset: 'ip', max: 15 });
  const load = async () => {
    const { entries } = await api.get<{ entries: WhitelistEntry[] }>('/api/settings/tool-whitelist', token);
    list.replaceChildren(
      ...(entries.length === 0
        ? [h('li', { class: 'empty' }, 'No address yet: no management tool may connect.')]
        : entries.map((e) =>
            h(
              'li',
              {},
              h(
                'label',
                {},
                h('input', { type: 'checkbox', value: e.ip, 'aria-label': `Select ${e.ip}` }),
                h('code', {}, e.ip),
                h('span', { class: 'meta' }, `added ${showTime(e.addedAt)} by ${e.addedBy}`),
              ),
            ),
          )),
    );
  };
  s.action('Back', () => settingsMenu(panel, token), { cancel: true, id: 'action-back' });
  s.action(
    'delete',
    () =>
      panel.run(s, async () => {
        const ips = Array.from(list.querySelectorAll<HTMLInputElement>('input[type="checkbox"]:checked')).map(
          (c) => c.value,
        );
        if (ips.length === 0) throw new LocalRefusal('ips', 'Select one or more IP addresses to delete.');
        await api.post('/api/settings/tool-whitelist/delete', { ips }, token);
        await load();
        s.flash(`Deleted ${ips.join(', ')}: a management tool there may no longer connect.`);
      }),
    { id: 'action-delete', danger: true },
  );
  s.action(
    'add',
    () =>
      panel.run(s, async () => {
        const ip = s.value('ip');
        await api.post('/api/settings/tool-whitelist', { ip }, token);
        await load();
        const input = document.getElementById('f-ip') as HTMLInputElement | null;
        if (input) {
          input.value = '';
          input.dispatchEvent(new Event('input', { bubbles: true }));
        }
        s.flash(`${ip} added: a management tool at this address may connect.`);
      }),
    { primary: true, id: 'action-add' },
  );
  void panel.run(s, load);
  if (flash) s.flash(flash.text, flash.kind);
}

function systemTime(panel: Panel, token: string): void {
  const s = panel.open({ id: 'setting-time', title: 'System Time', states: STATES, keypad: 'hex' });
  const now = panel.status ? new Date(panel.status.time) : new Date();
  const time = timeFields(s, now);
  s.note("The device's clock, in UTC. The host computer's clock is not changed.");
  s.action('Back', () => settingsMenu(panel, token), { cancel: true, id: 'action-back' });
  s.action(
    'OK',
    () =>
      panel.run(s, async () => {
        await api.post('/api/settings/time', { time: time() }, token);
        await panel.refresh();
        settingsMenu(panel, token, { text: 'System time set.', kind: 'ok' });
      }),
    { primary: true, id: 'action-ok' },
  );
}

function power(panel: Panel, token: string): void {
  const s = panel.open({ id: 'setting-power', title: 'ShutDown & Restart', states: STATES });
  s.menu([
    { id: 'menu-shutdown', label: 'ShutDown', run: () => confirmPower(panel, token, 'shutdown') },
    { id: 'menu-restart', label: 'Restart', run: () => confirmPower(panel, token, 'restart') },
  ]);
  s.action('Back', () => settingsMenu(panel, token), { cancel: true, id: 'action-back' });
}

function confirmPower(panel: Panel, token: string, what: 'shutdown' | 'restart'): void {
  const shut = what === 'shutdown';
  const s = panel.open({ id: `setting-${what}`, title: shut ? 'ShutDown' : 'Restart', states: STATES });
  s.note(
    shut
      ? 'Shut the device down? The service stops and the device process ends; it must be started again at the machine.'
      : 'Restart the device? The service stops, the master key is forgotten and the device runs its self-tests; then Auth2Boot boots it again.',
    'warning',
  );
  s.action('Cancel', () => power(panel, token), { cancel: true, id: 'action-cancel' });
  s.action(
    shut ? 'ShutDown' : 'Restart',
    () =>
      panel.run(s, async () => {
        if (shut) {
          await api.post('/api/power/shutdown', {}, token);
          shutDown(panel);
          return;
        }
        await api.post<DeviceStatus>('/api/power/restart', {}, token);
        await panel.refresh();
        panel.home({ text: 'The device restarted. Auth2Boot to boot it.', kind: 'ok' });
      }),
    { primary: true, danger: true, id: 'action-confirm' },
  );
}
