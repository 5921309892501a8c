import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DeviceStatus } from '@coffer/core';
import type { Command } from 'commander';
import { readCard, writeCard } from '../locate.js';
import { PanelClient } from '../panel-client.js';
import { devClientExample } from './client.js';
import { createDevKeys } from './dev-keys.js';
import { createDevOperator } from './dev-operator.js';
import { closeOnSignals } from './start.js';

/** One card of the dev device as dev.json lists it. */
export interface DevCard {
  slot: string;
  role: string;
  file: string;
  pin: string;
  mkPartPin?: string;
}

/** dev.json: what scripts rely on (field names are a contract; see README). */
export interface DevJson {
  warning: string;
  dataDir: string;
  panel: string;
  /** The management service's real bound URL (https://127.0.0.1:PORT/). */
  management: string | null;
  /** The device CA certificate file (PEM) that `coffer admin --ca` pins. */
  ca: string | null;
  service: { host: string; port: number } | null;
  cards: DevCard[];
  mkParts: { slot: string; mkPart: string }[];
  operator: { name: string; license: string; pin: string } | null;
  keys: { index: number; type: string }[];
}

const WARNING =
  'DEV MODE: generated PINs and key components are written to this file in the clear. Never use a dev device for real keys.';
const HEX = '0123456789ABCDEF';

/** A random card PIN that keeps the keypad's rules (8 of 0-9/A-F, a digit and a letter). */
export function randomPin(): string {
  for (;;) {
    const pin = [...randomBytes(8)].map((b) => HEX[b % 16]).join('');
    if (/[0-9]/.test(pin) && /[A-F]/.test(pin)) return pin;
  }
}

interface NewCardReply {
  slot: string;
  card: unknown;
}

/**
 * Performs the whole initialisation of manual §3.1.1 with generated secrets; returns the cards.
 * `options.mkParts` gives the three MK components (32 hex each, A1–A3) instead of random ones: two
 * devices initialised with the same components share a key domain (backups restore across them).
 */
