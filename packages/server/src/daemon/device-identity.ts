import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CofferError } from '@coffer/core';

/**
 * The box's own identity, kept beside its store: the store records which device it belongs to, so
 * a database file carried over from another device is detected at start ("The hard disk is
 * replaced"). Made once, at the first start in a data directory; kept across ReInit.
 */
export interface DeviceIdentity {
  format: 'coffer-device';
  version: 1;
  deviceId: string;
  createdAt: string;
}

export function loadOrCreateIdentity(dataDir: string): DeviceIdentity {
  const path = join(dataDir, 'device.json');
  if (!existsSync(path)) {
    const identity: DeviceIdentity = {
      format: 'coffer-device',
      version: 1,
      deviceId: randomUUID(),
      createdAt: new Date().toISOString(),
    };
    writeFileSync(path, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    return identity;
  }
  chmodSync(path, 0o600);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new CofferError('ERR_STORE', `${path} is not a readable device identity file.`);
  }
  const p = parsed as Partial<DeviceIdentity>;
  if (p.format !== 'coffer-device' || p.version !== 1 || typeof p.deviceId !== 'string' || !p.deviceId) {
    throw new CofferError('ERR_STORE', `${path} is not a Coffer device identity file.`);
  }
  return p as DeviceIdentity;
}
