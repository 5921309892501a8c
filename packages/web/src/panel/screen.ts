import { DeviceError, type StateKind, UnreachableError } from './api.js';
import { type CardSlot, describeCard } from './card-slot.js';
import { type Attrs, type Child, h } from './dom.js';
import { type Charset, type KeypadKind, normalise } from './keypad.js';

/**
 * One screen of the touch screen: a title, rows of fields (each with its character counter, as the
 * manual's "Card-PIN 00", and a place for the device's refusal right beside it), the ▲ prompt line
 * and the buttons. Screens are built by the functions in `screens/`; `Panel` shows one at a time.
 */

export interface FieldSpec {
  /** The API's name for it, which is also the `details.field` of a refusal about it. */
  name: string;
  label: string;
  charset: Charset;
  max: number;
  masked?: boolean;
  value?: string;
  /** Extra class for the input (width). */
  size?: 'short' | 'medium' | 'long';
}

export interface ScreenSpec {
  title: string;
  /** The device states this screen belongs to; when the device leaves them, the panel goes home. */
  states: readonly StateKind[];
  keypad?: KeypadKind;
  /** An identifier for tests and styles (`data-screen`). */
  id: string;
}

/** A refusal made by the page itself before asking the device (no card in the slot). */
export class LocalRefusal extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ActionOptions {
  primary?: boolean;
  cancel?: boolean;
  id?: string;
  danger?: boolean;
}

const CARD_CODES = new Set([
  'ERR_CARD_FORMAT',
  'ERR_CARD_FOREIGN',
  'ERR_CARD_UNKNOWN',
  'ERR_CARD_REPLACED',
  'ERR_CARD_BLOCKED',
  'ERR_CARD_ROLE',
  'ERR_CARD_SAME',
  'ERR_CARD_FORGED',
  'ERR_CARD_KDF_WEAK',
]);

function fieldId(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, '-');
}

export class Screen {
  readonly title: string;
  readonly states: readonly StateKind[];
  readonly keypad: KeypadKind;
  readonly id: string;
  readonly body: HTMLElement;
  readonly #content: HTMLElement;
  readonly #message: HTMLElement;
  readonly #actions: HTMLElement;
  readonly #fields = new Map<string, HTMLInputElement>();
  readonly #errors = new Map<string, HTMLElement>();
  #primary: HTMLButtonElement | null = null;
  #cancel: HTMLButtonElement | null = null;
  #busy = false;
  #onCard: (() => void) | null = null;
  /** Where a refusal goes when its `details.field` is not enough (same name, different meaning). */
  errorTarget: ((e: DeviceError) => string | undefined) | null = null;

