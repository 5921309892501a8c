import { h } from './dom.js';
import type { Screen } from './screen.js';

const PARTS = [
  { key: 'year', label: 'Year', max: 4 },
  { key: 'month', label: 'Month', max: 2 },
  { key: 'day', label: 'Day', max: 2 },
  { key: 'hour', label: 'Hour', max: 2 },
  { key: 'minute', label: 'Minute', max: 2 },
  { key: 'second', label: 'Second', max: 2 },
] as const;

/**
 * The date and time rows of Time Setting (§3.1.1) and System Time (§3.6): six digit fields typed on
 * the keypad (the focus moves on when one is full), in UTC as the device keeps it. A refusal
 * (`details.field = 'time'`) shows beside them. Returns how to read them as ISO 8601.
 */
export function timeFields(screen: Screen, initial: Date): () => string {
  const two = (n: number) => String(n).padStart(2, '0');
  const values: Record<(typeof PARTS)[number]['key'], string> = {
    year: String(initial.getUTCFullYear()),
    month: two(initial.getUTCMonth() + 1),
    day: two(initial.getUTCDate()),
    hour: two(initial.getUTCHours()),
    minute: two(initial.getUTCMinutes()),
    second: two(initial.getUTCSeconds()),
  };
  const inputs = PARTS.map((p) =>
    screen.input({
      name: `time.${p.key}`,
      label: p.label,
      charset: 'digits',
      max: p.max,
      value: values[p.key],
      size: 'short',
    }),
  );
  inputs.forEach((input, i) => {
    input.classList.add(`time-${PARTS[i]!.key}`);
    input.addEventListener('input', () => {
      const next = inputs[i + 1];
      if (next && input.value.length === input.maxLength && document.activeElement === input) {
        next.focus();
        next.select();
      }
    });
  });
  const labelled = (i: number) =>
    h(
      'span',
      { class: 'time-part' },
      inputs[i]!,
      h('span', { class: 'time-unit', 'aria-hidden': 'true' }, PARTS[i]!.label),
    );
  screen.add(
    h(
      'div',
      { class: 'field-row time-row' },
      h('span', { class: 'field-label' }, 'Date (UTC)'),
      h('span', { class: 'time-group' }, labelled(0), '-', labelled(1), '-', labelled(2)),
    ),
    h(
      'div',
      { class: 'field-row time-row' },
      h('span', { class: 'field-label' }, 'Time (UTC)'),
      h('span', { class: 'time-group' }, labelled(3), ':', labelled(4), ':', labelled(5)),
      screen.errorSlot('time'),
    ),
  );
  return () => {
    const v = inputs.map((i) => i.value);
    const pad = (s: string) => (s.length === 1 ? `0${s}` : s);
    return `${v[0]}-${pad(v[1]!)}-${pad(v[2]!)}T${pad(v[3]!)}:${pad(v[4]!)}:${pad(v[5]!)}Z`;
  };
}
