import { api, type DeviceStatus, type NetworkStatus, type TokenReply } from '../api.js';
import { h } from '../dom.js';
import type { Panel } from '../panel.js';
import { LocalRefusal, type Screen } from '../screen.js';

/**
 * Start/Stop Service (manual §3.5): a System Manager card, then the M-Net0 (management) and A-Net1
 * (application) settings typed on the IP keypad. Stop Service asks for the card again.
 */

const SYS_PROMPT = 'Please insert System-Manager Card, and input the PIN of this card.';

/** The System Manager card and PIN form shared by Start Service, Stop Service and Setting. */
export function systemManagerForm(s: Screen): void {
  s.cardRow('insert a System Manager card (B)');
  s.field({ name: 'pin', label: 'Card-PIN', charset: 'hex', max: 8, masked: true });
  s.prompt(SYS_PROMPT);
}

export function startServiceAuth(panel: Panel): void {
  const s = panel.open({
    id: 'start-service-auth',
    title: 'Start Service - Authentication',
    states: ['READY'],
    keypad: 'hex',
  });
  systemManagerForm(s);
  s.action('Cancel', () => panel.home(), { cancel: true, id: 'action-cancel' });
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        const card = panel.card('a System Manager card');
        const r = await api.post<TokenReply>('/api/service/start/auth', { card, pin: s.value('pin') });
        panel.slot.eject('System Manager verified; card taken out.');
        startServiceSetting(panel, r.token);
      }),
    { primary: true, id: 'action-next' },
  );
}

const NETS = [
  { key: 'mNet0', label: 'M-Net0:', title: 'Managed-Netcard (management service)', port: 1812 },
  { key: 'aNet1', label: 'A-Net1:', title: 'Applied-Network (crypto service)', port: 1813 },
] as const;

function startServiceSetting(panel: Panel, token: string): void {
  const s = panel.open({
    id: 'start-service-setting',
    title: 'Start Service - Setting',
    states: ['READY'],
    keypad: 'ip',
  });
  const last = panel.status?.network ?? null;
  const defaults = (
    key: 'mNet0' | 'aNet1',
    port: number,
  ): Pick<NetworkStatus, 'ip' | 'port' | 'mask' | 'gateway'> =>
    last?.[key] ?? { ip: '127.0.0.1', port, mask: '255.0.0.0', gateway: null };
  const table = h(
    'table',
    { class: 'net-table' },
    h(
      'tr',
      {},
      h('th', {}, ''),
      h('th', {}, 'IP address'),
      h('th', {}, 'Port'),
      h('th', {}, 'Subnet mask'),
      h('th', {}, 'Default gateway'),
    ),
  );
  for (const net of NETS) {
    const d = defaults(net.key, net.port);
    const cell = (
      part: 'ip' | 'port' | 'mask' | 'gateway',
      label: string,
      value: string,
      max: number,
      charset: 'ip' | 'digits',
    ) =>
      h(
        'td',
        {},
        s.input({
          name: `${net.key}.${part}`,
          label: `${net.label.replace(':', '')} ${label}`,
          charset,
          max,
          value,
          size: part === 'port' ? 'short' : 'medium',
        }),
      );
    table.append(
      h(
        'tr',
        {},
        h('th', { scope: 'row', title: net.title }, net.label),
        cell('ip', 'IP address', d.ip, 15, 'ip'),
        cell('port', 'Port', String(d.port), 5, 'digits'),
        cell('mask', 'Subnet mask', d.mask, 15, 'ip'),
        cell('gateway', 'Default gateway', d.gateway ?? '', 15, 'ip'),
      ),
      h(
        'tr',
        { class: 'net-errors' },
        h(
          'td',
          { colspan: 5 },
          ...['', '.ip', '.port', '.mask', '.gateway'].map((p) => s.errorSlot(`${net.key}${p}`)),
        ),
      ),
    );
  }
  s.add(table);
  s.note('M-Net0 carries the management service, A-Net1 the crypto service. Port 0 picks a free port.');
  s.action(
    'Cancel',
    () => {
      void api.post('/api/ceremony/cancel', { token }).catch(() => undefined);
      panel.home();
    },
    { cancel: true, id: 'action-cancel' },
  );
  s.action(
    'Start',
    () =>
      panel.run(s, async () => {
        const read = (key: 'mNet0' | 'aNet1') => {
          const port = s.value(`${key}.port`);
          if (port === '') throw new LocalRefusal(`${key}.port`, 'Type the port (0 picks a free port).');
          const gateway = s.value(`${key}.gateway`);
          return {
            ip: s.value(`${key}.ip`),
            port: Number(port),
            mask: s.value(`${key}.mask`),
            gateway: gateway === '' ? null : gateway,
          };
        };
        const status = await api.post<DeviceStatus>('/api/service/start', {
          token,
          mNet0: read('mNet0'),
          aNet1: read('aNet1'),
        });
        await panel.refresh();
        const n = status.network;
        const at = (x: NetworkStatus) => `${x.ip}:${x.boundPort ?? x.port}`;
        panel.home({
          text: n ? `Service started: M-Net0 ${at(n.mNet0)}, A-Net1 ${at(n.aNet1)}.` : 'Service started.',
          kind: 'ok',
        });
      }),
    { primary: true, id: 'action-start' },
  );
}

export function stopService(panel: Panel): void {
  const s = panel.open({
    id: 'stop-service',
    title: 'Stop Service - Authentication',
    states: ['SERVING'],
    keypad: 'hex',
  });
  systemManagerForm(s);
  s.action('Cancel', () => panel.home(), { cancel: true, id: 'action-cancel' });
  s.action(
    'Next',
    () =>
      panel.run(s, async () => {
        await api.post<DeviceStatus>('/api/service/stop', {
          card: panel.card('a System Manager card'),
          pin: s.value('pin'),
        });
        panel.slot.eject('System Manager verified; card taken out.');
        await panel.refresh();
        panel.home({ text: 'Service stopped.', kind: 'ok' });
      }),
    { primary: true, id: 'action-next' },
  );
}