  constructor(
    spec: ScreenSpec,
    private readonly slot: CardSlot,
  ) {
    this.title = spec.title;
    this.states = spec.states;
    this.keypad = spec.keypad ?? 'none';
    this.id = spec.id;
    this.#content = h('div', { class: 'screen-content' });
    this.#message = h('div', {
      class: 'screen-message',
      id: 'screen-message',
      role: 'alert',
      'aria-live': 'assertive',
    });
    this.#actions = h('div', { class: 'screen-actions' });
    this.body = h(
      'div',
      { class: 'screen-body', 'data-screen': spec.id },
      this.#content,
      this.#message,
      this.#actions,
    );
    this.body.addEventListener('keydown', (e) => {
      if (e.target instanceof HTMLButtonElement && e.key === 'Enter') return;
      if ((e.key === 'Enter' || e.key === 'Escape') && this.keyAction(e.key)) e.preventDefault();
    });
  }

  /** Any content (text, lists, tables). */
  add(...children: Child[]): void {
    for (const c of children) if (c) this.#content.append(c);
  }

  /** A row: label, input, counter ("00"), and the place for a refusal about this field. */
  field(spec: FieldSpec): HTMLInputElement {
    const input = this.input(spec);
    const counter = h(
      'span',
      { class: 'counter', id: `count-${fieldId(spec.name)}`, 'aria-hidden': 'true' },
      '00',
    );
    const update = () => (counter.textContent = String(input.value.length).padStart(2, '0'));
    input.addEventListener('input', update);
    update();
    this.add(
      h(
        'div',
        { class: 'field-row' },
        h('label', { for: input.id, class: 'field-label' }, spec.label),
        input,
        counter,
        this.errorSlot(spec.name),
      ),
    );
    return input;
  }

  /** A bare input (for tables and grouped fields); place it and its error slot yourself. */
  input(spec: FieldSpec & { label: string }): HTMLInputElement {
    const id = `f-${fieldId(spec.name)}`;
    const input = h('input', {
      id,
      name: spec.name,
      class: `field-input ${spec.size ?? (spec.max > 16 ? 'long' : 'medium')}`,
      type: spec.masked ? 'password' : 'text',
      inputmode: 'none',
      autocomplete: 'off',
      autocapitalize: 'characters',
      spellcheck: 'false',
      maxlength: spec.max,
      'data-charset': spec.charset,
      'aria-label': spec.label,
      'aria-describedby': `err-${fieldId(spec.name)}`,
    });
    if (spec.value) input.value = spec.value;
    input.addEventListener('input', () => {
      normalise(input);
      this.#clearError(spec.name);
    });
    this.#fields.set(spec.name, input);
    return input;
  }

  /** The element where a refusal about `name` is written (created once per name). */
  errorSlot(name: string): HTMLElement {
    let slot = this.#errors.get(name);
    if (!slot) {
      slot = h('span', { class: 'field-error', id: `err-${fieldId(name)}`, 'data-field': name });
      this.#errors.set(name, slot);
    }
    return slot;
  }

  /** The card row: which card is in the slot, what to insert, and refusals about the card. */
  cardRow(wanted: string): void {
    const shown = h('span', { class: 'card-in', id: 'card-in-screen' });
    const update = () => {
      const card = this.slot.card;
      shown.textContent = card ? describeCard(card) : 'no card';
      shown.classList.toggle('none', !card);
      this.#clearError('card');
    };
    update();
    this.#onCard = update;
    this.add(
      h(
        'div',
        { class: 'field-row card-row' },
        h('span', { class: 'field-label' }, 'Card'),
        shown,
        h('span', { class: 'card-wanted' }, wanted),
        this.errorSlot('card'),
      ),
    );
  }

  /** The ▲ line under the fields, in the manual's words. */
  prompt(text: string): void {
    this.add(h('p', { class: 'prompt' }, `▲ ${text}`));
  }

  /** A note (■, ⚠) in the content. */
  note(text: string, kind: 'info' | 'warning' | 'done' = 'info', attrs: Attrs = {}): HTMLElement {
    const mark = kind === 'warning' ? '⚠ ' : kind === 'done' ? '■ ' : '';
    const p = h('p', { class: `note note-${kind}`, ...attrs }, `${mark}${text}`);
    this.add(p);
    return p;
  }

  /** Big buttons, as on the manual's menu screens. */
  menu(items: { label: string; run: () => void; disabled?: boolean; done?: boolean; id?: string }[]): void {
    const grid = h('div', { class: 'menu' });
    for (const item of items) {
      const b = h(
        'button',
        {
          type: 'button',
          class: `menu-button${item.done ? ' done' : ''}`,
          id: item.id,
          disabled: item.disabled ?? false,
        },
        item.label,
        item.done ? h('span', { class: 'tick', 'aria-label': '(done)' }, ' ✓') : null,
      );
      b.addEventListener('click', () => {
        if (!this.#busy) item.run();
      });
      grid.append(b);
    }
    this.add(grid);
  }

  /** A button on the bottom row (Cancel, Next, OK, Write…). */
  action(label: string, run: () => void, opts: ActionOptions = {}): HTMLButtonElement {
    const cls = ['action', opts.primary ? 'primary' : '', opts.danger ? 'danger' : '']
      .filter(Boolean)
      .join(' ');
    const b = h('button', { type: 'button', class: cls, id: opts.id }, label);
    b.addEventListener('click', () => {
      if (!this.#busy) run();
    });
    if (opts.primary) this.#primary = b;
    if (opts.cancel) this.#cancel = b;
    this.#actions.append(b);
    return b;
  }

  /** Enter presses the primary button, Escape the Cancel button. Returns whether one was pressed. */
  keyAction(key: 'Enter' | 'Escape' | string): boolean {
    const b = key === 'Enter' ? this.#primary : key === 'Escape' ? this.#cancel : null;
    if (!b || b.disabled || this.#busy) return false;
    b.click();
    return true;
  }

  /** The panel calls this when a card goes in or out of the slot. */
  cardChanged(): void {
    this.#onCard?.();
  }

  value(name: string): string {
    return this.#fields.get(name)?.value ?? '';
  }

  /** The first field, for the keypad to start typing into. */
  firstField(): HTMLInputElement | null {
    return this.#fields.values().next().value ?? null;
  }

  setBusy(busy: boolean): void {
    this.#busy = busy;
    this.body.classList.toggle('busy', busy);
    this.body.setAttribute('aria-busy', String(busy));
    for (const b of Array.from(this.body.querySelectorAll('button'))) {
      if (busy) {
        b.dataset['wasDisabled'] = String(b.disabled);
        b.disabled = true;
      } else if (b.dataset['wasDisabled'] !== undefined) {
        b.disabled = b.dataset['wasDisabled'] === 'true';
        delete b.dataset['wasDisabled'];
      }
    }
  }

  clearErrors(): void {
    for (const name of this.#errors.keys()) this.#clearError(name);
    this.#message.replaceChildren();
  }

  /** A line in the message area: a success after a step, or a refusal that concerns no one field. */
  flash(text: string, kind: 'ok' | 'error' = 'ok'): void {
    this.#message.replaceChildren(h('p', { class: `flash flash-${kind}` }, text));
  }

  /** Puts a refusal next to the field it concerns (the card row for card refusals), else in the message line. */
  showError(error: unknown): void {
    if (error instanceof LocalRefusal) {
      this.#place(error.field, error.message, 'LOCAL');
    } else if (error instanceof UnreachableError) {
      this.flash(error.message, 'error');
    } else if (error instanceof DeviceError) {
      this.#place(this.errorTarget?.(error) ?? this.#defaultTarget(error), error.message, error.code);
    } else {
      this.flash(`The panel failed: ${String(error)}`, 'error');
    }
  }

  #defaultTarget(e: DeviceError): string | undefined {
    const field = e.field;
    if (field && this.#errors.has(field)) return field;
    if (field?.includes('.')) {
      const head = field.split('.')[0]!;
      if (this.#errors.has(head)) return head;
    }
    // The Write step's refusal of a PIN names no field: it can only be the Card-PIN.
    if (e.code === 'ERR_PIN_WRONG' && this.#errors.has('pin')) return 'pin';
    if (CARD_CODES.has(e.code) && this.#errors.has('card')) return 'card';
    return undefined;
  }

  #place(target: string | undefined, message: string, code: string): void {
    const slot = target ? this.#errors.get(target) : undefined;
    if (!slot) {
      this.#message.replaceChildren(h('p', { class: 'flash flash-error', 'data-code': code }, message));
      return;
    }
    slot.textContent = message;
    slot.dataset['code'] = code;
    slot.classList.add('shown');
    slot.setAttribute('role', 'alert');
    const input = this.#fields.get(target!);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      input.select();
    }
  }

  #clearError(name: string): void {
    const slot = this.#errors.get(name);
    if (slot) {
      slot.textContent = '';
      slot.classList.remove('shown');
      slot.removeAttribute('role');
      delete slot.dataset['code'];
    }
    this.#fields.get(name)?.removeAttribute('aria-invalid');
  }
}
