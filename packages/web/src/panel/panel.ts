import { api, DeviceError, type DeviceStatus, type NewCard } from './api.js';
import { CardSlot } from './card-slot.js';
import { h, showTime } from './dom.js';
import { Buzzer, IndicatorLights } from './indicators.js';
import { Keypad } from './keypad.js';
import { LocalRefusal, Screen, type ScreenSpec } from './screen.js';

export interface Flash {
  text: string;
  kind: 'ok' | 'error';
}

/** Opens the screen the device's state calls for (the "home" of that state). */
export type HomeRoute = (panel: Panel, flash?: Flash) => void;

const POLL_MS = 1000;

/** Refusals after which the ceremony on screen cannot go on: back to the state's first screen. */
const START_OVER = new Set([
  'ERR_CEREMONY_EXPIRED',
  'ERR_CEREMONY_UNKNOWN',
  'ERR_CEREMONY_ORDER',
  'ERR_INIT_INCOMPLETE',
]);

/**
 * The device as the page draws it: the bezel with its LEDs and buzzer, the touch screen (title bar,
 * the current screen, the keypad, the status line) and the card slot. It polls GET /api/status once
 * a second; when the device's state leaves the states the current screen belongs to, it goes to the
 * new state's home screen.
 */
export class Panel {
  status: DeviceStatus | null = null;
  screen: Screen | null = null;
  readonly slot = new CardSlot();
  readonly keypad = new Keypad();
  readonly lights = new IndicatorLights();
  readonly buzzer = new Buzzer();
  readonly #title = h('h1', { class: 'screen-title', id: 'screen-title' });
  readonly #badge = h('span', { class: 'state-badge', id: 'state-badge' });
  readonly #host = h('div', { class: 'screen-host', id: 'screen-host' });
  readonly #statusWords = h('span', { class: 'status-words', id: 'status-words' });
  readonly #statusTime = h('span', { class: 'status-time', id: 'status-time' });
  /** Bumped by every action, so that a status poll begun before it is not applied after it. */
  #epoch = 0;
  #busy = false;

  constructor(private readonly homeFor: HomeRoute) {}

