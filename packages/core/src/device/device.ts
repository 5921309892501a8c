import type { VerifyResult } from '../audit/audit-chain.js';
import { AuditLog } from '../audit/audit-log.js';
import { type CardFile, makeCard } from '../cards/card-file.js';
import { checkCardPin } from '../cards/pin-rules.js';
import { CofferError, isCofferError } from '../errors.js';
import { deriveKeyring, type Keyring } from '../keyring/keyring.js';
import { checkPinVerifier } from '../keyring/pin-verifier.js';
import { combineShares } from '../keyring/quorum.js';
import { macFields, openRecord, sealRecord, verifyMac } from '../keyring/sealing.js';
import type {
  AuditSource,
  CardRecord,
  CardRole,
  DomainRecord,
  Store,
  StoreTx,
  ToolWhitelistRecord,
} from '../store/port.js';
import { cardRecordIntact, type PresentedCard, presentCard, sealCardRecord } from './card-registry.js';
import { type CeremonyKind, CeremonyTokens } from './ceremony-tokens.js';
import { DeviceClock } from './clock.js';
import { type Fault, type FaultCode, makeFault } from './faults.js';
import {
  DEVICE_MANAGER_SLOTS,
  type DeviceManagerSlot,
  InitCeremony,
  type InitProgress,
} from './init-ceremony.js';
import {
  type HostAddress,
  isIpv4,
  macFor,
  type NetworkName,
  type NetworkPort,
  type NetworkSettings,
  validateNetworkSettings,
} from './network.js';
import {
  type DeviceState,
  type Indicators,
  indicatorsFor,
  STATE_ERROR,
  STATE_WORDS,
  type StateKind,
} from './state.js';

/** Manufacturer, name, model and version as configured (Device Info, §3.7). */
export interface DeviceInfoConfig {
  manufacturer: string;
  deviceName: string;
  model: string;
  softwareVersion: string;
}

/** One start-up check (DESIGN §10) and the manual's fault it stands for when it fails. */
export interface SelfTestCheck {
  name: string;
  fault: FaultCode;
  run(): Promise<void>;
}

/**
 * Where a network service plugs in: the management service on M-Net0 and the crypto service on
 * A-Net1 are started with the service and stopped with it.
 */
export interface ServiceListener {
  readonly name: string;
  readonly network: NetworkName;
  /** Starts listening; resolves with the port actually bound (the setting may be 0). */
  start(address: { ip: string; port: number }, device: Device): Promise<{ port: number }>;
  stop(): Promise<void>;
}

/** The running log's surface the core needs (pino's). Never pass secrets. */
export interface RunningLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DeviceOptions {
  deviceId: string;
  openStore(): Promise<Store>;
  info: DeviceInfoConfig;
  selfTests: SelfTestCheck[];
  hostAddresses(): HostAddress[];
  /** PBKDF2 iterations for new cards (600,000 in production). */
  cardKdfIterations: number;
  /** The least a presented card may use (600,000 unless the test-only switch lowers it). */
  minCardKdfIterations: number;
  log: RunningLog;
  hostNow?: () => number;
  /** Makes the device CA at initialisation (certificate PEM and PKCS#8 private key). */
  makeCa(now: Date, deviceId: string): Promise<{ certPem: string; keyPkcs8: Buffer }>;
  /** Called after Shutdown has stopped everything. */
  onShutdown?: () => void;
  listeners?: ServiceListener[];
  /** How long a multi-screen ceremony may wait between steps. */
  ceremonyTtlMs?: number;
}

/** Who asked: the surface and the client address, for the audit log. */
export interface RequestContext {
  source: AuditSource;
  clientIp: string;
}

export interface ServiceNetworkStatus extends NetworkPort {
  mac: string;
  /** The port actually bound while serving (differs from `port` when that was 0). */
  boundPort: number | null;
}

export interface DeviceStatus {
  state: StateKind;
  words: string;
  indicators: Indicators;
  fault: Fault | null;
  time: string;
  clockOffsetMs: number;
  deviceId: string;
  init: InitProgress | null;
  network: Record<NetworkName, ServiceNetworkStatus> | null;
}

export interface DeviceInfo extends DeviceInfoConfig {
  deviceId: string;
  kcv: string;
  network: Record<NetworkName, ServiceNetworkStatus> | null;
}

const SETTINGS_TTL_MS = 10 * 60_000;

function domainMacFields(d: Omit<DomainRecord, 'mac'>) {
  return [d.initialisedAt, d.kcv, d.caCertPem, d.caKeySealed.toString('base64')];
}
function whitelistMacFields(w: Omit<ToolWhitelistRecord, 'mac'>) {
  return [w.ip, w.addedAt, w.addedBy];
}

/**
 * The device: the lifecycle of DESIGN §2 and every front-panel ceremony of manual §3. A facade:
 * cards are checked by `card-registry`, initialisation is run by `InitCeremony`, keys come from
 * `keyring/`, and everything is written through the storage port with an audit entry. Every method
 * states the device states it accepts; any other state is refused with ERR_STATE_<STATE>.
 */
export class Device {
  #state: DeviceState = { kind: 'SELF_TEST' };
  #store: Store | null = null;
  #audit: AuditLog | null = null;
  readonly clock: DeviceClock;
  readonly #tokens: CeremonyTokens;
  readonly #listeners: ServiceListener[];
  readonly #bound = new Map<NetworkName, number>();
  #lastNetwork: (NetworkSettings & { macs: Record<NetworkName, string> }) | null = null;
  #shuttingDown = false;

  constructor(private readonly opts: DeviceOptions) {
    this.clock = new DeviceClock(opts.hostNow);
    this.#tokens = new CeremonyTokens(() => this.clock.now().getTime());
    this.#listeners = opts.listeners ?? [];
  }

