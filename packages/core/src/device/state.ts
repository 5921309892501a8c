import type { Keyring } from '../keyring/keyring.js';
import type { Fault } from './faults.js';
import type { InitCeremony } from './init-ceremony.js';
import type { NetworkSettings } from './network.js';

/**
 * The device lifecycle of DESIGN §2. Only READY and SERVING carry the unlocked keyring, so code that
 * uses keys while locked cannot be written: it has no keyring to use.
 */
export type DeviceState =
  | { kind: 'SELF_TEST' }
  | { kind: 'FAULT'; fault: Fault }
  | { kind: 'UNINITIALISED'; init: InitCeremony }
  | { kind: 'LOCKED' }
  | { kind: 'READY'; keyring: Keyring }
  | { kind: 'SERVING'; keyring: Keyring; network: NetworkSettings };

export type StateKind = DeviceState['kind'];

/** The manual's LEDs: power (red), error (yellow), waiting for initialisation (blue), working (green). */
export interface Indicators {
  power: boolean;
  error: boolean;
  waiting: boolean;
  working: boolean;
}

export function indicatorsFor(state: StateKind): Indicators {
  return {
    power: true,
    error: state === 'FAULT',
    waiting: state === 'UNINITIALISED',
    working: state === 'SERVING',
  };
}

export const STATE_ERROR = {
  SELF_TEST: 'ERR_STATE_SELF_TEST',
  FAULT: 'ERR_STATE_FAULT',
  UNINITIALISED: 'ERR_STATE_UNINITIALISED',
  LOCKED: 'ERR_STATE_LOCKED',
  READY: 'ERR_STATE_READY',
  SERVING: 'ERR_STATE_SERVING',
} as const;

export const STATE_WORDS: Record<StateKind, string> = {
  SELF_TEST: 'running its self-tests',
  FAULT: 'in a fault state',
  UNINITIALISED: 'not initialised',
  LOCKED: 'locked (not yet booted with two Device Manager cards)',
  READY: 'booted with the service stopped',
  SERVING: 'serving',
};
