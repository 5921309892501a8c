import { existsSync, readFileSync } from 'node:fs';
import { isCofferError, keyTypeInfo } from '@coffer/core';
import { AdminClient } from '../admin-client.js';
import { readCard } from '../locate.js';

/** A demo key of `coffer dev`, as dev.json lists it. */
export interface DevKey {
  index: number;
  type: string;
}

/** The demo keys: one of each kind the crypto service's examples use. */
export const DEV_KEY_TYPES = ['AES-256', 'RSA-2048', 'EC-P256', 'SM2', 'Ed25519'] as const;

interface KeyDetail {
  index: number;
  type: string;
  status: string;
  operators: { operator: string }[];
}

/**
 * Sets up the demo keys over the management API as the Safe Manager (`client` logged in with C1):
 * one key of each of {@link DEV_KEY_TYPES} with every usage its type allows, bound to `operator`.
 * A key of the previous run (from dev.json) is kept when it is still there, of its type and normal.
 */
export async function setUpDevKeys(
  client: AdminClient,
  operator: string,
  previous: DevKey[],
): Promise<DevKey[]> {
  const keys: DevKey[] = [];
  for (const type of DEV_KEY_TYPES) {
    const before = previous.find((k) => k.type === type);
    let detail: KeyDetail | null = null;
    if (before) {
      detail = await client.get<KeyDetail>(`/api/keys/${before.index}`).catch((error: unknown) => {
        if (isCofferError(error) && error.code === 'ERR_NOT_FOUND') return null;
        throw error;
      });
      if (detail && (detail.type !== type || detail.status !== 'normal')) detail = null;
    }
    if (!detail) {
      const made = await client.post<KeyDetail>('/api/keys', {
        type,
        usage: [...keyTypeInfo(type).allowedUsage],
        description: 'coffer dev demo key',
      });
      detail = { ...made, operators: [] };
    }
    if (!detail.operators.some((o) => o.operator === operator)) {
      await client.post(`/api/keys/${detail.index}/bind`, { operators: [operator] });
    }
    keys.push({ index: detail.index, type });
  }
  return keys;
}

/**
 * Logs in to the management service as the Safe Manager (the dev device's C1 card) and sets up the
 * demo keys bound to `operator`; the previous run's keys are read from `devFile` when there is one.
 */
export async function createDevKeys(opts: {
  url: string;
  caPem: string;
  card: { file: string; pin: string };
  operator: string;
  devFile: string;
}): Promise<DevKey[]> {
  const previous = existsSync(opts.devFile)
    ? ((JSON.parse(readFileSync(opts.devFile, 'utf8')) as { keys?: DevKey[] }).keys ?? [])
    : [];
  // The card was made by this device with its own iteration count; unseal it at whatever it uses.
  const client = new AdminClient(opts.url, { caPem: opts.caPem, minCardIterations: 1 });
  try {
    await client.login(readCard(opts.card.file), opts.card.pin);
    try {
      return await setUpDevKeys(client, opts.operator, previous);
    } finally {
      await client.logout().catch(() => undefined);
    }
  } finally {
    client.close();
  }
}
