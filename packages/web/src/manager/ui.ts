/**
 * The tool's building blocks, no framework: elements, the manual's tables (check boxes, sortable
 * headers, an operation column), the pager ("From 1 To 10 Total 26 rows"), dialogs and confirmations,
 * messages in words, and downloads.
 */

import { ApiError, type PageInfo } from './api.js';

export type Child = Node | string | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

export function button(text: string, onClick: () => void, attrs: Attrs = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', ...attrs }, text);
  b.addEventListener('click', onClick);
  return b;
}

/** A labelled form field; `hint` under it, and a place for its refusal (`#err-ID`). */
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('div', { class: 'hint' }, hint) : null,
    h('div', { class: 'field-error', id: `err-${id}`, role: 'alert' }),
  );
}

/** `2026-12-04T15:30:00.000Z` → `2026-12-04 15:30:00` (the device's clock, UTC). */
export function showTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

/** A time in a table cell: the date and the time of day each kept whole, so a narrow column breaks between them. */
export function timeCell(iso: string | null | undefined): HTMLElement {
  const [date, time] = showTime(iso).split(' ');
  return h('span', { class: 'when' }, h('span', {}, date ?? ''), ' ', h('span', {}, time ?? ''));
}

/**
 * A time-range bound from a `datetime-local` field, in the device's clock (UTC, as every time
 * here is shown): the start of the minute for `from`, its last millisecond for `to` (inclusive).
 */
export function timeBound(field: HTMLInputElement, which: 'from' | 'to'): string | undefined {
  const v = field.value;
  if (!v) return undefined;
  const minute = v.slice(0, 16);
  return which === 'from' ? `${minute}:00Z` : `${minute}:59.999Z`;
}

