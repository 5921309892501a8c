import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CARD_KDF_ITERATIONS,
  Device,
  type DeviceInfoConfig,
  knownAnswerTests,
  rngHealthTest,
  type SelfTestCheck,
  type ServiceListener,
} from '@coffer/core';
import { panelFileDirs } from '@coffer/web';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ManagementListener, type ManagementListenerOptions } from '../management/management-listener.js';
import { buildPanelApp } from '../panel/panel-app.js';
import { servePanelFiles } from '../panel/panel-files.js';
import { ServiceEvents } from '../service/service-events.js';
import { CryptoServiceListener, type CryptoServiceListenerOptions } from '../service/service-listener.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { makeDeviceCa } from './device-ca.js';
import { loadOrCreateIdentity } from './device-identity.js';
import { hostAddresses } from './host-network.js';
import { checkProgramIntegrity } from './program-integrity.js';
import { openRunningLogFiles } from './running-log.js';
import { parseRunningLogSettings, type RunningLogFiles } from './running-log-files.js';

/** The installed program's root (where manifest.json lies): three levels above this file's dist/. */
export const PROGRAM_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface DaemonOptions {
  dataDir: string;
  panelHost?: string;
  /** 7010 by default; 0 picks a free port. */
  panelPort?: number;
  /** Where manifest.json and the program files are (the integrity self-test). */
  programRoot?: string;
  /** Extra self-tests, appended after the built-in ones (tests inject failing ones). */
  extraSelfTests?: SelfTestCheck[];
  /** Listeners started with the service after the management listener (the crypto service). */
  listeners?: ServiceListener[];
  /**
   * The management service on M-Net0 (started with the service): its options, or `false` for a
   * device without it. On by default.
   */
  management?: Omit<ManagementListenerOptions, 'log' | 'runningLog' | 'onListening' | 'onStopped'> | false;
  /** The crypto service on A-Net1 (started with the service): its options, or `false` for none. On by default. */
  crypto?: Omit<CryptoServiceListenerOptions, 'log' | 'events'> | false;
  /** Routes added to the front panel; by default the browser panel's files (`@coffer/web`) at `/`. Pass [] for none. */
  panelPlugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  onShutdown?: () => void;
}

export interface Daemon {
  device: Device;
  panel: FastifyInstance;
  panelUrl: string;
  log: Logger;
  /** The running log's files and parameters (rotation, retention, level). */
  runningLog: RunningLogFiles;
  /** The management listener (null when disabled); its `url` is set while the service runs. */
  management: ManagementListener | null;
  /** The crypto service listener (null when disabled); its `address` is set while the service runs. */
  crypto: CryptoServiceListener | null;
  /** Change notices from management to the crypto service (operators, licences, whitelist, keys). */
  serviceEvents: ServiceEvents;
  /** Where the device CA certificate is written once the management service has started (DIR/ca.pem). */
  caFile: string;
  close(): Promise<void>;
}

/** The test-only switch that lets cards use a cheap PBKDF2 (never set it in production). */
export function insecureTestKdf(): boolean {
  return process.env['COFFER_INSECURE_TEST_KDF'] === '1';
}

function readDeviceConfig(dataDir: string, programRoot: string): DeviceInfoConfig {
  const defaults: DeviceInfoConfig = {
    manufacturer: 'Coffer Project',
    deviceName: 'Coffer Software HSM',
    model: 'Coffer HSM 1',
    softwareVersion: readVersion(programRoot),
  };
  const path = join(dataDir, 'coffer.json');
  if (!existsSync(path)) return defaults;
  const config = JSON.parse(readFileSync(path, 'utf8')) as Partial<DeviceInfoConfig>;
  return {
    manufacturer: typeof config.manufacturer === 'string' ? config.manufacturer : defaults.manufacturer,
    deviceName: typeof config.deviceName === 'string' ? config.deviceName : defaults.deviceName,
    model: typeof config.model === 'string' ? config.model : defaults.model,
    softwareVersion: defaults.softwareVersion,
  };
}

