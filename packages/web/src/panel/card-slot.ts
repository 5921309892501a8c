import type { NewCard } from './api.js';
import { button, h } from './dom.js';

/**
 * The card reader beside the screen. "Insert a card" picks a card file (its JSON is what the device
 * reads); a card the device makes comes out as a file download named for its slot
 * (`coffer-A1.card`). The slot shows which card is in it.
 */

export interface InsertedCard {
  fileName: string;
  content: unknown;
  slot: string | null;
  role: string | null;
  account: string | null;
}

const ROLE_WORDS: Record<string, string> = {
  'device-manager': 'Device Manager',
  'system-manager': 'System Manager',
  'safe-manager': 'Safe Manager',
  'audit-manager': 'Audit Manager',
};

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length < 80 ? value : null;
}

/** How a card is named on screen: "A1 (Device Manager)", or the file name when it says nothing. */
export function describeCard(card: InsertedCard): string {
  if (!card.slot) return card.fileName;
  const role = card.role ? ROLE_WORDS[card.role] : undefined;
  return role ? `${card.slot} (${role})` : card.slot;
}

export class CardSlot {
  readonly element: HTMLElement;
  #card: InsertedCard | null = null;
  #lastOut: NewCard | null = null;
  readonly #listeners: (() => void)[] = [];
  readonly #input: HTMLInputElement;
  readonly #face: HTMLElement;
  readonly #state: HTMLElement;
  readonly #out: HTMLElement;
  readonly #eject: HTMLButtonElement;

  constructor() {
    this.#input = h('input', {
      type: 'file',
      id: 'card-file',
      class: 'visually-hidden',
      accept: '.card,.json,application/json',
      'aria-label': 'Card file to insert',
      tabindex: '-1',
    });
    this.#input.addEventListener('change', () => {
      const file = this.#input.files?.[0];
      if (file) void this.insertFile(file);
      this.#input.value = '';
    });
    this.#face = h('div', { class: 'card-face', id: 'slot-card', 'aria-hidden': 'true' });
    this.#state = h('p', { class: 'slot-state', id: 'slot-state', role: 'status', 'aria-live': 'polite' });
    this.#out = h('div', { class: 'slot-out', id: 'slot-out', 'aria-live': 'polite' });
    this.#eject = button('Take out', () => this.eject(), { id: 'slot-eject', class: 'bezel-button' });
    const insert = button('Insert a card…', () => this.#input.click(), {
      id: 'slot-insert',
      class: 'bezel-button',
    });
    const mouth = h('div', { class: 'slot-mouth' }, this.#face);
    mouth.addEventListener('dragover', (e) => {
      e.preventDefault();
      mouth.classList.add('drop');
    });
    mouth.addEventListener('dragleave', () => mouth.classList.remove('drop'));
    mouth.addEventListener('drop', (e) => {
      e.preventDefault();
      mouth.classList.remove('drop');
      const file = e.dataTransfer?.files[0];
      if (file) void this.insertFile(file);
    });
    this.element = h(
      'section',
      { class: 'card-slot', 'aria-labelledby': 'slot-title' },
      h('h2', { id: 'slot-title', class: 'bezel-label' }, 'Card slot'),
      mouth,
      this.#state,
      h('div', { class: 'slot-buttons' }, insert, this.#eject),
      this.#input,
      this.#out,
    );
    this.#render();
  }

  /** The card in the slot, or null. */
  get card(): InsertedCard | null {
    return this.#card;
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  async insertFile(file: File): Promise<void> {
    let content: unknown = null;
    try {
      content = JSON.parse(await file.text());
    } catch {
      content = null;
    }
    if (!content || typeof content !== 'object' || Array.isArray(content)) {
      this.#card = null;
      this.#render(`${file.name} is not a card file (it is not a JSON card). Nothing is in the slot.`);
      this.#changed();
      return;
    }
    const c = content as Record<string, unknown>;
    this.#card = {
      fileName: file.name,
      content,
      slot: text(c['slot']),
      role: text(c['role']),
      account: text(c['account']),
    };
    this.#render();
    this.#changed();
  }

  /** Takes the card out (after it has been used, or on request). */
  eject(note?: string): void {
    const had = this.#card !== null;
    this.#card = null;
    this.#render(note);
    if (had) this.#changed();
  }

  /** A card the device made leaves through the slot as a file download named for its slot. */
  handOut(made: NewCard): void {
    this.#lastOut = made;
    download(made);
    this.#out.replaceChildren(
      h(
        'p',
        { class: 'slot-out-text' },
        'New card ',
        h('strong', {}, made.slot),
        ' came out as ',
        h('code', { id: 'slot-out-file' }, made.fileName),
        '. Keep it safe; insert it when the screen asks for it.',
      ),
      button('Save it again', () => this.#lastOut && download(this.#lastOut), {
        class: 'bezel-button small',
      }),
    );
  }

  #changed(): void {
    for (const l of this.#listeners) l();
  }

  #render(note?: string): void {
    const card = this.#card;
    this.#eject.disabled = !card;
    this.#face.classList.toggle('empty', !card);
    if (!card) {
      this.#face.replaceChildren(h('span', { class: 'card-empty' }, 'empty'));
      this.#state.textContent = note ?? 'No card in the slot.';
      return;
    }
    this.#face.replaceChildren(
      h('span', { class: 'card-brand' }, 'COFFER'),
      h('span', { class: 'card-chip' }),
      h('span', { class: 'card-slotname' }, card.slot ?? '?'),
      h('span', { class: 'card-role' }, (card.role && ROLE_WORDS[card.role]) || 'unknown card'),
      h('span', { class: 'card-account' }, card.account ?? ''),
    );
    this.#state.replaceChildren(
      'In the slot: ',
      h('strong', { id: 'slot-card-name' }, describeCard(card)),
      ` — ${card.fileName}`,
    );
  }
}

function download(made: NewCard): void {
  const blob = new Blob([`${JSON.stringify(made.card, null, 2)}\n`], { type: 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: made.fileName, class: 'visually-hidden' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
