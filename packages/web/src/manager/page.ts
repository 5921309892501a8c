import type { Api, Role } from './api.js';
import { details, h, messageBox, showTime, words } from './ui.js';

/** What a page gets: the API and the place it draws into. */
export interface PageContext {
  api: Api;
  root: HTMLElement;
}

export interface PageDef {
  id: string;
  title: string;
  /** The role whose menu holds the page (device information is in every menu). */
  role: Role | 'any';
  render(ctx: PageContext): Promise<void>;
}

/** A page's frame: title, a message line, and the body. */
export function frame(ctx: PageContext, id: string, title: string) {
  const message = messageBox('page-message');
  const body = h('div', { class: 'page-body' });
  ctx.root.replaceChildren(
    h('section', { class: 'page', 'data-page': id }, h('h1', {}, title), message, body),
  );
  return { message, body };
}

interface DeviceInfo {
  manufacturer: string;
  deviceName: string;
  model: string;
  softwareVersion: string;
  deviceId: string;
  kcv: string;
  network: Record<
    'mNet0' | 'aNet1',
    { ip: string; port: number; mask: string; gateway: string | null; mac: string; boundPort: number | null }
  > | null;
}

export function networkBox(network: DeviceInfo['network']): HTMLElement {
  if (!network) return h('p', {}, 'The network is not configured.');
  return h(
    'div',
    { class: 'cards' },
    ...(['mNet0', 'aNet1'] as const).map((n) => {
      const net = network[n];
      return h(
        'div',
        { class: 'card-box' },
        h('h2', {}, n === 'mNet0' ? 'M-Net0 (management)' : 'A-Net1 (crypto service)'),
        details([
          ['IP address', net.ip],
          ['Port', String(net.boundPort ?? net.port)],
          ['Mask', net.mask],
          ['Gateway', net.gateway ?? '—'],
          ['MAC', net.mac],
        ]),
      );
    }),
  );
}

/** §4.4.1.3, §4.4.2.3, §4.4.3.6: device information (every role). */
export const deviceInfoPage: PageDef = {
  id: 'device-info',
  title: 'Device information',
  role: 'any',
  async render(ctx) {
    const { message, body } = frame(ctx, 'device-info', 'Device information');
    try {
      const info = await ctx.api.get<DeviceInfo>('/api/device-info');
      body.append(
        h(
          'div',
          { class: 'card-box' },
          details([
            ['Manufacturer', info.manufacturer],
            ['Device name', info.deviceName],
            ['Model', info.model],
            ['Software version', info.softwareVersion],
            ['Device ID', info.deviceId],
            ['Key check value (KCV)', info.kcv],
          ]),
        ),
        networkBox(info.network),
      );
    } catch (error) {
      message.show('error', words(error));
    }
  },
};

export { showTime };
