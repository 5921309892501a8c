import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import {
  type CardFile,
  parseCardFile,
  signChallenge,
  unsealCard,
  verifyChallenge,
} from '../cards/card-file.js';
import { CofferError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import { macFields, verifyMac } from '../keyring/sealing.js';
import type { CardRecord, CardRole, StoreTx } from '../store/port.js';

/** Five wrong PINs in a row block a card until it is remade (DESIGN §4). */
export const MAX_PIN_ATTEMPTS = 5;

export const ROLE_LABEL: Record<CardRole, string> = {
  'device-manager': 'Device Manager',
  'system-manager': 'System Manager',
  'safe-manager': 'Safe Manager',
  'audit-manager': 'Audit Manager',
};

/** A card that passed every check: the registry entry and what the PIN unsealed. */
export interface PresentedCard {
  record: CardRecord;
  file: CardFile;
  privateKey: KeyObject;
  share: Buffer | null;
}

function cardMacFields(r: Omit<CardRecord, 'mac' | 'failedAttempts' | 'blocked'>) {
  return [
    r.cardId,
    r.slot,
    r.role,
    r.account,
    r.publicKey.toString('base64'),
    r.status,
    r.factor,
    r.createdAt,
    r.replacedAt,
  ];
}

/** Seals a registry entry's security-relevant fields under the integrity subkey. */
export function sealCardRecord(keyring: Keyring, r: Omit<CardRecord, 'mac'>): CardRecord {
  return { ...r, mac: macFields(keyring.integrity, 'cards', cardMacFields(r)) };
}

export function cardRecordIntact(keyring: Keyring, r: CardRecord): boolean {
  return verifyMac(keyring.integrity, 'cards', cardMacFields(r), r.mac);
}

export interface PresentOptions {
  deviceId: string;
  roles: readonly CardRole[];
  minIterations: number;
  /** Present when the device is booted: the registry entry's MAC is checked too. */
  keyring: Keyring | null;
}

/**
 * The card reader: a card file and its PIN are checked in this order, each with its own refusal —
 * format, device, registry (unknown, replaced, blocked), role, public key, PIN (wrong PINs counted;
 * the fifth in a row blocks the card), and finally possession of the private key by a signed
 * challenge. Role is checked before the PIN so that a wrong card does not cost PIN attempts.
 * @throws ERR_CARD_FORMAT, ERR_CARD_FOREIGN, ERR_CARD_UNKNOWN, ERR_CARD_REPLACED, ERR_CARD_BLOCKED,
 *   ERR_CARD_ROLE, ERR_CARD_FORGED, ERR_CARD_KDF_WEAK, ERR_PIN_WRONG (details.attemptsLeft), ERR_INTEGRITY
 */
export async function presentCard(
  tx: StoreTx,
  raw: unknown,
  pin: string,
  opts: PresentOptions,
): Promise<PresentedCard> {
  const file = parseCardFile(raw);
  if (file.deviceId !== opts.deviceId) {
    throw new CofferError('ERR_CARD_FOREIGN', 'This card belongs to another device.', { slot: file.slot });
  }
  const record = await tx.getCard(file.cardId);
  if (!record) {
    throw new CofferError(
      'ERR_CARD_UNKNOWN',
      'This card is not registered on this device (it may be from before a re-initialisation).',
      { slot: file.slot },
    );
  }
  if (opts.keyring && !cardRecordIntact(opts.keyring, record)) {
    throw new CofferError('ERR_INTEGRITY', 'The registry entry of this card failed its integrity check.', {
      slot: record.slot,
    });
  }
  if (record.status === 'replaced') {
    throw new CofferError(
      'ERR_CARD_REPLACED',
      `This ${record.slot} card has been replaced by a newer card and no longer works.`,
      {
        slot: record.slot,
      },
    );
  }
  if (record.blocked) {
    throw new CofferError(
      'ERR_CARD_BLOCKED',
      `This ${record.slot} card is blocked after ${MAX_PIN_ATTEMPTS} wrong PINs in a row; it must be remade.`,
      { slot: record.slot },
    );
  }
  if (!opts.roles.includes(record.role)) {
    const wanted = opts.roles.map((r) => ROLE_LABEL[r]).join(' or ');
    throw new CofferError(
      'ERR_CARD_ROLE',
      `This is a ${ROLE_LABEL[record.role]} card (${record.slot}); insert a ${wanted} card.`,
      {
        slot: record.slot,
      },
    );
  }
  if (!record.publicKey.equals(Buffer.from(file.publicKey, 'base64'))) {
    throw new CofferError('ERR_CARD_FORGED', 'This card file does not match the card the device issued.', {
      slot: record.slot,
    });
  }
  let unsealed: { privateKey: KeyObject; share: Buffer | null };
  try {
    unsealed = await unsealCard(file, pin, { minIterations: opts.minIterations });
  } catch (error) {
    if (error instanceof CofferError && error.code === 'ERR_PIN_WRONG') {
      const failed = record.failedAttempts + 1;
      const blocked = failed >= MAX_PIN_ATTEMPTS;
      await tx.setCardAttempts(record.cardId, failed, blocked);
      const left = MAX_PIN_ATTEMPTS - failed;
      throw new CofferError(
        blocked ? 'ERR_CARD_BLOCKED' : 'ERR_PIN_WRONG',
        blocked
          ? `The card PIN is wrong. This was the ${MAX_PIN_ATTEMPTS}th wrong PIN in a row: the ${record.slot} card is now blocked and must be remade.`
          : `The card PIN is wrong. ${left} attempt${left === 1 ? '' : 's'} left before the card is blocked.`,
        { slot: record.slot, attemptsLeft: left, field: 'pin' },
      );
    }
    throw error;
  }
  const challenge = randomBytes(32);
  if (!verifyChallenge(record.publicKey, challenge, signChallenge(unsealed.privateKey, challenge))) {
    unsealed.share?.fill(0);
    throw new CofferError('ERR_CARD_FORGED', 'This card cannot prove it holds the key the device issued.', {
      slot: record.slot,
    });
  }
  if (record.failedAttempts > 0) await tx.setCardAttempts(record.cardId, 0, false);
  return { record, file, ...unsealed };
}
