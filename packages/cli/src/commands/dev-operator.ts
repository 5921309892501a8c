import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CofferError, isCofferError, openLicence } from '@coffer/core';
import { AdminClient } from '../admin-client.js';
import { readCard } from '../locate.js';

/** The demo operator of `coffer dev`, as dev.json lists it. */
export interface DevOperator {
  name: string;
  /** The licence file (DIR/demo.license). */
  license: string;
  /** Its licence PIN, in the clear (dev mode only). */
  pin: string;
}

export const DEV_OPERATOR = 'demo';

/**
 * Sets up the demo operator over the management API as the System Manager (`client` logged in with
 * B1): adds `demo` unless it exists, downloads its licence to DIR/demo.license with `pin` unless the
 * previous run's licence is still its current one, and whitelists 127.0.0.1 for it.
 */
export async function setUpDevOperator(
  client: AdminClient,
  dataDir: string,
  pin: string,
  previous: DevOperator | null,
): Promise<DevOperator> {
  const name = DEV_OPERATOR;
  const license = join(dataDir, `${name}.license`);
  const detail = await client
    .get<{ licence: { serial: string; status: string } | null; whitelist: { ip: string }[] }>(
      `/api/operators/${name}`,
    )
    .catch((error: unknown) => {
      if (isCofferError(error) && error.code === 'ERR_NOT_FOUND') return null;
      throw error;
    });
  if (!detail) {
    await client.post('/api/operators', { name, description: 'coffer dev demo application' });
  }
  let kept: DevOperator | null = null;
  if (detail?.licence && previous?.name === name && existsSync(previous.license)) {
    // Keep the previous licence if it still opens with its PIN and is the operator's current one.
    const opened = await openLicence(readFileSync(previous.license), previous.pin).catch(() => null);
    if (opened?.serial === detail.licence.serial) kept = previous;
  }
  if (!kept) {
    const reply = await client.download('POST', `/api/operators/${name}/licence`, {
      pin,
      pinConfirm: pin,
      maxConnections: 64,
    });
    writeFileSync(license, reply.body, { mode: 0o600 });
  }
  if (!detail?.whitelist.some((w) => w.ip === '127.0.0.1')) {
    try {
      await client.post('/api/whitelist', { ip: '127.0.0.1', operators: [name] });
    } catch (error) {
      if (!(isCofferError(error) && error.code === 'ERR_CONFLICT')) throw error;
    }
  }
  if (!kept && !existsSync(license))
    throw new CofferError('ERR_INTERNAL', `The licence file ${license} was not written.`);
  return kept ?? { name, license, pin };
}

/**
 * Logs in to the management service as the System Manager (the dev device's B1 card) and sets up
 * the demo operator; the previous run's operator is read from `devFile` when there is one.
 */
export async function createDevOperator(opts: {
  url: string;
  caPem: string;
  card: { file: string; pin: string };
  dataDir: string;
  devFile: string;
  pin: string;
}): Promise<DevOperator> {
  const previous = existsSync(opts.devFile)
    ? ((JSON.parse(readFileSync(opts.devFile, 'utf8')) as { operator?: DevOperator | null }).operator ?? null)
    : null;
  // The card was made by this device with its own iteration count; unseal it at whatever it uses.
  const client = new AdminClient(opts.url, { caPem: opts.caPem, minCardIterations: 1 });
  try {
    await client.login(readCard(opts.card.file), opts.card.pin);
    try {
      return await setUpDevOperator(client, opts.dataDir, opts.pin, previous);
    } finally {
      await client.logout().catch(() => undefined);
    }
  } finally {
    client.close();
  }
}
