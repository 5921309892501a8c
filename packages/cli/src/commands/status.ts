import type { DeviceStatus } from '@coffer/core';
import type { Command } from 'commander';
import { panelClient } from '../locate.js';
import type { Printer } from '../output.js';

const LED = (on: boolean, name: string) => `${on ? '●' : '○'} ${name}`;

/** Prints the state, the indicators and, on a fault, the manual's reason and buzzer pattern. */
export function formatStatus(s: DeviceStatus): string {
  const lines = [
    `state:      ${s.state} (${s.words})`,
    `indicators: ${LED(s.indicators.power, 'power (red)')}  ${LED(s.indicators.error, 'error (yellow)')}  ${LED(s.indicators.waiting, 'waiting for initialisation (blue)')}  ${LED(s.indicators.working, 'working (green)')}`,
    `time:       ${s.time}`,
    `device:     ${s.deviceId}`,
  ];
  if (s.fault) {
    lines.push(`fault:      ${s.fault.reason} — buzzer ${s.fault.buzzer}`, `            ${s.fault.detail}`);
  }
  if (s.init) lines.push(`init:       next step ${s.init.next}`);
  if (s.network) {
    for (const [name, n] of Object.entries(s.network)) {
      lines.push(
        `${name.padEnd(11)} ${n.ip}:${n.boundPort ?? n.port} mask ${n.mask}${n.gateway ? ` gateway ${n.gateway}` : ''} mac ${n.mac}`,
      );
    }
  }
  return lines.join('\n');
}

export function registerStatus(program: Command, print: Printer): void {
  program
    .command('status')
    .description('state, indicators and fault reason of the device that owns DIR')
    .option('--data <dir>', 'data directory of the device', './data')
    .option('--panel <url>', 'front-panel URL instead of --data')
    .option('--json', 'machine-readable output')
    .action(async (o: { data: string; panel?: string; json?: boolean }) => {
      let status: DeviceStatus;
      try {
        status = await panelClient(o).get<DeviceStatus>('/api/status');
      } catch (error) {
        const message = (error as Error).message;
        if (o.json || print.json)
          process.stdout.write(`${JSON.stringify({ state: 'OFF', reason: message })}\n`);
        else process.stdout.write(`state:      OFF (${message})\n`);
        process.exitCode = 3;
        return;
      }
      if (o.json || print.json) process.stdout.write(`${JSON.stringify(status)}\n`);
      else process.stdout.write(`${formatStatus(status)}\n`);
      if (status.state === 'FAULT') process.exitCode = 2;
    });
}