/** Words for a refusal: the device's sentence and its code. */
export function words(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

/** A message area: `show(kind, text)`; an error stays until the next action. */
export function messageBox(
  id: string,
): HTMLElement & { show(kind: 'ok' | 'error' | 'info', text: string): void } {
  const el = h('div', { class: 'message', id, role: 'status' }) as unknown as HTMLElement & {
    show(kind: 'ok' | 'error' | 'info', text: string): void;
  };
  el.show = (kind, text) => {
    el.className = `message ${kind}`;
    el.textContent = text;
  };
  return el;
}

/** Shows a refusal beside the form field it names (`details.field`), else in `box`. */
export function showRefusal(form: HTMLElement, box: ReturnType<typeof messageBox>, error: unknown): void {
  const fieldName = error instanceof ApiError ? error.details['field'] : undefined;
  const at =
    typeof fieldName === 'string' ? form.querySelector<HTMLElement>(`[data-field="${fieldName}"]`) : null;
  if (at) {
    const err = form.querySelector<HTMLElement>(`#err-${at.id}`);
    if (err) {
      err.textContent = words(error);
      err.classList.add('shown');
      return;
    }
  }
  box.show('error', words(error));
}

export function clearRefusals(form: HTMLElement): void {
  for (const el of form.querySelectorAll<HTMLElement>('.field-error')) {
    el.textContent = '';
    el.classList.remove('shown');
  }
}

/** Marks a field refused before sending (the form's own check); returns false. */
export function refuseField(form: HTMLElement, id: string, text: string): false {
  const err = form.querySelector<HTMLElement>(`#err-${id}`);
  if (err) {
    err.textContent = text;
    err.classList.add('shown');
  }
  return false;
}

// ───────────── tables ─────────────

export interface Column<R> {
  key: string;
  title: string;
  value: (row: R) => string | number;
  /** Renders the cell (defaults to the value as text). */
  cell?: (row: R) => Child;
}

export interface TableOptions<R> {
  id: string;
  columns: Column<R>[];
  rows: R[];
  rowKey: (row: R) => string;
  /** Check boxes in the first column (the manual's selection for "current selected data"). */
  selectable?: boolean;
  /** The operation column. */
  operations?: (row: R) => Child[];
  empty?: string;
}

export interface Table<R> {
  el: HTMLElement;
  selected(): R[];
}

/** The manual's table: check boxes, sortable headers (click to sort, again to reverse), operations. */
export function table<R>(opts: TableOptions<R>): Table<R> {
  let sortKey: string | null = null;
  let descending = false;
  const checked = new Set<string>();
  const wrap = h('div', { class: 'table-wrap' });
  const render = () => {
    const rows = [...opts.rows];
    const col = opts.columns.find((c) => c.key === sortKey);
    if (col) {
      rows.sort((a, b) => {
        const x = col.value(a);
        const y = col.value(b);
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return descending ? -c : c;
      });
    }
    const all = h('input', { type: 'checkbox', 'aria-label': 'Select all', class: 'select-all' });
    all.checked = rows.length > 0 && rows.every((r) => checked.has(opts.rowKey(r)));
    all.addEventListener('change', () => {
      for (const r of rows) {
        if (all.checked) checked.add(opts.rowKey(r));
        else checked.delete(opts.rowKey(r));
      }
      render();
    });
    const head = h(
      'tr',
      {},
      opts.selectable ? h('th', { class: 'check' }, all) : null,
      ...opts.columns.map((c) => {
        const th = h(
          'th',
          {
            class: 'sortable',
            'data-key': c.key,
            'aria-sort': c.key === sortKey ? (descending ? 'descending' : 'ascending') : 'none',
          },
          c.title,
          h('span', { class: 'sort-mark' }, c.key === sortKey ? (descending ? ' ▼' : ' ▲') : ''),
        );
        th.addEventListener('click', () => {
          descending = sortKey === c.key ? !descending : false;
          sortKey = c.key;
          render();
        });
        return th;
      }),
      opts.operations ? h('th', { class: 'ops' }, 'Operation') : null,
    );
    const body = h('tbody', {});
    for (const row of rows) {
      const key = opts.rowKey(row);
      const box = h('input', { type: 'checkbox', 'aria-label': `Select ${key}`, 'data-row': key });
      box.checked = checked.has(key);
      box.addEventListener('change', () => {
        if (box.checked) checked.add(key);
        else checked.delete(key);
      });
      body.append(
        h(
          'tr',
          { 'data-row': key },
          opts.selectable ? h('td', { class: 'check' }, box) : null,
          ...opts.columns.map((c) =>
            h('td', { 'data-col': c.key }, c.cell ? c.cell(row) : String(c.value(row))),
          ),
          opts.operations ? h('td', { class: 'ops' }, ...opts.operations(row)) : null,
        ),
      );
    }
    if (rows.length === 0) {
      const span = opts.columns.length + (opts.selectable ? 1 : 0) + (opts.operations ? 1 : 0);
      body.append(h('tr', {}, h('td', { colspan: span, class: 'empty' }, opts.empty ?? 'No rows.')));
    }
    wrap.replaceChildren(h('table', { id: opts.id, class: 'grid' }, h('thead', {}, head), body));
  };
  render();
  return { el: wrap, selected: () => opts.rows.filter((r) => checked.has(opts.rowKey(r))) };
}

/** The rows per page the manager last chose; pages start with it (a live binding). */
export let pageSize = 10;

/** The manual's pager: "From 1 To 10 Total 26 rows", first/previous/next/last and the page size. */
export function pager(info: PageInfo, go: (page: number, size: number) => void): HTMLElement {
  const last = Math.max(1, Math.ceil(info.total / info.size));
  const size = h('select', { 'aria-label': 'Rows per page', class: 'page-size' });
  for (const n of [10, 20, 50, 100]) {
    const o = h('option', { value: n }, String(n));
    if (n === info.size) o.selected = true;
    size.append(o);
  }
  size.addEventListener('change', () => {
    pageSize = Number(size.value);
    go(1, pageSize);
  });
  const nav = (text: string, page: number, disabled: boolean, cls: string) =>
    button(text, () => go(page, info.size), { disabled, class: `pager-btn ${cls}` });
  return h(
    'div',
    { class: 'pager' },
    h('span', { class: 'pager-text' }, `From ${info.from} To ${info.to} Total ${info.total} rows`),
    h(
      'span',
      { class: 'pager-nav' },
      nav('«', 1, info.page <= 1, 'first'),
      nav('‹ Prev', info.page - 1, info.page <= 1, 'prev'),
      h('span', { class: 'pager-page' }, `Page ${info.page} of ${last}`),
      nav('Next ›', info.page + 1, info.page >= last, 'next'),
      nav('»', last, info.page >= last, 'last'),
      size,
    ),
  );
}

// ───────────── dialogs ─────────────

export interface Dialog {
  el: HTMLElement;
  body: HTMLElement;
  message: ReturnType<typeof messageBox>;
  close(): void;
}

/** A modal dialog (the manual's boxes): title, body, buttons; Escape and ✕ close it. */
export function dialog(
  id: string,
  title: string,
  content: Child[],
  actions: { text: string; primary?: boolean; id?: string; run: (d: Dialog) => void | Promise<void> }[],
): Dialog {
  const body = h('div', { class: 'dialog-body' }, ...content);
  const message = messageBox(`${id}-message`);
  const footer = h('div', { class: 'dialog-actions' });
  const box = h(
    'div',
    { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': `${id}-title`, id },
    h('div', { class: 'dialog-title' }, h('h2', { id: `${id}-title` }, title)),
    body,
    message,
    footer,
  );
  const overlay = h('div', { class: 'overlay' }, box);
  const d: Dialog = { el: box, body, message, close: () => overlay.remove() };
  const close = button('✕', () => d.close(), { class: 'dialog-close', 'aria-label': 'Close' });
  box.querySelector('.dialog-title')?.append(close);
  for (const a of actions) {
    const b = button(
      a.text,
      async () => {
        b.disabled = true;
        clearRefusals(body);
        try {
          await a.run(d);
        } catch (error) {
          showRefusal(body, message, error);
        } finally {
          b.disabled = false;
        }
      },
      { class: a.primary ? 'primary' : '', id: a.id ?? null },
    );
    footer.append(b);
  }
  overlay.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') d.close();
    // Enter in a text field is the dialog's main button, as in a form.
    const target = e.target as HTMLElement;
    if (
      e.key === 'Enter' &&
      target instanceof HTMLInputElement &&
      target.type !== 'checkbox' &&
      target.type !== 'file'
    ) {
      e.preventDefault();
      box.querySelector<HTMLButtonElement>('.dialog-actions button.primary')?.click();
    }
  });
  document.body.append(overlay);
  box.querySelector<HTMLElement>('input, select, textarea, button.primary')?.focus();
  return d;
}