  get state(): StateKind {
    return this.#state.kind;
  }

  get deviceId(): string {
    return this.opts.deviceId;
  }

  /** The store, for surfaces that read it (management, crypto service). Null only before the first start. */
  get store(): Store {
    if (!this.#store) throw new CofferError('ERR_STATE_FAULT', 'The store is not open.');
    return this.#store;
  }

  get auditLog(): AuditLog {
    if (!this.#audit) throw new CofferError('ERR_STATE_FAULT', 'The store is not open.');
    return this.#audit;
  }

  /** Adds a listener (management, crypto service) before the service is started. */
  addListener(listener: ServiceListener): void {
    this.#listeners.push(listener);
  }

  // ───────────────────────────── start-up and self-tests ─────────────────────────────

  /** Power on, or Restart: self-tests, then UNINITIALISED or LOCKED, or FAULT with the manual's reason. */
  async start(): Promise<void> {
    this.#state = { kind: 'SELF_TEST' };
    const fault = await this.#selfTest();
    if (fault) {
      this.#state = { kind: 'FAULT', fault };
      this.opts.log.error({ fault }, `self-test failed: ${fault.reason} (${fault.detail})`);
      await this.#auditQuietly(
        { source: 'device', clientIp: '-' },
        'selftest',
        'failure',
        `Self-test;${fault.reason}`,
        fault.detail,
      );
      return;
    }
    const domain = await this.store.getDomain();
    this.#state = domain ? { kind: 'LOCKED' } : { kind: 'UNINITIALISED', init: this.#newInit() };
    this.opts.log.info({ state: this.#state.kind }, 'self-tests passed');
    await this.#auditQuietly(
      { source: 'device', clientIp: '-' },
      'selftest',
      'success',
      'Self-test passed',
      `state=${this.#state.kind}`,
    );
  }

  async #selfTest(): Promise<Fault | null> {
    const now = () => this.clock.now();
    if (!this.#store) {
      try {
        this.#store = await this.opts.openStore();
        this.#audit = new AuditLog(this.#store, () => this.clock.now());
      } catch (error) {
        return makeFault('DATABASE_INIT_FAILED', `The store could not be opened: ${describe(error)}`, now());
      }
    }
    try {
      const { current, expected } = await this.#store.schemaVersion();
      if (current !== expected) {
        return makeFault(
          'DATABASE_INIT_FAILED',
          `The store schema is version ${current}; this build needs ${expected}.`,
          now(),
        );
      }
      const owner = await this.#store.getMeta('deviceId');
      if (owner === null) await this.#store.setMeta('deviceId', this.opts.deviceId);
      else if (owner !== this.opts.deviceId) {
        return makeFault('DISK_REPLACED', `The store belongs to device ${owner}, not to this device.`, now());
      }
      const offset = await this.#store.getSetting('clockOffsetMs');
      this.clock.setOffset(offset ? Number(offset) : 0);
      const network = await this.#store.getSetting('network');
      this.#lastNetwork = network ? JSON.parse(network) : null;
    } catch (error) {
      return makeFault('DATABASE_INIT_FAILED', `The store could not be read: ${describe(error)}`, now());
    }
    for (const test of this.opts.selfTests) {
      try {
        await test.run();
      } catch (error) {
        return makeFault(test.fault, `${test.name}: ${describe(error)}`, now());
      }
    }
    if (this.#lastNetwork) {
      const host = this.opts.hostAddresses();
      for (const name of ['mNet0', 'aNet1'] as const) {
        const ip = this.#lastNetwork[name].ip;
        const found = host.find((h) => h.address === ip);
        if (!found) {
          return makeFault(
            'NETWORK_CARD_UNAVAILABLE',
            `${name} address ${ip} is not present on this host.`,
            now(),
          );
        }
        const recorded = this.#lastNetwork.macs[name];
        if (recorded && found.mac !== recorded) {
          return makeFault(
            'NETWORK_CARD_REPLACED',
            `${name} address ${ip} is now on MAC ${found.mac}, was ${recorded}.`,
            now(),
          );
        }
      }
    }
    return null;
  }

  #newInit(): InitCeremony {
    return new InitCeremony(this.opts.deviceId, this.opts.cardKdfIterations, this.opts.minCardKdfIterations);
  }

  // ───────────────────────────── state and status ─────────────────────────────

