import { api, type DeviceInfo, type NetworkStatus } from '../api.js';
import { h } from '../dom.js';
import type { Panel } from '../panel.js';

/** Device Info (manual §3.7): manufacturer, model, version, the device key check value and the networks. */
export function deviceInfo(panel: Panel): void {
  const s = panel.open({ id: 'device-info', title: 'Device Info', states: ['LOCKED', 'READY', 'SERVING'] });
  const list = h('dl', { class: 'info', id: 'device-info' });
  s.add(list);
  s.action('Back', () => panel.home(), { cancel: true, primary: true, id: 'action-back' });
  void panel.run(s, async () => {
    const info = await api.get<DeviceInfo>('/api/device-info');
    const net = (n: NetworkStatus | undefined) =>
      n
        ? `Mac=${n.mac} Ip:port=${n.ip}:${n.port}${n.boundPort !== null && n.boundPort !== n.port ? ` (listening on ${n.boundPort})` : ''} Mask=${n.mask} Gateway=${n.gateway ?? '—'}`
        : 'not set yet (Start Service sets it)';
    const row = (label: string, value: string, id?: string) => [h('dt', {}, label), h('dd', { id }, value)];
    list.replaceChildren(
      ...row('Manufacturer:', info.manufacturer),
      ...row('Device Name:', info.deviceName),
      ...row('Device Model Number:', info.model),
      ...row('Software Version:', info.softwareVersion),
      ...row('Device ID:', info.deviceId, 'info-device-id'),
      ...row('Device Key Check Value:', info.kcv, 'info-kcv'),
      ...row('M-Net0:', net(info.network?.mNet0), 'info-mnet0'),
      ...row('A-Net1:', net(info.network?.aNet1), 'info-anet1'),
    );
  });
}
