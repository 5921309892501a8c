import type { Fault } from '../api.js';
import { h, showTime } from '../dom.js';
import type { Flash, Panel } from '../panel.js';
import { auth2BootFirst, initAgainWarning } from './boot.js';
import { modifyPin, remakeMenu } from './cards.js';
import { deviceInfo } from './device-info.js';
import { initHome } from './init.js';
import { startServiceAuth, stopService } from './service.js';
import { settingsAuth } from './settings.js';

/** The first screen of each device state (manual §3: what the touch screen shows after start-up). */
export function homeFor(panel: Panel, flash?: Flash): void {
  const status = panel.status;
  if (!status) {
    unreachable(panel);
    return;
  }
  switch (status.state) {
    case 'SELF_TEST':
      selfTest(panel);
      break;
    case 'FAULT':
      faultScreen(panel, status.fault);
      break;
    case 'UNINITIALISED':
      initHome(panel, flash);
      break;
    case 'LOCKED':
      lockedHome(panel, flash);
      break;
    case 'READY':
      readyHome(panel, flash);
      break;
    case 'SERVING':
      servingHome(panel, flash);
      break;
  }
}

function withFlash(s: { flash(text: string, kind: 'ok' | 'error'): void }, flash?: Flash): void {
  if (flash) s.flash(flash.text, flash.kind);
}

/** §3.1.2 and §3.2: an initialised device starts locked, with Auth2Boot and InitAgain. */
function lockedHome(panel: Panel, flash?: Flash): void {
  const s = panel.open({ id: 'locked-home', title: 'Auth2Boot / InitAgain', states: ['LOCKED'] });
  s.note('The device is initialised and locked. Two of the three Device Managers boot it with their cards.');
  s.menu([
    { id: 'menu-auth2boot', label: 'Auth2Boot', run: () => auth2BootFirst(panel) },
    { id: 'menu-initagain', label: 'InitAgain', run: () => initAgainWarning(panel) },
  ]);
  withFlash(s, flash);
}

/** §3.2–3.7: booted, the service stopped. */
function readyHome(panel: Panel, flash?: Flash): void {
  const s = panel.open({ id: 'ready-home', title: 'Ready', states: ['READY'] });
  s.note('The device is booted; the crypto service is stopped.');
  s.menu([
    { id: 'menu-start-service', label: 'Start Service', run: () => startServiceAuth(panel) },
    { id: 'menu-remake', label: 'Cards ReMake', run: () => remakeMenu(panel) },
    { id: 'menu-modify-pin', label: 'Modify Card-PIN', run: () => modifyPin(panel) },
    { id: 'menu-setting', label: 'Setting', run: () => settingsAuth(panel) },
    { id: 'menu-device-info', label: 'Device Info', run: () => deviceInfo(panel) },
  ]);
  withFlash(s, flash);
}

/** §3.5–3.7: once the service has started, Stop Service, Setting and Device Info. */
function servingHome(panel: Panel, flash?: Flash): void {
  const s = panel.open({ id: 'serving-home', title: 'Working', states: ['SERVING'] });
  s.note('The crypto service is running (green light).');
  s.menu([
    { id: 'menu-stop-service', label: 'Stop Service', run: () => stopService(panel) },
    { id: 'menu-setting', label: 'Setting', run: () => settingsAuth(panel) },
    { id: 'menu-device-info', label: 'Device Info', run: () => deviceInfo(panel) },
  ]);
  withFlash(s, flash);
}

function selfTest(panel: Panel): void {
  const s = panel.open({ id: 'self-test', title: 'Self-test', states: ['SELF_TEST'] });
  s.note('The device is running its self-tests…');
}

/** §2 and §6: a failed self-test shows the reason, and the buzzer sounds the reason's pattern. */
function faultScreen(panel: Panel, fault: Fault | null): void {
  const s = panel.open({ id: 'fault', title: 'Self-test failed', states: ['FAULT'] });
  s.add(
    h('p', { class: 'fault-reason', id: 'fault-reason' }, fault?.reason ?? 'Unknown reason'),
    h(
      'dl',
      { class: 'info fault-info' },
      h('dt', {}, 'Buzzer'),
      h('dd', { id: 'fault-buzzer' }, fault?.buzzer ?? '—'),
      h('dt', {}, 'What failed'),
      h('dd', { id: 'fault-detail' }, fault?.detail ?? '—'),
      h('dt', {}, 'Since'),
      h('dd', {}, fault ? showTime(fault.at) : '—'),
      h('dt', {}, 'Fault code'),
      h('dd', {}, fault?.code ?? '—'),
    ),
  );
  s.note('The device stays in this state. Find and fix the cause, then start the device again.', 'warning');
  const mute = s.action(
    panel.buzzer.muted ? 'Unmute buzzer' : 'Mute buzzer',
    () => {
      panel.buzzer.setMuted(!panel.buzzer.muted);
      mute.textContent = panel.buzzer.muted ? 'Unmute buzzer' : 'Mute buzzer';
    },
    { id: 'fault-mute' },
  );
}

export function unreachable(panel: Panel): void {
  const s = panel.open({ id: 'unreachable', title: 'No answer', states: [] });
  s.note(
    'The device does not answer: it is shut down or its process has ended. Start it again (coffer start); this page reconnects by itself.',
    'warning',
  );
}

/** After Power → ShutDown. */
export function shutDown(panel: Panel): void {
  const s = panel.open({ id: 'shut-down', title: 'ShutDown', states: [] });
  s.note('The device is shutting down. Start it again at the machine (coffer start).', 'done');
}