  /** Draws the device into `root` and starts polling. */
  mount(root: HTMLElement): void {
    const touch = h(
      'div',
      { class: 'touch-screen', id: 'touch-screen', role: 'region', 'aria-label': 'Touch screen' },
      h('div', { class: 'title-bar' }, this.#title, this.#badge),
      this.#host,
      this.keypad.element,
      h(
        'div',
        { class: 'status-line', id: 'status-line', role: 'status' },
        this.#statusWords,
        this.#statusTime,
      ),
    );
    root.replaceChildren(
      h(
        'main',
        { class: 'device', id: 'device' },
        h(
          'header',
          { class: 'bezel-top' },
          h(
            'div',
            { class: 'brand' },
            h('span', { class: 'brand-name' }, 'COFFER'),
            h('span', { class: 'brand-model' }, 'Network HSM'),
          ),
          this.lights.element,
        ),
        h(
          'div',
          { class: 'bezel-middle' },
          h('div', { class: 'screen-frame' }, touch),
          h('aside', { class: 'side' }, this.slot.element, this.buzzer.element),
        ),
        h(
          'footer',
          { class: 'bezel-bottom' },
          'Front panel on the loopback address: using this page stands for standing at the device. Keys 0–9 A–F, Backspace, Enter and Esc work on a keyboard too.',
        ),
      ),
    );
    this.slot.onChange(() => this.screen?.cardChanged());
    document.addEventListener('focusin', (e) => {
      const t = e.target;
      if (t instanceof HTMLInputElement && t.dataset['charset'] && touch.contains(t))
        this.keypad.setActive(t);
    });
    document.addEventListener('keydown', (e) => this.#key(e));
    this.#statusWords.textContent = 'Connecting to the device…';
    void this.#pollLoop();
  }

  /** Shows a new screen; the caller fills it. The first field gets the keypad. */
  open(spec: ScreenSpec): Screen {
    const s = new Screen(spec, this.slot);
    this.screen = s;
    this.#title.textContent = spec.title;
    this.#host.replaceChildren(s.body);
    this.keypad.show(s.keypad);
    queueMicrotask(() => {
      if (this.screen !== s) return;
      const first = s.firstField();
      if (first) {
        first.focus();
        this.keypad.setActive(first);
      }
    });
    return s;
  }

  home(flash?: Flash): void {
    this.homeFor(this, flash);
  }

  /**
   * Runs one step of a screen: buttons are disabled meanwhile, refusals are placed next to their
   * fields; a refusal that ends the ceremony (state changed, token expired) goes back home.
   */
  async run(screen: Screen, step: () => Promise<void>): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    this.#epoch++;
    screen.clearErrors();
    screen.setBusy(true);
    try {
      await step();
    } catch (error) {
      if (
        error instanceof DeviceError &&
        (error.code.startsWith('ERR_STATE_') || START_OVER.has(error.code))
      ) {
        await this.refresh();
        this.home({ text: error.message, kind: 'error' });
      } else if (this.screen === screen) {
        screen.showError(error);
      }
    } finally {
      this.#busy = false;
      this.#epoch++;
      if (this.screen === screen) screen.setBusy(false);
    }
  }

  /** The card in the slot, as the device reads it. @throws LocalRefusal when the slot is empty. */
  card(wanted: string): unknown {
    const card = this.slot.card;
    if (!card) throw new LocalRefusal('card', `The slot is empty: insert ${wanted}.`);
    return card.content;
  }

  /** A new card leaves through the slot (file download). */
  handOut(made: NewCard): void {
    this.slot.handOut(made);
  }

  /** Reads the status now and shows it (lights, status line); does not change the screen. */
  async refresh(): Promise<DeviceStatus | null> {
    try {
      const s = await api.get<DeviceStatus>('/api/status');
      this.#show(s);
      return s;
    } catch {
      this.#showUnreachable();
      return null;
    }
  }

  async #pollLoop(): Promise<void> {
    for (;;) {
      if (!this.#busy) await this.#poll();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async #poll(): Promise<void> {
    const epoch = this.#epoch;
    let status: DeviceStatus | null = null;
    try {
      status = await api.get<DeviceStatus>('/api/status');
    } catch {
      status = null;
    }
    if (epoch !== this.#epoch || this.#busy) return;
    if (!status) {
      this.#showUnreachable();
      if (this.screen?.id !== 'unreachable' && this.screen?.id !== 'shut-down') this.home();
      return;
    }
    this.#show(status);
    if (!this.screen?.states.includes(status.state)) this.home();
  }

  #show(s: DeviceStatus): void {
    this.status = s;
    this.lights.show(s.indicators);
    if (s.state === 'FAULT' && s.fault) this.buzzer.sound(s.fault.buzzer);
    else this.buzzer.stop();
    this.#badge.textContent = s.state.replace('_', '-');
    this.#badge.dataset['state'] = s.state;
    this.#statusWords.textContent = statusWords(s);
    this.#statusTime.textContent = showTime(s.time);
  }

  #showUnreachable(): void {
    this.status = null;
    this.lights.show(null);
    this.buzzer.stop();
    this.#badge.textContent = 'OFF';
    this.#badge.dataset['state'] = 'OFF';
    this.#statusWords.textContent = 'No answer from the device';
    this.#statusTime.textContent = '';
  }

  #key(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const t = e.target;
    if (t instanceof HTMLInputElement && t.type !== 'file') return; // typed natively; the screen handles Enter/Esc
    if (t instanceof HTMLButtonElement && (e.key === 'Enter' || e.key === ' ')) return; // presses that button
    if (e.key === 'Enter' || e.key === 'Escape') {
      if (this.screen?.keyAction(e.key)) e.preventDefault();
      return;
    }
    if (e.key === 'Backspace') {
      if (this.keypad.press('Back')) e.preventDefault();
      return;
    }
    if (e.key.length === 1 && this.keypad.press(e.key.toUpperCase())) e.preventDefault();
  }
}

/** The status line at the bottom of the screen. */
function statusWords(s: DeviceStatus): string {
  switch (s.state) {
    case 'SELF_TEST':
      return 'Self-test running…';
    case 'FAULT':
      return `Self-test failed: ${s.fault?.reason ?? 'unknown reason'}`;
    case 'UNINITIALISED':
      return 'Waiting for initialisation';
    case 'LOCKED':
      return 'Locked: Auth2Boot with two Device Manager cards';
    case 'READY':
      return 'Crypto service: stopped';
    case 'SERVING': {
      const n = s.network;
      if (!n) return 'Crypto service: running';
      const at = (x: { ip: string; port: number; boundPort: number | null }) =>
        `${x.ip}:${x.boundPort ?? x.port}`;
      return `Crypto service: running · M-Net0 ${at(n.mNet0)} · A-Net1 ${at(n.aNet1)}`;
    }
  }
}
