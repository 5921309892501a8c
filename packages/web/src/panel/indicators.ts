import type { Indicators } from './api.js';
import { h } from './dom.js';

/**
 * The LEDs of manual §2: power (red), error (yellow), waiting for initialisation (blue) and working
 * (green), lit from GET /api/status. All dark when the device does not answer.
 */
const LEDS: { key: keyof Indicators; colour: string; label: string; meaning: string }[] = [
  { key: 'power', colour: 'red', label: 'POWER', meaning: 'Power' },
  { key: 'error', colour: 'yellow', label: 'ERROR', meaning: 'Error' },
  { key: 'waiting', colour: 'blue', label: 'INIT', meaning: 'Waiting for initialisation' },
  { key: 'working', colour: 'green', label: 'WORK', meaning: 'Working' },
];

export class IndicatorLights {
  readonly element: HTMLElement;
  readonly #leds = new Map<keyof Indicators, HTMLElement>();

  constructor() {
    this.element = h('div', { class: 'leds', role: 'group', 'aria-label': 'Indicators' });
    for (const led of LEDS) {
      const light = h('span', {
        class: `led led-${led.colour}`,
        id: `led-${led.key}`,
        role: 'img',
        'data-on': 'false',
      });
      this.#leds.set(led.key, light);
      this.element.append(
        h(
          'span',
          { class: 'led-cell', title: `${led.meaning} indicator` },
          light,
          h('span', { class: 'led-label' }, led.label),
        ),
      );
    }
    this.show(null);
  }

  show(indicators: Indicators | null): void {
    for (const led of LEDS) {
      const on = indicators?.[led.key] ?? false;
      const light = this.#leds.get(led.key)!;
      light.dataset['on'] = String(on);
      light.setAttribute('aria-label', `${led.meaning} indicator (${led.colour}): ${on ? 'on' : 'off'}`);
    }
  }
}

/** One beep: how long it sounds, then the silence after it (milliseconds). */
interface Beep {
  on: number;
  off: number;
}

const LONG: Beep = { on: 700, off: 300 };
const SHORT: Beep = { on: 180, off: 300 };
const BETWEEN_PATTERNS_MS = 1800;

/**
 * The manual §6 buzzer patterns in words ("2 long & 1 short", "3 long and 4 short",
 * "a long beep, 10 seconds") as a sequence of beeps.
 */
export function parseBuzzer(pattern: string): Beep[] {
  const seconds = /(\d+)\s*seconds?/i.exec(pattern);
  if (seconds) return [{ on: Number(seconds[1]) * 1000, off: 4000 }];
  const longs = Number(/(\d+)\s*long/i.exec(pattern)?.[1] ?? 0);
  const shorts = Number(/(\d+)\s*short/i.exec(pattern)?.[1] ?? 0);
  const beeps = [
    ...Array.from({ length: longs }, () => ({ ...LONG })),
    ...Array.from({ length: shorts }, () => ({ ...SHORT })),
  ];
  if (beeps.length === 0) return [{ ...LONG }];
  beeps[beeps.length - 1]!.off = BETWEEN_PATTERNS_MS;
  return beeps;
}

const MUTE_KEY = 'coffer.panel.buzzerMuted';

/**
 * The buzzer: while the device is in FAULT it sounds the fault's pattern, over and over, through
 * WebAudio (a square wave near a piezo's pitch). The user may mute it; the light on the bezel still
 * shows the pattern. Browsers let a page make sound only after a click or a key press, so the sound
 * starts at the first one.
 */
export class Buzzer {
  readonly element: HTMLElement;
  readonly #light: HTMLElement;
  readonly #toggle: HTMLButtonElement;
  readonly #words: HTMLElement;
  #muted: boolean;
  #pattern: string | null = null;
  #timer: number | undefined;
  #audio: AudioContext | null = null;

  constructor() {
    this.#muted = readMuted();
    this.#light = h('span', { class: 'buzzer-light', id: 'buzzer-light', 'aria-hidden': 'true' });
    this.#words = h('span', { class: 'buzzer-words', id: 'buzzer-state', role: 'status' });
    this.#toggle = h('button', {
      type: 'button',
      class: 'bezel-button small',
      id: 'buzzer-mute',
      'aria-pressed': 'false',
    });
    this.#toggle.addEventListener('click', () => this.setMuted(!this.#muted));
    this.element = h(
      'div',
      { class: 'buzzer' },
      this.#light,
      h('span', { class: 'bezel-label' }, 'Buzzer'),
      this.#words,
      this.#toggle,
    );
    // Browsers let a page make sound only after a click or a key press: the sound starts at the first.
    const unlock = () => {
      if (this.#pattern && !this.#muted) this.#context();
    };
    document.addEventListener('pointerdown', unlock);
    document.addEventListener('keydown', unlock);
    this.#render();
  }

  get muted(): boolean {
    return this.#muted;
  }

  setMuted(muted: boolean): void {
    this.#muted = muted;
    try {
      localStorage.setItem(MUTE_KEY, muted ? '1' : '0');
    } catch {
      // Storage may be off; muting still holds for this page.
    }
    if (!muted) this.#context();
    this.#render();
  }

  /** Sounds `pattern` until `stop` (or another pattern). */
  sound(pattern: string): void {
    if (this.#pattern === pattern) return;
    this.stop();
    this.#pattern = pattern;
    this.#render();
    const beeps = parseBuzzer(pattern);
    let i = 0;
    const next = () => {
      const beep = beeps[i % beeps.length]!;
      i++;
      this.#beep(beep.on);
      this.#timer = window.setTimeout(next, beep.on + beep.off);
    };
    next();
  }

  stop(): void {
    if (this.#timer !== undefined) window.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pattern = null;
    this.#light.classList.remove('on');
    this.#render();
  }

  #beep(ms: number): void {
    this.#light.classList.add('on');
    window.setTimeout(() => this.#light.classList.remove('on'), ms);
    if (this.#muted) return;
    const ctx = this.#context();
    if (ctx?.state !== 'running') return;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'square';
    osc.frequency.value = 2300;
    gain.gain.value = 0.06;
    osc.connect(gain).connect(ctx.destination);
    const t = ctx.currentTime;
    osc.start(t);
    osc.stop(t + ms / 1000);
  }

  #context(): AudioContext | null {
    if (!this.#audio && !navigator.userActivation?.hasBeenActive) return null;
    if (this.#audio) {
      if (this.#audio.state === 'suspended') void this.#audio.resume();
      return this.#audio;
    }
    try {
      this.#audio = new AudioContext();
    } catch {
      return null;
    }
    return this.#audio;
  }

  #render(): void {
    this.#toggle.textContent = this.#muted ? 'Unmute' : 'Mute';
    this.#toggle.setAttribute('aria-pressed', String(this.#muted));
    this.#toggle.setAttribute('aria-label', this.#muted ? 'Unmute the buzzer' : 'Mute the buzzer');
    this.#words.textContent = this.#pattern
      ? `${this.#pattern} — ${this.#muted ? 'muted' : 'sounding'}`
      : this.#muted
        ? 'silent (muted)'
        : 'silent';
  }
}

function readMuted(): boolean {
  try {
    return localStorage.getItem(MUTE_KEY) === '1';
  } catch {
    return false;
  }
}
