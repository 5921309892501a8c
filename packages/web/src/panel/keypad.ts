import { h } from './dom.js';

/**
 * The touch screen's keypads (manual §3): the hex keypad `0–9 A–F Back Clear` for PINs, MK parts and
 * factors, and on Start Service the IP keypad `0–9 . Back Clear`. A key types into the field last
 * focused; keys the field cannot take are disabled. A physical keyboard types the same characters.
 */
export type KeypadKind = 'hex' | 'ip' | 'none';

/** What a field accepts; fields carry it as `data-charset`. */
export type Charset = 'hex' | 'digits' | 'ip';

const ALLOWED: Record<Charset, RegExp> = { hex: /[0-9A-F]/, digits: /[0-9]/, ip: /[0-9.]/ };

const LAYOUT: Record<Exclude<KeypadKind, 'none'>, string[][]> = {
  hex: [
    ['0', '1', '2', '3', '4', '5', '6', '7', 'Back', 'Clear'],
    ['8', '9', 'A', 'B', 'C', 'D', 'E', 'F'],
  ],
  ip: [
    ['0', '1', '2', '3', '4', '5', '6', '7', 'Back', 'Clear'],
    ['8', '9', '.'],
  ],
};

function charsetOf(input: HTMLInputElement): Charset {
  const c = input.dataset['charset'];
  return c === 'digits' || c === 'ip' ? c : 'hex';
}

/** Whether `ch` (one character, any case) may be typed into `input`. */
export function accepts(input: HTMLInputElement, ch: string): boolean {
  return ch.length === 1 && ALLOWED[charsetOf(input)].test(ch.toUpperCase());
}

/** Upper-cases and drops what the field cannot take, and keeps it within its length. */
export function normalise(input: HTMLInputElement): void {
  const allowed = ALLOWED[charsetOf(input)];
  const max = input.maxLength > 0 ? input.maxLength : 64;
  const clean = Array.from(input.value.toUpperCase())
    .filter((c) => allowed.test(c))
    .join('')
    .slice(0, max);
  if (clean !== input.value) {
    const caret = Math.min(input.selectionStart ?? clean.length, clean.length);
    input.value = clean;
    input.setSelectionRange(caret, caret);
  }
}

export class Keypad {
  readonly element: HTMLElement;
  #active: HTMLInputElement | null = null;
  #kind: KeypadKind = 'none';
  readonly #keys: HTMLButtonElement[] = [];

  constructor() {
    this.element = h('div', { class: 'keypad', role: 'group', 'aria-label': 'Keypad' });
  }

  get active(): HTMLInputElement | null {
    return this.#active?.isConnected ? this.#active : null;
  }

  show(kind: KeypadKind): void {
    this.#kind = kind;
    this.#active = null;
    this.#keys.length = 0;
    this.element.replaceChildren();
    this.element.hidden = kind === 'none';
    this.element.dataset['kind'] = kind;
    if (kind === 'none') return;
    for (const row of LAYOUT[kind]) {
      const r = h('div', { class: 'keypad-row' });
      for (const key of row) {
        const wide = key === 'Back' || key === 'Clear';
        const b = h(
          'button',
          {
            type: 'button',
            class: wide ? 'key key-action' : 'key',
            'data-key': key,
            'aria-label': key === '.' ? 'Dot' : key,
          },
          key,
        );
        // Keep the focus (and the caret) in the field being typed into.
        b.addEventListener('mousedown', (e) => e.preventDefault());
        b.addEventListener('click', () => this.press(key));
        this.#keys.push(b);
        r.append(b);
      }
      this.element.append(r);
    }
    this.#refresh();
  }

  /** The field the keys type into (the last one focused). */
  setActive(input: HTMLInputElement | null): void {
    this.#active = input;
    this.#refresh();
  }

  /** One key: a character, `Back` or `Clear`. Returns false when there is no field to type into. */
  press(key: string): boolean {
    const input = this.active;
    if (!input || input.disabled) return false;
    const focused = document.activeElement === input;
    const end = input.value.length;
    const start = focused ? (input.selectionStart ?? end) : end;
    const stop = focused ? (input.selectionEnd ?? end) : end;
    if (key === 'Clear') {
      input.value = '';
    } else if (key === 'Back') {
      if (start !== stop) input.setRangeText('', start, stop, 'end');
      else if (start > 0) input.setRangeText('', start - 1, start, 'end');
    } else {
      if (!accepts(input, key)) return false;
      const max = input.maxLength > 0 ? input.maxLength : 64;
      if (start === stop && input.value.length >= max) return false;
      input.setRangeText(key.toUpperCase(), start, stop, 'end');
    }
    input.dispatchEvent(new Event('input', { bubbles: true }));
    return true;
  }

  #refresh(): void {
    if (this.#kind === 'none') return;
    const input = this.active;
    for (const b of this.#keys) {
      const key = b.dataset['key'] ?? '';
      b.disabled = !input || (key.length === 1 && !accepts(input, key));
    }
  }
}
