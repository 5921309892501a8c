import { type CardFile, makeCard, parseCardFile, resealCard, unsealCard } from '../cards/card-file.js';
import { checkCardPin, checkMkPartConfirm, checkMkPartPin } from '../cards/pin-rules.js';
import { CofferError } from '../errors.js';
import { combineComponents, parseMkPart } from '../keyring/master-key.js';
import { makePinVerifier } from '../keyring/pin-verifier.js';
import { splitMasterKey } from '../keyring/quorum.js';
import type { CardRole } from '../store/port.js';

export const DEVICE_MANAGER_SLOTS = ['A1', 'A2', 'A3'] as const;
export type DeviceManagerSlot = (typeof DEVICE_MANAGER_SLOTS)[number];

/** A card made during initialisation, before anything is written to the store. */
export interface CeremonyCard {
  cardId: string;
  slot: string;
  role: CardRole;
  account: string;
  publicKey: Buffer;
  factor: string | null;
  createdAt: string;
}

interface DeviceManagerProgress {
  card: CeremonyCard | null;
  mkPart: Buffer | null;
  mkPartPinVerifier: string | null;
  written: boolean;
}

/** What the panel shows of the initialisation so far (no secrets). */
export interface InitProgress {
  timeSet: boolean;
  deviceManagers: { slot: DeviceManagerSlot; cardMade: boolean; mkPartSet: boolean; written: boolean }[];
  systemManagers: string[];
  safeManager: boolean;
  auditManager: boolean;
  /** The step the manual's screen would show next. */
  next: InitStep;
}

export type InitStep =
  | 'time'
  | `card-${DeviceManagerSlot}`
  | `mk-part-${DeviceManagerSlot}`
  | 'write'
  | 'managers'
  | 'finish';

/** Everything the device commits when initialisation finishes. The caller wipes `mk` and `shares`. */
export interface InitResult {
  mk: Buffer;
  shares: [Buffer, Buffer, Buffer];
  mkPartPinVerifiers: { slot: DeviceManagerSlot; verifier: string }[];
  cards: CeremonyCard[];
}

/**
 * The initialisation wizard of manual §3.1.1, held in memory until it finishes: time setting, then
 * A1, A2, A3 (card PIN, MK component, MK-part PIN), then the Write step that presents each A card
 * again, then System Manager (several), Safe Manager and Audit Manager cards. Nothing reaches the
 * store before `finish`, so an abandoned initialisation leaves no trace but its audit entries.
 */