/** A confirmation box; resolves true on OK. */
export function confirmBox(text: string, ok = 'OK'): Promise<boolean> {
  return new Promise((resolve) => {
    const d = dialog(
      'confirm',
      'Please confirm',
      [h('p', {}, text)],
      [
        {
          text: ok,
          primary: true,
          id: 'confirm-ok',
          run: (x) => {
            x.close();
            resolve(true);
          },
        },
        {
          text: 'Cancel',
          id: 'confirm-cancel',
          run: (x) => {
            x.close();
            resolve(false);
          },
        },
      ],
    );
    d.el.querySelector('.dialog-close')?.addEventListener('click', () => resolve(false));
  });
}

/** A detail box: label / value pairs. */
export function details(pairs: [string, Child][]): HTMLElement {
  return h('dl', { class: 'details' }, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

/** Saves bytes as a file the browser downloads. */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, class: 'hidden' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Reads a chosen file as base64 (for import and restore). */
export async function fileBase64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let out = '';
  for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(out);
}

/** A progress bar for a job: `set(done, total)`. */
export function progress(id: string): HTMLElement & { set(done: number, total: number): void } {
  const bar = h('progress', { id, max: 1, value: 0 });
  const label = h('span', { class: 'progress-label' }, '');
  const el = h('div', { class: 'progress' }, bar, label) as unknown as HTMLElement & {
    set(done: number, total: number): void;
  };
  el.set = (done, total) => {
    bar.max = Math.max(total, 1);
    bar.value = done;
    label.textContent = `${done} / ${total}`;
  };
  return el;
}

export const input = (id: string, attrs: Attrs = {}) => h('input', { id, name: id, ...attrs });

export function select(id: string, options: [string, string][], attrs: Attrs = {}): HTMLSelectElement {
  const s = h('select', { id, name: id, ...attrs });
  for (const [value, text] of options) s.append(h('option', { value }, text));
  return s;
}