  #require<K extends StateKind>(...kinds: K[]): Extract<DeviceState, { kind: K }> {
    const state = this.#state;
    if ((kinds as StateKind[]).includes(state.kind)) return state as Extract<DeviceState, { kind: K }>;
    const accepted = kinds.map((k) => STATE_WORDS[k]).join(' or ');
    throw new CofferError(
      STATE_ERROR[state.kind],
      `The device is ${STATE_WORDS[state.kind]}; this needs it ${accepted}.`,
      {
        state: state.kind,
        accepted: [...kinds],
      },
    );
  }

  /**
   * The device CA (certificate and PKCS#8 key) for issuing TLS and licence certificates. The domain
   * record's MAC is checked first, so an edited CA certificate is refused, not used.
   * @throws ERR_STATE_* unless READY or SERVING; ERR_INTEGRITY; ERR_DECRYPT
   */
  async deviceCa(): Promise<{ certPem: string; keyPkcs8: Buffer }> {
    const keyring = this.keyring();
    const domain = await this.store.getDomain();
    if (!domain || !verifyMac(keyring.integrity, 'domain', domainMacFields(domain), domain.mac)) {
      throw new CofferError('ERR_INTEGRITY', 'The device CA record failed its integrity check.');
    }
    const keyPkcs8 = openRecord(keyring.kek, domain.caKeySealed, { table: 'domain', id: 'ca', version: 1 });
    return { certPem: domain.caCertPem, keyPkcs8 };
  }

  /** The keyring, for later surfaces; refused unless READY or SERVING. */
  keyring(): Keyring {
    return this.#require('READY', 'SERVING').keyring;
  }

  status(): DeviceStatus {
    const s = this.#state;
    return {
      state: s.kind,
      words: STATE_WORDS[s.kind],
      indicators: indicatorsFor(s.kind),
      fault: s.kind === 'FAULT' ? s.fault : null,
      time: this.clock.now().toISOString(),
      clockOffsetMs: this.clock.offsetMs,
      deviceId: this.opts.deviceId,
      init: s.kind === 'UNINITIALISED' ? s.init.progress() : null,
      network: this.#networkStatus(),
    };
  }

  #networkStatus(): Record<NetworkName, ServiceNetworkStatus> | null {
    const n = this.#state.kind === 'SERVING' ? this.#state.network : this.#lastNetwork;
    if (!n) return null;
    const host = this.opts.hostAddresses();
    const one = (name: NetworkName): ServiceNetworkStatus => ({
      ...n[name],
      mac: macFor(n[name].ip, host),
      boundPort: this.#state.kind === 'SERVING' ? (this.#bound.get(name) ?? n[name].port) : null,
    });
    return { mNet0: one('mNet0'), aNet1: one('aNet1') };
  }

  /** Device Info (§3.7). Accepted once initialised and booted or locked. */
  async deviceInfo(): Promise<DeviceInfo> {
    this.#require('LOCKED', 'READY', 'SERVING');
    const domain = await this.store.getDomain();
    return {
      ...this.opts.info,
      deviceId: this.opts.deviceId,
      kcv: domain?.kcv ?? '',
      network: this.#networkStatus(),
    };
  }

  // ───────────────────────────── audit helpers ─────────────────────────────

  async #auditQuietly(
    ctx: RequestContext,
    type: string,
    result: 'success' | 'failure',
    content: string,
    details = '',
  ) {
    try {
      await this.#audit?.append({
        source: ctx.source,
        account: '-',
        clientIp: ctx.clientIp,
        businessType: type,
        result,
        content,
        details,
      });
    } catch (error) {
      this.opts.log.error({ err: describe(error) }, 'audit entry could not be written');
    }
  }

  /**
   * Runs one ceremony step and records it. `fn` calls `commit(tx?)` where success becomes final —
   * inside the store transaction that makes the change, or before an in-memory state change — so
   * that if the entry cannot be written the step fails. A refusal is recorded with its code.
   */
  async #step<T>(
    ctx: RequestContext,
    meta: { type: string; content: string; account?: string },
    fn: (
      commit: (tx?: StoreTx, details?: string) => Promise<void>,
      who: (account: string) => void,
    ) => Promise<T>,
  ): Promise<T> {
    let account = meta.account ?? '-';
    let committed = false;
    const commit = async (tx?: StoreTx, details = '') => {
      await this.auditLog.append(
        {
          source: ctx.source,
          account,
          clientIp: ctx.clientIp,
          businessType: meta.type,
          result: 'success',
          content: meta.content,
          details,
        },
        tx,
      );
      committed = true;
    };
    try {
      const value = await fn(commit, (a) => {
        account = a;
      });
      if (!committed) await commit();
      return value;
    } catch (error) {
      if (!committed && this.#audit) {
        const code = isCofferError(error) ? error.code : 'ERR_INTERNAL';
        try {
          await this.#audit.append({
            source: ctx.source,
            account,
            clientIp: ctx.clientIp,
            businessType: meta.type,
            result: 'failure',
            content: meta.content,
            details: `${code}: ${isCofferError(error) ? error.message : 'internal error'}`,
          });
        } catch (auditError) {
          this.opts.log.error(
            { err: describe(auditError) },
            'audit entry for a refusal could not be written',
          );
        }
      }
      if (!isCofferError(error)) {
        this.opts.log.error({ err: describe(error) }, `${meta.content} failed`);
        throw new CofferError(
          'ERR_INTERNAL',
          'The device failed to complete this step.',
          {},
          { cause: error },
        );
      }
      throw error;
    }
  }

  async #present(
    raw: unknown,
    pin: string,
    roles: readonly CardRole[],
    keyring: Keyring | null,
  ): Promise<PresentedCard> {
    // Not in a transaction: the wrong-PIN counter must be written even though the step then fails.
    return presentCard(this.store, raw, pin, {
      deviceId: this.opts.deviceId,
      roles,
      minIterations: this.opts.minCardKdfIterations,
      keyring,
    });
  }

  // ───────────────────────────── initialisation (§3.1.1) ─────────────────────────────

  /** Time Setting, the first screen of initialisation. */
  async initSetTime(ctx: RequestContext, time: string): Promise<void> {
    const { init } = this.#require('UNINITIALISED');
    await this.#step(ctx, { type: 'init', content: 'Init;set time' }, async (commit) => {
      const when = parseTime(time);
      await this.store.transaction(async (tx) => {
        await tx.putSetting('clockOffsetMs', String(this.clock.offsetFor(when)));
        await commit(tx, `time=${when.toISOString()}`);
      });
      this.clock.setTime(when);
      init.markTimeSet();
    });
  }

  /** Init Dev-Manager(Ax) - Set Card-PIN: returns the new card file. */
  async initDeviceManagerCard(
    ctx: RequestContext,
    slot: string,
    pin: string,
    confirm: string,
  ): Promise<CardFile> {
    const { init } = this.#require('UNINITIALISED');
    return this.#step(
      ctx,
      { type: 'init', content: `Init Dev-Manager(${slot});make card`, account: `admin${slot}` },
      () => init.makeDeviceManagerCard(asSlot(slot), pin, confirm, this.clock.now()),
    );
  }

  /** Init Dev-Manager(Ax) - Set MK-Part. */
  async initMkPart(
    ctx: RequestContext,
    slot: string,
    input: { mkPart: string; mkPartConfirm: string; mkPartPin: string; mkPartPinConfirm: string },
  ): Promise<void> {
    const { init } = this.#require('UNINITIALISED');
    await this.#step(
      ctx,
      { type: 'init', content: `Init Dev-Manager(${slot});set MK part`, account: `admin${slot}` },
      () =>
        init.setMkPart(
          asSlot(slot),
          input.mkPart,
          input.mkPartConfirm,
          input.mkPartPin,
          input.mkPartPinConfirm,
        ),
    );
  }

  /** Write: present an A card again with its PIN; returns the card file with its share. */
  async initWriteCard(
    ctx: RequestContext,
    card: unknown,
    pin: string,
  ): Promise<{ slot: string; file: CardFile }> {
    const { init } = this.#require('UNINITIALISED');
    return this.#step(ctx, { type: 'init', content: 'Init Dev-Manager;write card' }, async (commit, who) => {
      const written = await init.writeDeviceManagerCard(card, pin);
      who(`admin${written.slot}`);
      await commit(undefined, `slot=${written.slot}`);
      return written;
    });
  }

  /** Sys-Manager (B, several), Safe-Manager (C1), Audit-Manager (D1) cards. */
  async initManagerCard(
    ctx: RequestContext,
    role: Exclude<CardRole, 'device-manager'>,
    pin: string,
    confirm: string,
    factor: string | null = null,
  ): Promise<CardFile> {
    const { init } = this.#require('UNINITIALISED');
    return this.#step(ctx, { type: 'init', content: `Init ${role};make card` }, async (commit, who) => {
      const file = await init.makeManagerCard(role, pin, confirm, factor, this.clock.now());
      who(file.account);
      await commit(undefined, `slot=${file.slot}`);
      return file;
    });
  }

  /** "All cards finished, please restart": commits the key domain atomically, then restarts. */
  async initFinish(ctx: RequestContext): Promise<void> {
    const { init } = this.#require('UNINITIALISED');
    await this.#step(ctx, { type: 'init', content: 'Init;finish' }, async (commit) => {
      const result = init.result();
      const now = this.clock.now().toISOString();
      const keyring = deriveKeyring(result.mk);
      try {
        const ca = await this.opts.makeCa(this.clock.now(), this.opts.deviceId);
        const domainBase = {
          initialisedAt: now,
          kcv: keyring.kcv,
          caCertPem: ca.certPem,
          caKeySealed: sealRecord(keyring.kek, ca.keyPkcs8, { table: 'domain', id: 'ca', version: 1 }),
        };
        ca.keyPkcs8.fill(0);
        await this.store.transaction(async (tx) => {
          await tx.putDomain({
            ...domainBase,
            mac: macFields(keyring.integrity, 'domain', domainMacFields(domainBase)),
          });
          for (const c of result.cards) {
            await tx.putCard(
              sealCardRecord(keyring, {
                ...c,
                status: 'active',
                replacedAt: null,
                failedAttempts: 0,
                blocked: false,
              }),
            );
          }
          for (const [i, slot] of DEVICE_MANAGER_SLOTS.entries()) {
            await tx.putShare({
              slot,
              sealed: sealRecord(keyring.kek, result.shares[i]!, { table: 'shares', id: slot, version: 1 }),
            });
          }
          for (const v of result.mkPartPinVerifiers) await tx.putMkPartPin(v);
          await commit(tx, `cards=${result.cards.map((c) => c.slot).join(',')}`);
        });
      } finally {
        init.wipe();
      }
    });
    await this.#restart(ctx);
  }

  /** Cancel on an initialisation screen: forget everything and start over at Time Setting. */
  async initCancel(ctx: RequestContext): Promise<void> {
    const s = this.#require('UNINITIALISED');
    await this.#step(ctx, { type: 'init', content: 'Init;cancel' }, async () => {
      s.init.wipe();
      this.#state = { kind: 'UNINITIALISED', init: this.#newInit() };
    });
  }

  // ───────────────────────────── Auth2Boot (§3.2) ─────────────────────────────

  /** Auth2Boot, first Device Manager card. Returns the token for the second. */
  async auth2BootFirst(
    ctx: RequestContext,
    card: unknown,
    pin: string,
  ): Promise<{ token: string; slot: string }> {
    this.#require('LOCKED');
    return this.#step(
      ctx,
      { type: 'boot', content: 'Auth2Boot;first Dev-Manager card' },
      async (commit, who) => {
        const presented = await this.#present(card, pin, ['device-manager'], null);
        who(presented.record.account);
        if (!presented.share) {
          throw new CofferError(
            'ERR_CARD_FORMAT',
            'This Device Manager card holds no share (it was never written at initialisation).',
            {
              slot: presented.record.slot,
            },
          );
        }
        await commit(undefined, `slot=${presented.record.slot}`);
        const token = this.#tokens.issue(
          {
            kind: 'auth2boot',
            account: presented.record.account,
            slot: presented.record.slot,
            cardId: presented.record.cardId,
            share: presented.share,
          },
          this.#ttl(),
        );
        return { token, slot: presented.record.slot };
      },
    );
  }

  /** Auth2Boot, second (different) Device Manager card: combines the shares and boots to READY. */
  async auth2BootSecond(ctx: RequestContext, token: string, card: unknown, pin: string): Promise<void> {
    this.#require('LOCKED');
    await this.#step(
      ctx,
      { type: 'boot', content: 'Auth2Boot;second Dev-Manager card' },
      async (commit, who) => {
        const first = this.#tokens.peek(token, 'auth2boot');
        const presented = await this.#present(card, pin, ['device-manager'], null);
        who(presented.record.account);
        if (presented.record.cardId === first.cardId || presented.record.slot === first.slot) {
          presented.share?.fill(0);
          throw new CofferError(
            'ERR_CARD_SAME',
            `Card ${first.slot} was already presented; insert another Device Manager card.`,
            {
              slot: first.slot,
            },
          );
        }
        let mk: Buffer | null = null;
        try {
          if (!first.share || !presented.share) {
            throw new CofferError(
              'ERR_CARD_FORMAT',
              'This Device Manager card holds no share (it was never written at initialisation).',
              {
                slot: first.share ? presented.record.slot : first.slot,
              },
            );
          }
          mk = await combineShares([first.share, presented.share]);
          const keyring = deriveKeyring(mk);
          await this.#checkDomain(keyring);
          this.#require('LOCKED');
          await commit(undefined, `slots=${first.slot},${presented.record.slot}`);
          this.#state = { kind: 'READY', keyring };
        } finally {
          mk?.fill(0);
          presented.share?.fill(0);
          this.#tokens.end(token);
        }
      },
    );
  }

  /**
   * After the shares combine: the key check value must match, and every security-relevant record
   * must carry a valid MAC. A store edited behind the device's back puts it in FAULT, not in service.
   */
  async #checkDomain(keyring: Keyring): Promise<void> {
    const domain = await this.store.getDomain();
    if (!domain || domain.kcv !== keyring.kcv) {
      throw new CofferError('ERR_MK_MISMATCH', 'The two cards do not give the master key of this device.');
    }
    const broken: string[] = [];
    if (!verifyMac(keyring.integrity, 'domain', domainMacFields(domain), domain.mac)) broken.push('domain');
    for (const c of await this.store.listCards())
      if (!cardRecordIntact(keyring, c)) broken.push(`card ${c.slot}`);
    for (const w of await this.store.listToolWhitelist()) {
      if (!verifyMac(keyring.integrity, 'tool_whitelist', whitelistMacFields(w), w.mac))
        broken.push(`tool whitelist ${w.ip}`);
    }
    if (broken.length > 0) {
      const fault = makeFault(
        'OTHER',
        `Stored records failed their integrity check: ${broken.join(', ')}.`,
        this.clock.now(),
      );
      this.#state = { kind: 'FAULT', fault };
      this.opts.log.error({ fault }, 'store integrity check failed at boot');
      throw new CofferError('ERR_INTEGRITY', fault.detail, { records: broken });
    }
  }

  // ───────────────────────────── ReInit (§3.1.2) ─────────────────────────────

  async #presentWithMkPartPin(card: unknown, pin: string, mkPartPin: string): Promise<PresentedCard> {
    const presented = await this.#present(card, pin, ['device-manager'], null);
    const verifier = (await this.store.listMkPartPins()).find((v) => v.slot === presented.record.slot);
    if (!verifier || !(await checkPinVerifier(String(mkPartPin).toUpperCase(), verifier.verifier))) {
      presented.share?.fill(0);
      throw new CofferError(
        'ERR_MK_PART_PIN_WRONG',
        `The MK-Part-PIN of ${presented.record.slot} is wrong.`,
        {
          field: 'mkPartPin',
          slot: presented.record.slot,
        },
      );
    }
    return presented;
  }

  /** ReInit - Auth any Dev-Manager: card PIN and MK-Part-PIN. */
  async reinitFirst(
    ctx: RequestContext,
    card: unknown,
    pin: string,
    mkPartPin: string,
  ): Promise<{ token: string; slot: string }> {
    this.#require('LOCKED');
    return this.#step(ctx, { type: 'reinit', content: 'ReInit;first Dev-Manager' }, async (commit, who) => {
      const p = await this.#presentWithMkPartPin(card, pin, mkPartPin);
      p.share?.fill(0);
      who(p.record.account);
      await commit(undefined, `slot=${p.record.slot}`);
      const token = this.#tokens.issue(
        {
          kind: 'reinit',
          account: p.record.account,
          slot: p.record.slot,
          cardId: p.record.cardId,
          share: null,
        },
        this.#ttl(),
      );
      return { token, slot: p.record.slot };
    });
  }

  /** ReInit - Auth another Dev-Manager, then InitAgain: wipes the key domain, back to Time Setting. */
  async reinitSecond(
    ctx: RequestContext,
    token: string,
    card: unknown,
    pin: string,
    mkPartPin: string,
  ): Promise<void> {
    this.#require('LOCKED');
    await this.#step(
      ctx,
      { type: 'reinit', content: 'ReInit;second Dev-Manager and wipe' },
      async (commit, who) => {
        const first = this.#tokens.peek(token, 'reinit');
        const p = await this.#presentWithMkPartPin(card, pin, mkPartPin);
        p.share?.fill(0);
        who(p.record.account);
        if (p.record.cardId === first.cardId || p.record.slot === first.slot) {
          throw new CofferError(
            'ERR_CARD_SAME',
            `Card ${first.slot} was already presented; insert another Device Manager card.`,
            {
              slot: first.slot,
            },
          );
        }
        this.#tokens.end(token);
        await this.store.transaction(async (tx) => {
          await tx.wipeDomain();
          await commit(tx, `slots=${first.slot},${p.record.slot}`);
        });
        await this.store.compact();
        this.#lastNetwork = null;
        this.clock.setOffset(0);
        this.#tokens.clear();
        this.#state = { kind: 'UNINITIALISED', init: this.#newInit() };
      },
    );
  }

  // ───────────────────────────── Cards ReMake (§3.3) and Modify Card-PIN (§3.4) ─────────────────────────────

  /** ReMake Dev-Manager(A): the MK-Part-PIN of the card to remake (slot optional; found by the PIN). */
  async remakeDeviceManagerVerify(
    ctx: RequestContext,
    mkPartPin: string,
    slot?: string,
  ): Promise<{ token: string; slot: string }> {
    this.#require('READY');
    return this.#step(
      ctx,
      { type: 'remake', content: 'ReMake Dev-Manager;verify MK-Part-PIN' },
      async (commit, who) => {
        const verifiers = await this.store.listMkPartPins();
        const candidates = slot ? verifiers.filter((v) => v.slot === asSlot(slot)) : verifiers;
        const matches: string[] = [];
        for (const v of candidates)
          if (await checkPinVerifier(String(mkPartPin).toUpperCase(), v.verifier)) matches.push(v.slot);
        if (matches.length === 0) {
          throw new CofferError('ERR_MK_PART_PIN_WRONG', 'The MK-Part-PIN matches no Device Manager card.', {
            field: 'mkPartPin',
          });
        }
        if (matches.length > 1) {
          throw new CofferError(
            'ERR_BAD_REQUEST',
            `The MK-Part-PIN matches ${matches.join(' and ')}; choose the slot to remake.`,
            {
              field: 'slot',
            },
          );
        }
        const found = matches[0]!;
        who(`admin${found}`);
        await commit(undefined, `slot=${found}`);
        return {
          token: this.#tokens.issue(
            { kind: 'remake-device-manager', account: `admin${found}`, slot: found, cardId: '', share: null },
            this.#ttl(),
          ),
          slot: found,
        };
      },
    );
  }

  /** ReMake Dev-Manager(A) - new card: carries the slot's share; the old card stops working. */
  async remakeDeviceManagerCard(
    ctx: RequestContext,
    token: string,
    pin: string,
    confirm: string,
  ): Promise<CardFile> {
    const { keyring } = this.#require('READY');
    return this.#step(
      ctx,
      { type: 'remake', content: 'ReMake Dev-Manager;new card' },
      async (commit, who) => {
        const hold = this.#tokens.peek(token, 'remake-device-manager');
        who(hold.account);
        checkCardPin(pin, confirm);
        const shareRecord = (await this.store.listShares()).find((s) => s.slot === hold.slot);
        if (!shareRecord)
          throw new CofferError('ERR_INTEGRITY', `The share of ${hold.slot} is missing from the store.`);
        const share = openRecord(keyring.kek, shareRecord.sealed, {
          table: 'shares',
          id: hold.slot,
          version: 1,
        });
        try {
          const file = await this.#replaceCard(keyring, hold.slot, 'device-manager', pin, share, commit);
          this.#tokens.end(token);
          return file;
        } finally {
          share.fill(0);
        }
      },
    );
  }

  /** ReMake Safe-Manager(C) / Audit-Manager(D). System Manager cards cannot be remade (manual §3.3). */
  async remakeManagerCard(
    ctx: RequestContext,
    role: CardRole,
    pin: string,
    confirm: string,
  ): Promise<CardFile> {
    const { keyring } = this.#require('READY');
    return this.#step(ctx, { type: 'remake', content: `ReMake ${role}` }, async (commit, who) => {
      if (role === 'system-manager') {
        throw new CofferError(
          'ERR_REMAKE_SYSTEM_MANAGER',
          'System Manager authentication card cannot be remade.',
        );
      }
      if (role === 'device-manager') {
        throw new CofferError(
          'ERR_BAD_REQUEST',
          'A Device Manager card is remade after its MK-Part-PIN is verified.',
        );
      }
      const slot = role === 'safe-manager' ? 'C1' : 'D1';
      who(`admin${slot}`);
      checkCardPin(pin, confirm);
      return this.#replaceCard(keyring, slot, role, pin, null, commit);
    });
  }

  /** Makes a new card for `slot` and marks the active one replaced, in one transaction. */
  async #replaceCard(
    keyring: Keyring,
    slot: string,
    role: CardRole,
    pin: string,
    share: Buffer | null,
    commit: (tx?: StoreTx, details?: string) => Promise<void>,
    old?: CardRecord,
  ): Promise<CardFile> {
    const now = this.clock.now().toISOString();
    const { file } = await makeCard({
      deviceId: this.opts.deviceId,
      slot,
      role,
      account: `admin${slot}`,
      pin,
      share,
      iterations: this.opts.cardKdfIterations,
      createdAt: now,
    });
    await this.store.transaction(async (tx) => {
      const previous = old
        ? [old]
        : (await tx.listCards()).filter((c) => c.slot === slot && c.status === 'active');
      for (const c of previous) {
        await tx.putCard(sealCardRecord(keyring, { ...c, status: 'replaced', replacedAt: now }));
      }
      await tx.putCard(
        sealCardRecord(keyring, {
          cardId: file.cardId,
          slot,
          role,
          account: `admin${slot}`,
          publicKey: Buffer.from(file.publicKey, 'base64'),
          status: 'active',
          factor: previous[0]?.factor ?? null,
          createdAt: now,
          replacedAt: null,
          failedAttempts: 0,
          blocked: false,
        }),
      );
      await commit(tx, `slot=${slot};new card=${file.cardId}`);
    });
    return file;
  }

  /** Modify Card-PIN: the card is re-sealed under a new key pair, so the old file stops working. */
  async modifyPin(
    ctx: RequestContext,
    card: unknown,
    oldPin: string,
    newPin: string,
    confirm: string,
  ): Promise<CardFile> {
    const { keyring } = this.#require('READY');
    return this.#step(ctx, { type: 'update', content: 'Modify Card-PIN' }, async (commit, who) => {
      checkCardPin(newPin, confirm);
      const p = await this.#present(
        card,
        oldPin,
        ['device-manager', 'system-manager', 'safe-manager', 'audit-manager'],
        keyring,
      );
      who(p.record.account);
      try {
        return await this.#replaceCard(
          keyring,
          p.record.slot,
          p.record.role,
          newPin,
          p.share,
          commit,
          p.record,
        );
      } finally {
        p.share?.fill(0);
      }
    });
  }

  // ───────────────────────────── Start/Stop Service (§3.5) ─────────────────────────────

  /** Start Service - Authentication: a System Manager card. */
  async startServiceAuth(ctx: RequestContext, card: unknown, pin: string): Promise<{ token: string }> {
    const { keyring } = this.#require('READY');
    return this.#step(ctx, { type: 'start', content: 'Start Service;authenticate' }, async (commit, who) => {
      const p = await this.#present(card, pin, ['system-manager'], keyring);
      p.share?.fill(0);
      who(p.record.account);
      await commit(undefined, `slot=${p.record.slot}`);
      return {
        token: this.#tokens.issue(
          {
            kind: 'start-service',
            account: p.record.account,
            slot: p.record.slot,
            cardId: p.record.cardId,
            share: null,
          },
          this.#ttl(),
        ),
      };
    });
  }

  /** Start Service - Setting: validates M-Net0/A-Net1, starts the listeners, SERVING (green). */
  async startService(ctx: RequestContext, token: string, settings: NetworkSettings): Promise<DeviceStatus> {
    const { keyring } = this.#require('READY');
    await this.#step(ctx, { type: 'start', content: 'Start Service' }, async (commit, who) => {
      const hold = this.#tokens.peek(token, 'start-service');
      who(hold.account);
      const host = this.opts.hostAddresses();
      const network = validateNetworkSettings(settings, host);
      const started: ServiceListener[] = [];
      try {
        for (const l of this.#listeners) {
          const { port } = await l.start({ ip: network[l.network].ip, port: network[l.network].port }, this);
          this.#bound.set(l.network, port);
          started.push(l);
        }
        const record = {
          ...network,
          macs: { mNet0: macFor(network.mNet0.ip, host), aNet1: macFor(network.aNet1.ip, host) },
        };
        await this.store.transaction(async (tx) => {
          await tx.putSetting('network', JSON.stringify(record));
          await commit(tx, describeNetwork(network));
        });
        this.#lastNetwork = record;
      } catch (error) {
        for (const l of started.reverse()) await l.stop().catch(() => undefined);
        this.#bound.clear();
        throw error;
      }
      this.#tokens.end(token);
      this.#state = { kind: 'SERVING', keyring, network };
    });
    return this.status();
  }

  /** Stop Service: a System Manager card; listeners close, back to READY. */
  async stopService(ctx: RequestContext, card: unknown, pin: string): Promise<void> {
    const { keyring } = this.#require('SERVING');
    await this.#step(ctx, { type: 'stop', content: 'Stop Service' }, async (commit, who) => {
      const p = await this.#present(card, pin, ['system-manager'], keyring);
      who(p.record.account);
      await commit(undefined, `slot=${p.record.slot}`);
      await this.#stopListeners();
      this.#state = { kind: 'READY', keyring };
    });
  }

  async #stopListeners(): Promise<void> {
    for (const l of [...this.#listeners].reverse()) {
      try {
        await l.stop();
      } catch (error) {
        this.opts.log.error({ listener: l.name, err: describe(error) }, 'listener did not stop cleanly');
      }
    }
    this.#bound.clear();
  }

  // ───────────────────────────── Setting (§3.6) ─────────────────────────────

  /** Setting - Authentication: a System Manager card opens a settings session (10 minutes idle). */
  async settingsAuth(ctx: RequestContext, card: unknown, pin: string): Promise<{ token: string }> {
    const { keyring } = this.#require('READY', 'SERVING');
    return this.#step(ctx, { type: 'login', content: 'Setting;authenticate' }, async (commit, who) => {
      const p = await this.#present(card, pin, ['system-manager'], keyring);
      who(p.record.account);
      await commit(undefined, `slot=${p.record.slot}`);
      return {
        token: this.#tokens.issue(
          {
            kind: 'settings',
            account: p.record.account,
            slot: p.record.slot,
            cardId: p.record.cardId,
            share: null,
          },
          SETTINGS_TTL_MS,
        ),
      };
    });
  }

  #settings(token: string): { account: string; keyring: Keyring } {
    const { keyring } = this.#require('READY', 'SERVING');
    const hold = this.#tokens.peek(token, 'settings');
    this.#tokens.touch(token, SETTINGS_TTL_MS);
    return { account: hold.account, keyring };
  }

  /** Checks a settings session without doing anything (e.g. before answering a shutdown). */
  async authoriseSettings(token: string): Promise<void> {
    this.#settings(token);
  }

  /** Tool IP White list: the addresses allowed to reach the management port. */
  async listToolWhitelist(token: string): Promise<{ ip: string; addedAt: string; addedBy: string }[]> {
    this.#settings(token);
    return (await this.store.listToolWhitelist()).map(({ ip, addedAt, addedBy }) => ({
      ip,
      addedAt,
      addedBy,
    }));
  }

  async addToolWhitelist(ctx: RequestContext, token: string, ip: string): Promise<void> {
    const { account, keyring } = this.#settings(token);
    await this.#step(
      ctx,
      { type: 'add', content: `Tool IP white list;add ${String(ip)}`, account },
      async (commit) => {
        const address = checkIp(ip);
        const base = { ip: address, addedAt: this.clock.now().toISOString(), addedBy: account };
        await this.store.transaction(async (tx) => {
          if ((await tx.listToolWhitelist()).some((w) => w.ip === address)) {
            throw new CofferError('ERR_CONFLICT', `${address} is already on the tool white list.`, {
              field: 'ip',
            });
          }
          await tx.addToolWhitelist({
            ...base,
            mac: macFields(keyring.integrity, 'tool_whitelist', whitelistMacFields(base)),
          });
          await commit(tx);
        });
      },
    );
  }

  async deleteToolWhitelist(ctx: RequestContext, token: string, ips: string[]): Promise<number> {
    const { account } = this.#settings(token);
    const list = Array.isArray(ips) ? ips : [];
    return this.#step(
      ctx,
      { type: 'delete', content: `Tool IP white list;delete ${list.join(',')}`, account },
      async (commit) => {
        if (list.length === 0)
          throw new CofferError('ERR_BAD_REQUEST', 'Select one or more IP addresses to delete.', {
            field: 'ips',
          });
        const addresses = list.map(checkIp);
        return this.store.transaction(async (tx) => {
          const present = new Set((await tx.listToolWhitelist()).map((w) => w.ip));
          const missing = addresses.filter((a) => !present.has(a));
          if (missing.length > 0) {
            throw new CofferError('ERR_NOT_FOUND', `Not on the tool white list: ${missing.join(', ')}.`, {
              field: 'ips',
            });
          }
          const removed = await tx.deleteToolWhitelist(addresses);
          await commit(tx);
          return removed;
        });
      },
    );
  }

  /** Whether a management client may connect (checked by the management listener). */
  async isToolWhitelisted(ip: string): Promise<boolean> {
    const keyring = this.keyring();
    const entry = (await this.store.listToolWhitelist()).find((w) => w.ip === normaliseIp(ip));
    return !!entry && verifyMac(keyring.integrity, 'tool_whitelist', whitelistMacFields(entry), entry.mac);
  }

  /** System Time: sets the device clock (an offset; the host clock is untouched). */
  async setTime(ctx: RequestContext, token: string, time: string): Promise<void> {
    const { account } = this.#settings(token);
    await this.#step(ctx, { type: 'update', content: 'System Time', account }, async (commit) => {
      const when = parseTime(time);
      await this.store.transaction(async (tx) => {
        await tx.putSetting('clockOffsetMs', String(this.clock.offsetFor(when)));
        await commit(tx, `time=${when.toISOString()}`);
      });
      this.clock.setTime(when);
    });
  }

  /** Power: ShutDown. Stops the service and ends the process (through `onShutdown`). */
  async shutdown(ctx: RequestContext, token: string): Promise<void> {
    const { account } = this.#settings(token);
    await this.#step(ctx, { type: 'power', content: 'ShutDown', account }, async () => undefined);
    await this.close();
    this.opts.onShutdown?.();
  }

  /** Power: Restart. Back to self-tests and LOCKED; the master key is forgotten. */
  async restart(ctx: RequestContext, token: string): Promise<void> {
    const { account } = this.#settings(token);
    await this.#step(ctx, { type: 'power', content: 'Restart', account }, async () => undefined);
    await this.#restart(ctx);
  }

  async #restart(_ctx: RequestContext): Promise<void> {
    await this.#stopListeners();
    this.#tokens.clear();
    if (this.#state.kind === 'UNINITIALISED') this.#state.init.wipe();
    this.#state = { kind: 'SELF_TEST' };
    await this.start();
  }

  /** Ends a pending ceremony (Cancel on its screen) and wipes what it held. */
  cancelCeremony(token: string): void {
    this.#tokens.end(token);
  }

  /** Verifies the whole audit chain. */
  async verifyAudit(): Promise<VerifyResult> {
    return this.auditLog.verify();
  }

  /** Stops listeners, forgets keys and closes the store (process exit). */
  async close(): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    await this.#stopListeners();
    this.#tokens.clear();
    if (this.#state.kind === 'UNINITIALISED') this.#state.init.wipe();
    this.#state = { kind: 'SELF_TEST' };
    await this.#store?.close();
    this.#store = null;
  }

  #ttl(): number {
    return this.opts.ceremonyTtlMs ?? 5 * 60_000;
  }
}