export async function initialise(
  api: PanelClient,
  cardsDir: string,
  options: { mkParts?: readonly string[] } = {},
): Promise<{ cards: DevCard[]; mkParts: { slot: string; mkPart: string }[] }> {
  const cards: DevCard[] = [];
  const mkParts: { slot: string; mkPart: string }[] = [];
  const save = (reply: NewCardReply, role: string, pin: string, mkPartPin?: string) => {
    const file = join(cardsDir, `coffer-${reply.slot}.card`);
    writeCard(file, reply.card);
    const existing = cards.find((c) => c.slot === reply.slot);
    if (existing) existing.file = file;
    else cards.push({ slot: reply.slot, role, file, pin, ...(mkPartPin ? { mkPartPin } : {}) });
  };
  await api.post('/api/init/time', { time: new Date().toISOString() });
  for (const slot of ['A1', 'A2', 'A3']) {
    const pin = randomPin();
    save(
      await api.post<NewCardReply>('/api/init/device-manager/card', { slot, pin, pinConfirm: pin }),
      'device-manager',
      pin,
    );
    const mkPart = options.mkParts?.[mkParts.length] ?? randomBytes(16).toString('hex').toUpperCase();
    const mkPartPin = randomPin();
    await api.post('/api/init/device-manager/mk-part', {
      slot,
      mkPart,
      mkPartConfirm: mkPart,
      mkPartPin,
      mkPartPinConfirm: mkPartPin,
    });
    cards.find((c) => c.slot === slot)!.mkPartPin = mkPartPin;
    mkParts.push({ slot, mkPart });
  }
  for (const card of [...cards]) {
    const reply = await api.post<NewCardReply>('/api/init/device-manager/write', {
      card: readCard(card.file),
      pin: card.pin,
    });
    save(reply, card.role, card.pin);
  }
  for (const [path, role, extra] of [
    ['system-manager', 'system-manager', { factor: randomBytes(4).toString('hex').toUpperCase() }],
    ['safe-manager', 'safe-manager', {}],
    ['audit-manager', 'audit-manager', {}],
  ] as const) {
    const pin = randomPin();
    save(await api.post<NewCardReply>(`/api/init/${path}`, { ...extra, pin, pinConfirm: pin }), role, pin);
  }
  await api.post('/api/init/finish');
  return { cards, mkParts };
}

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description(
      'start a throw-away device, initialised, booted and serving, and write DIR/dev.json (NOT FOR PRODUCTION)',
    )
    .option('--data <dir>', 'data directory', './data-dev')
    .option('--panel-port <port>', 'front-panel port (0: any free port)', '7010')
    .option('--management-port <port>', 'management service port on M-Net0 (0: any free port)', '1812')
    .option('--service-port <port>', 'crypto service port on A-Net1 (0: any free port)', '1813')
    .action(async (o: { data: string; panelPort: string; managementPort: string; servicePort: string }) => {
      const dataDir = resolve(o.data);
      const devFile = join(dataDir, 'dev.json');
      const cardsDir = join(dataDir, 'cards');
      mkdirSync(cardsDir, { recursive: true, mode: 0o700 });
      let shutdown: () => void = () => undefined;
      const daemon = await (await import('@coffer/server')).startDaemon({
        dataDir,
        panelPort: Number(o.panelPort),
        onShutdown: () => shutdown(),
      });
      shutdown = () => {
        daemon.close().finally(() => process.exit(0));
      };
      closeOnSignals(() => daemon.close());
      const api = new PanelClient(daemon.panelUrl);
      let state = daemon.device.state;
      let cards: DevCard[];
      let mkParts: { slot: string; mkPart: string }[];
      if (state === 'UNINITIALISED') {
        ({ cards, mkParts } = await initialise(api, cardsDir));
      } else if (state === 'LOCKED' && existsSync(devFile)) {
        ({ cards, mkParts } = JSON.parse(readFileSync(devFile, 'utf8')) as DevJson);
      } else if (state === 'FAULT') {
        const fault = daemon.device.status().fault!;
        throw new Error(`The device failed its self-test: ${fault.reason} (${fault.detail}).`);
      } else {
        throw new Error(
          `The device in ${dataDir} is ${state} and has no dev.json; use an empty --data directory.`,
        );
      }
      const card = (slot: string) => cards.find((c) => c.slot === slot)!;
      const first = await api.post<{ token: string }>('/api/auth2boot/first', {
        card: readCard(card('A1').file),
        pin: card('A1').pin,
      });
      await api.post('/api/auth2boot/second', {
        token: first.token,
        card: readCard(card('A2').file),
        pin: card('A2').pin,
      });
      const b1 = card('B1');
      const settings = await api.post<{ token: string }>('/api/settings/auth', {
        card: readCard(b1.file),
        pin: b1.pin,
      });
      const listed = await api.get<{ entries: { ip: string }[] }>(
        '/api/settings/tool-whitelist',
        settings.token,
      );
      if (!listed.entries.some((e) => e.ip === '127.0.0.1')) {
        await api.post('/api/settings/tool-whitelist', { ip: '127.0.0.1' }, settings.token);
      }
      const { token } = await api.post<{ token: string }>('/api/service/start/auth', {
        card: readCard(b1.file),
        pin: b1.pin,
      });
      const status = await api.post<DeviceStatus>('/api/service/start', {
        token,
        mNet0: { ip: '127.0.0.1', port: Number(o.managementPort), mask: '255.0.0.0', gateway: null },
        aNet1: { ip: '127.0.0.1', port: Number(o.servicePort), mask: '255.0.0.0', gateway: null },
      });
      state = status.state;
      const m = status.network?.mNet0;
      const a = status.network?.aNet1;
      // The demo operator with its licence (DIR/demo.license) and 127.0.0.1 whitelisted for it.
      const management = daemon.management;
      const operator =
        management?.url && management.caCertPem
          ? await createDevOperator({
              url: management.url,
              caPem: management.caCertPem,
              card: b1,
              dataDir,
              devFile,
              pin: randomPin(),
            })
          : null;
      // The demo keys (AES-256, RSA-2048, EC-P256, SM2, Ed25519) bound to the demo operator.
      const keys =
        operator && management?.url && management.caCertPem
          ? await createDevKeys({
              url: management.url,
              caPem: management.caCertPem,
              card: card('C1'),
              operator: operator.name,
              devFile,
            })
          : [];
      const dev: DevJson = {
        warning: WARNING,
        dataDir,
        panel: daemon.panelUrl,
        management: daemon.management?.url ?? (m ? `https://${m.ip}:${m.boundPort ?? m.port}/` : null),
        ca: daemon.management?.url ? daemon.caFile : null,
        service: a ? { host: a.ip, port: a.boundPort ?? a.port } : null,
        cards,
        mkParts,
        operator,
        keys,
      };
      writeFileSync(devFile, `${JSON.stringify(dev, null, 2)}\n`, { mode: 0o600 });
      const bar = '!'.repeat(78);
      process.stdout.write(
        [
          bar,
          '!!  COFFER DEV MODE — NOT FOR PRODUCTION.',
          '!!  Every PIN and master-key component is written in the clear to:',
          `!!    ${devFile}`,
          bar,
          `front panel: ${daemon.panelUrl}`,
          `state:       ${state}`,
          `management:  ${dev.management ?? '-'}`,
          `device CA:   ${dev.ca ?? '-'}`,
          `service:     ${dev.service ? `${dev.service.host}:${dev.service.port}` : '-'}`,
          `operator:    ${dev.operator ? `${dev.operator.name} (licence ${dev.operator.license}, PIN in dev.json)` : '-'}`,
          `demo keys:   ${dev.keys.map((k) => `${k.index} ${k.type}`).join(', ') || '-'}`,
          `dev.json:    ${devFile}`,
          `try it:      ${devClientExample(dev) ?? '-'}`,
          '',
        ].join('\n'),
      );
    });
}