function readVersion(programRoot: string): string {
  try {
    return JSON.parse(readFileSync(join(programRoot, 'package.json'), 'utf8')).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * Starts a device in `dataDir`: identity, running log, self-tests, store, and the front panel on
 * loopback. Wiring only; the behaviour is in `@coffer/core`'s Device.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const programRoot = options.programRoot ?? PROGRAM_ROOT;
  const { log, files: runningLog } = openRunningLogFiles(dataDir);
  const identity = loadOrCreateIdentity(dataDir);
  const weak = insecureTestKdf();
  if (weak) log.warn({}, 'COFFER_INSECURE_TEST_KDF=1: cards use a weak PBKDF2 count; for tests only');
  const selfTests: SelfTestCheck[] = [
    { name: 'program integrity', fault: 'SOFTWARE_TAMPERED', run: () => checkProgramIntegrity(programRoot) },
    ...knownAnswerTests().map((t) => ({
      name: `known-answer test ${t.name}`,
      fault: 'ARITHMETIC_CHIP_REPLACED' as const,
      run: t.run,
    })),
    { name: 'random generator health', fault: 'ARITHMETIC_CHIP_REPLACED', run: rngHealthTest().run },
    ...(options.extraSelfTests ?? []),
  ];
  const runFile = join(dataDir, 'run.json');
  const caFile = join(dataDir, 'ca.pem');
  const run: { pid: number; panel: string; management?: string; ca?: string } = {
    pid: process.pid,
    panel: '',
  };
  const writeRun = () => writeFileSync(runFile, `${JSON.stringify(run, null, 2)}\n`, { mode: 0o600 });
  // Management tells the crypto service what it changed (operators, licences, whitelist, keys).
  const serviceEvents = new ServiceEvents();
  const management =
    options.management === false
      ? null
      : new ManagementListener({
          ...options.management,
          log,
          runningLog,
          onListening: ({ url, caCertPem }) => {
            // The CA certificate is public: clients pin it (`coffer admin --ca DIR/ca.pem`).
            writeFileSync(caFile, caCertPem, { mode: 0o644 });
            run.management = url;
            run.ca = caFile;
            if (run.panel) writeRun();
          },
          onStopped: () => {
            delete run.management;
            if (run.panel) writeRun();
          },
        });
  const crypto =
    options.crypto === false
      ? null
      : new CryptoServiceListener({ ...options.crypto, log, events: serviceEvents });
  const device = new Device({
    deviceId: identity.deviceId,
    openStore: () => openSqliteStore(join(dataDir, 'coffer.sqlite')),
    info: readDeviceConfig(dataDir, programRoot),
    selfTests,
    hostAddresses,
    cardKdfIterations: weak ? 1_000 : CARD_KDF_ITERATIONS,
    minCardKdfIterations: weak ? 1_000 : CARD_KDF_ITERATIONS,
    log,
    makeCa: makeDeviceCa,
    listeners: [
      ...(management ? [management] : []),
      ...(crypto ? [crypto] : []),
      ...(options.listeners ?? []),
    ],
    onShutdown: options.onShutdown,
  });
  runningLog.useClock(() => device.clock.now());
  await device.start();
  if (device.state !== 'FAULT') {
    try {
      runningLog.apply(parseRunningLogSettings(await device.store.getSetting('runningLog')));
    } catch (error) {
      log.error({ err: String(error) }, 'running log parameters could not be read; defaults apply');
    }
  }
  runningLog.startSweeping();

  const panel = await buildPanelApp({
    device,
    plugins: options.panelPlugins ?? [servePanelFiles(panelFileDirs())],
  });
  const host = options.panelHost ?? '127.0.0.1';
  await panel.listen({ host, port: options.panelPort ?? 7010 });
  const address = panel.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.panelPort ?? 7010);
  const panelUrl = `http://${host}:${port}/`;
  log.info({ panelUrl, state: device.state }, 'front panel listening');
  // run.json lets `coffer status --data DIR` and `coffer panel --data DIR` find this device.
  run.panel = panelUrl;
  writeRun();

  return {
    device,
    panel,
    panelUrl,
    log,
    runningLog,
    management,
    crypto,
    serviceEvents,
    caFile,
    async close() {
      await panel.close();
      await device.close();
      rmSync(runFile, { force: true });
      runningLog.close();
    },
  };
}