function describe(error: unknown): string {
  if (isCofferError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function asSlot(slot: string): DeviceManagerSlot {
  const s = String(slot).toUpperCase();
  if (!(DEVICE_MANAGER_SLOTS as readonly string[]).includes(s)) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `'${String(slot)}' is not a Device Manager slot (A1, A2 or A3).`,
      { field: 'slot' },
    );
  }
  return s as DeviceManagerSlot;
}

/** @throws ERR_TIME_FORMAT */
export function parseTime(time: string): Date {
  const text = String(time ?? '').trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
    text,
  );
  const when = m ? new Date(m[7] ? text.replace(' ', 'T') : `${text.replace(' ', 'T')}Z`) : null;
  if (!when || Number.isNaN(when.getTime()) || when.getUTCFullYear() < 2000 || when.getUTCFullYear() > 2199) {
    throw new CofferError(
      'ERR_TIME_FORMAT',
      `'${text}' is not a date and time like 2026-12-04 15:30:00 (UTC unless a zone is given).`,
      {
        field: 'time',
      },
    );
  }
  return when;
}

function normaliseIp(ip: string): string {
  return String(ip).replace(/^::ffff:/, '');
}

function checkIp(ip: string): string {
  const address = normaliseIp(String(ip ?? '').trim());
  if (!isIpv4(address)) {
    throw new CofferError('ERR_IP_FORMAT', `'${String(ip)}' is not an IPv4 address like 192.168.25.81.`, {
      field: 'ip',
    });
  }
  return address;
}

function describeNetwork(n: NetworkSettings): string {
  const one = (p: NetworkPort) => `${p.ip}:${p.port} mask ${p.mask}${p.gateway ? ` gw ${p.gateway}` : ''}`;
  return `M-Net0 ${one(n.mNet0)};A-Net1 ${one(n.aNet1)}`;
}

export type { CeremonyKind };