export class InitCeremony {
  #timeSet = false;
  readonly #dm = new Map<DeviceManagerSlot, DeviceManagerProgress>(
    DEVICE_MANAGER_SLOTS.map((slot) => [
      slot,
      { card: null, mkPart: null, mkPartPinVerifier: null, written: false },
    ]),
  );
  #mk: Buffer | null = null;
  #shares: [Buffer, Buffer, Buffer] | null = null;
  readonly #managers: CeremonyCard[] = [];

  constructor(
    private readonly deviceId: string,
    private readonly iterations: number,
    private readonly minIterations: number,
  ) {}

  progress(): InitProgress {
    return {
      timeSet: this.#timeSet,
      deviceManagers: DEVICE_MANAGER_SLOTS.map((slot) => {
        const p = this.#dm.get(slot)!;
        return { slot, cardMade: p.card !== null, mkPartSet: p.mkPart !== null, written: p.written };
      }),
      systemManagers: this.#managers.filter((c) => c.role === 'system-manager').map((c) => c.slot),
      safeManager: this.#managers.some((c) => c.role === 'safe-manager'),
      auditManager: this.#managers.some((c) => c.role === 'audit-manager'),
      next: this.nextStep(),
    };
  }

  nextStep(): InitStep {
    if (!this.#timeSet) return 'time';
    for (const slot of DEVICE_MANAGER_SLOTS) {
      const p = this.#dm.get(slot)!;
      if (!p.card) return `card-${slot}`;
      if (!p.mkPart) return `mk-part-${slot}`;
    }
    if (DEVICE_MANAGER_SLOTS.some((s) => !this.#dm.get(s)!.written)) return 'write';
    return this.isComplete() ? 'finish' : 'managers';
  }

  markTimeSet(): void {
    this.#timeSet = true;
  }

  #expect(step: InitStep | InitStep[], what: string): void {
    const steps = Array.isArray(step) ? step : [step];
    const next = this.nextStep();
    if (!steps.includes(next)) {
      throw new CofferError(
        'ERR_CEREMONY_ORDER',
        `${what} is not the next step of initialisation; the next step is ${next}.`,
        {
          next,
        },
      );
    }
  }

  /** Init Dev-Manager(Ax) - Set Card-PIN: a new A card (no share yet; the Write step adds it). */
  async makeDeviceManagerCard(
    slot: DeviceManagerSlot,
    pin: string,
    confirm: string,
    now: Date,
  ): Promise<CardFile> {
    const p = this.#dm.get(slot);
    if (!p)
      throw new CofferError('ERR_BAD_REQUEST', `There is no Device Manager slot ${String(slot)}.`, {
        field: 'slot',
      });
    // A card may be made again for the slot being worked on (a lost file before Write), never ahead.
    if (!(p.card && !p.mkPart) && this.nextStep() !== `card-${slot}`) {
      this.#expect(`card-${slot}`, `Making card ${slot}`);
    }
    checkCardPin(pin, confirm);
    const { file } = await makeCard({
      deviceId: this.deviceId,
      slot,
      role: 'device-manager',
      account: `admin${slot}`,
      pin,
      share: null,
      iterations: this.iterations,
      createdAt: now.toISOString(),
    });
    p.card = cardFromFile(file, null);
    return file;
  }

  /** Init Dev-Manager(Ax) - Set MK-Part: the 32-hex-digit component and its protection PIN. */
  async setMkPart(
    slot: DeviceManagerSlot,
    mkPart: string,
    mkPartConfirm: string,
    mkPartPin: string,
    mkPartPinConfirm: string,
  ): Promise<void> {
    this.#expect(`mk-part-${slot}`, `Setting the MK part of ${slot}`);
    const part = parseMkPart(mkPart);
    checkMkPartConfirm(mkPart, mkPartConfirm);
    checkMkPartPin(mkPartPin, mkPartPinConfirm);
    const p = this.#dm.get(slot)!;
    p.mkPartPinVerifier = await makePinVerifier(mkPartPin.toUpperCase());
    p.mkPart = part;
    if (DEVICE_MANAGER_SLOTS.every((s) => this.#dm.get(s)!.mkPart)) {
      const parts = DEVICE_MANAGER_SLOTS.map((s) => this.#dm.get(s)!.mkPart!);
      this.#mk = combineComponents(parts);
      this.#shares = await splitMasterKey(this.#mk);
      for (const s of parts) s.fill(0);
      for (const s of DEVICE_MANAGER_SLOTS) this.#dm.get(s)!.mkPart = Buffer.alloc(0); // set, and wiped
    }
  }

  /** Write: an A card presented again with its PIN gets its master-key share. Returns the new file. */
  async writeDeviceManagerCard(
    raw: unknown,
    pin: string,
  ): Promise<{ slot: DeviceManagerSlot; file: CardFile }> {
    this.#expect(['write', 'managers', 'finish'], 'Writing a Device Manager card');
    const file = parseCardFile(raw);
    if (file.deviceId !== this.deviceId) {
      throw new CofferError('ERR_CARD_FOREIGN', 'This card belongs to another device.');
    }
    const slot = DEVICE_MANAGER_SLOTS.find((s) => this.#dm.get(s)!.card?.cardId === file.cardId);
    if (!slot) {
      throw new CofferError(
        'ERR_CARD_UNKNOWN',
        'This is not one of the Device Manager cards made in this initialisation.',
      );
    }
    const p = this.#dm.get(slot)!;
    if (!p.card!.publicKey.equals(Buffer.from(file.publicKey, 'base64'))) {
      throw new CofferError(
        'ERR_CARD_FORGED',
        'This card does not match the card the device made for this slot.',
      );
    }
    const { privateKey } = await unsealCard(file, pin, { minIterations: this.minIterations });
    const share = this.#shares![DEVICE_MANAGER_SLOTS.indexOf(slot)]!;
    const written = await resealCard(file, { privateKey, share }, pin, this.iterations);
    p.written = true;
    return { slot, file: written };
  }

  /** Sys-Manager / Safe-Manager / Audit-Manager cards, once every A card is written. */
  async makeManagerCard(
    role: Exclude<CardRole, 'device-manager'>,
    pin: string,
    confirm: string,
    factor: string | null,
    now: Date,
  ): Promise<CardFile> {
    this.#expect(['managers', 'finish'], 'Making a manager card');
    if (role !== 'system-manager' && this.#managers.some((c) => c.role === role)) {
      const label = role === 'safe-manager' ? 'Safe Manager (C1)' : 'Audit Manager (D1)';
      throw new CofferError('ERR_CONFLICT', `The ${label} card has already been made.`);
    }
    checkCardPin(pin, confirm);
    if (role === 'system-manager') factor = checkFactor(factor);
    else factor = null;
    const letter = role === 'system-manager' ? 'B' : role === 'safe-manager' ? 'C' : 'D';
    const slot = `${letter}${this.#managers.filter((c) => c.role === role).length + 1}`;
    const { file } = await makeCard({
      deviceId: this.deviceId,
      slot,
      role,
      account: `admin${slot}`,
      pin,
      share: null,
      iterations: this.iterations,
      createdAt: now.toISOString(),
    });
    this.#managers.push(cardFromFile(file, factor));
    return file;
  }

  isComplete(): boolean {
    return (
      DEVICE_MANAGER_SLOTS.every((s) => this.#dm.get(s)!.written) &&
      this.#managers.some((c) => c.role === 'system-manager') &&
      this.#managers.some((c) => c.role === 'safe-manager') &&
      this.#managers.some((c) => c.role === 'audit-manager')
    );
  }

  /** Hands over what must be committed. @throws ERR_INIT_INCOMPLETE naming what is missing. */
  result(): InitResult {
    if (!this.isComplete()) {
      throw new CofferError(
        'ERR_INIT_INCOMPLETE',
        `Initialisation is not finished; the next step is ${this.nextStep()}.`,
        {
          next: this.nextStep(),
        },
      );
    }
    return {
      mk: this.#mk!,
      shares: this.#shares!,
      mkPartPinVerifiers: DEVICE_MANAGER_SLOTS.map((slot) => ({
        slot,
        verifier: this.#dm.get(slot)!.mkPartPinVerifier!,
      })),
      cards: [...DEVICE_MANAGER_SLOTS.map((s) => this.#dm.get(s)!.card!), ...this.#managers],
    };
  }

  /** Forgets every secret held (cancel, restart, or after commit). Best effort in JavaScript. */
  wipe(): void {
    this.#mk?.fill(0);
    for (const s of this.#shares ?? []) s.fill(0);
    for (const p of this.#dm.values()) p.mkPart?.fill(0);
    this.#mk = null;
    this.#shares = null;
  }
}

function cardFromFile(file: CardFile, factor: string | null): CeremonyCard {
  return {
    cardId: file.cardId,
    slot: file.slot,
    role: file.role,
    account: file.account,
    publicKey: Buffer.from(file.publicKey, 'base64'),
    factor,
    createdAt: file.createdAt,
  };
}

/**
 * The Sys-Manager screen's Factor: the System Manager's working-key factor, 8 to 32 hex digits from
 * the keypad. Coffer records it with the card in the registry (docs/ceremonies.md says why).
 * @throws ERR_FACTOR_FORMAT
 */
export function checkFactor(factor: string | null): string {
  const value = (factor ?? '').trim().toUpperCase();
  if (!/^[0-9A-F]{8,32}$/.test(value)) {
    throw new CofferError('ERR_FACTOR_FORMAT', 'The Factor must be 8 to 32 characters from 0-9 and A-F.', {
      field: 'factor',
    });
  }
  return value;
}
