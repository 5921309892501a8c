import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminClient, type PanelClient } from '@coffer/cli';
import type { Daemon, DaemonOptions } from '@coffer/server';
import { type Initialised, initialiseDevice, startTestDevice, tempDir } from './support.js';

/** A device in-process, initialised, booted and serving, with its management service on 127.0.0.1. */
export interface ServingDevice {
  dir: string;
  daemon: Daemon;
  api: PanelClient;
  init: Initialised;
  /** https://127.0.0.1:PORT/ */
  url: string;
  caPem: string;
  /** A client of the management API (not logged in). */
  client(opts?: { localAddress?: string }): AdminClient;
  /** A client logged in with the card of `slot` (B1, C1, D1). */
  admin(slot: string, opts?: { localAddress?: string }): Promise<AdminClient>;
  /** A front-panel settings session (System Manager card B1). */
  settingsToken(): Promise<string>;
  close(): Promise<void>;
}

export async function startServingDevice(
  opts: { toolWhitelist?: string[]; extra?: Partial<DaemonOptions>; mkParts?: readonly string[] } = {},
): Promise<ServingDevice> {
  const { dir, cleanup } = await tempDir('coffer-mgmt-');
  const { daemon, api } = await startTestDevice(join(dir, 'data'), opts.extra);
  const clients: AdminClient[] = [];
  try {
    const init = await initialiseDevice(api, dir, opts.mkParts ? { mkParts: opts.mkParts } : {});
    const cardJson = (slot: string) => JSON.parse(readFileSync(init.card(slot).file, 'utf8'));
    const first = await api.post<{ token: string }>('/api/auth2boot/first', {
      card: cardJson('A1'),
      pin: init.card('A1').pin,
    });
    await api.post('/api/auth2boot/second', {
      token: first.token,
      card: cardJson('A2'),
      pin: init.card('A2').pin,
    });
    const settingsToken = async () =>
      (
        await api.post<{ token: string }>('/api/settings/auth', {
          card: cardJson('B1'),
          pin: init.card('B1').pin,
        })
      ).token;
    const token = await settingsToken();
    for (const ip of opts.toolWhitelist ?? ['127.0.0.1']) {
      await api.post('/api/settings/tool-whitelist', { ip }, token);
    }
    const start = await api.post<{ token: string }>('/api/service/start/auth', {
      card: cardJson('B1'),
      pin: init.card('B1').pin,
    });
    await api.post('/api/service/start', {
      token: start.token,
      mNet0: { ip: '127.0.0.1', port: 0, mask: '255.0.0.0', gateway: null },
      aNet1: { ip: '127.0.0.1', port: 0, mask: '255.0.0.0', gateway: null },
    });
    const url = daemon.management?.url;
    const caPem = daemon.management?.caCertPem;
    if (!url || !caPem) throw new Error('the management service did not start');
    const client = (o: { localAddress?: string } = {}) => {
      const c = new AdminClient(url, { caPem, minCardIterations: 1000, ...o });
      clients.push(c);
      return c;
    };
    return {
      dir,
      daemon,
      api,
      init,
      url,
      caPem,
      client,
      async admin(slot, o) {
        const c = client(o);
        await c.login(cardJson(slot), init.card(slot).pin);
        return c;
      },
      settingsToken,
      async close() {
        for (const c of clients) c.close();
        await daemon.close();
        await cleanup();
      },
    };
  } catch (error) {
    await daemon.close();
    await cleanup();
    throw error;
  }
}
