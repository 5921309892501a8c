/** The System Manager's pages (manual §4.4.1): operators and licences, the service white list. */

import type { PageInfo } from './api.js';
import { frame, type PageContext, type PageDef } from './page.js';
import {
  button,
  confirmBox,
  details,
  dialog,
  download,
  field,
  h,
  input,
  pager,
  pageSize,
  refuseField,
  showTime,
  table,
  timeCell,
  words,
} from './ui.js';

interface Operator {
  name: string;
  description: string;
  creator: string;
  createdAt: string;
}

interface OperatorDetail {
  operator: Operator;
  whitelist: { ip: string; addedAt: string; addedBy: string }[];
  keys: {
    index: number;
    type: string;
    status: string;
    description: string;
    expiresAt: string;
    usage: string[];
  }[];
  licence: {
    serial: string;
    maxConnections: number;
    issuedAt: string;
    issuedBy: string;
    status: string;
  } | null;
  licencesIssued: number;
}

interface WhitelistEntry {
  ip: string;
  operators: { name: string; addedAt: string; addedBy: string }[];
}

const OPERATOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PIN = /^(?=.*[0-9])(?=.*[A-Fa-f])[0-9A-Fa-f]{8}$/;

async function operatorDetail(ctx: PageContext, name: string): Promise<void> {
  const d = await ctx.api.get<OperatorDetail>(`/api/operators/${encodeURIComponent(name)}`);
  dialog(
    'operator-detail',
    `Operator ${d.operator.name}`,
    [
      h('h3', {}, 'Basic information'),
      details([
        ['Account name', d.operator.name],
        ['Description', d.operator.description || '—'],
        ['Creator', d.operator.creator],
        ['Created', showTime(d.operator.createdAt)],
        [
          'Licence',
          d.licence
            ? `serial ${d.licence.serial.slice(0, 16)}…, ${d.licence.maxConnections} connections, issued ${showTime(d.licence.issuedAt)} by ${d.licence.issuedBy} (${d.licence.status})`
            : 'none issued',
        ],
        ['Licences issued', String(d.licencesIssued)],
      ]),
      h('h3', {}, 'IP white list'),
      d.whitelist.length
        ? h('ul', { class: 'plain', id: 'detail-ips' }, ...d.whitelist.map((w) => h('li', {}, w.ip)))
        : h('p', {}, 'No address.'),
      h('h3', {}, 'Keys'),
      d.keys.length
        ? h(
            'ul',
            { class: 'plain', id: 'detail-keys' },
            ...d.keys.map((k) => h('li', {}, `${k.index} · ${k.type} · ${k.status} · ${k.usage.join(' ')}`)),
          )
        : h('p', {}, 'No key bound.'),
    ],
    [{ text: 'Close', run: (x) => x.close() }],
  );
}

function licenceDialog(ctx: PageContext, name: string, done: (text: string) => void): void {
  const pin = input('lic-pin', {
    type: 'password',
    autocomplete: 'new-password',
    'data-field': 'pin',
    maxlength: 8,
  });
  const confirm = input('lic-pin-confirm', {
    type: 'password',
    autocomplete: 'new-password',
    'data-field': 'pinConfirm',
    maxlength: 8,
  });
  const max = input('lic-max', {
    type: 'number',
    min: 1,
    max: 10000,
    value: 16,
    'data-field': 'maxConnections',
  });
  dialog(
    'licence-dialog',
    `Download licence file: ${name}`,
    [
      h(
        'p',
        { class: 'hint' },
        'A new licence re-keys the operator: the previous licence file stops working.',
      ),
      field('Licence PIN', pin, '8 characters of 0–9 and A–F, at least one digit and one letter'),
      field('Confirm PIN', confirm),
      field('Maximum concurrent connections', max, '1 to 10000'),
    ],
    [
      {
        text: 'Download',
        primary: true,
        id: 'licence-download',
        run: async (d) => {
          let ok = true;
          if (!PIN.test(pin.value))
            ok = refuseField(
              d.body,
              'lic-pin',
              'The PIN has 8 characters of 0–9/A–F with at least one digit and one letter.',
            );
          if (confirm.value.toUpperCase() !== pin.value.toUpperCase())
            ok = refuseField(d.body, 'lic-pin-confirm', 'The two PINs do not match.');
          const n = Number(max.value);
          if (!Number.isInteger(n) || n < 1 || n > 10000)
            ok = refuseField(d.body, 'lic-max', 'Give a whole number from 1 to 10000.');
          if (!ok) return;
          const file = await ctx.api.file('POST', `/api/operators/${encodeURIComponent(name)}/licence`, {
            pin: pin.value,
            pinConfirm: confirm.value,
            maxConnections: n,
          });
          pin.value = '';
          confirm.value = '';
          download(file.blob, file.name);
          d.close();
          done(`Licence file ${file.name} downloaded.`);
        },
      },
      { text: 'Cancel', run: (d) => d.close() },
    ],
  );
}

export const operatorsPage: PageDef = {
  id: 'operators',
  title: 'Operator management',
  role: 'system-manager',
  async render(ctx) {
    const { message, body } = frame(ctx, 'operators', 'Operator management');
    let page = 1;
    let size = pageSize;
    const load = async (note?: string) => {
      try {
        const res = await ctx.api.get<{ operators: Operator[]; page: PageInfo }>('/api/operators', {
          page,
          size,
        });
        const t = table<Operator>({
          id: 'operators-table',
          rows: res.operators,
          rowKey: (o) => o.name,
          selectable: true,
          columns: [
            { key: 'name', title: 'Account name', value: (o) => o.name },
            { key: 'description', title: 'Description', value: (o) => o.description },
            { key: 'creator', title: 'Creator', value: (o) => o.creator },
            {
              key: 'createdAt',
              title: 'Created',
              value: (o) => o.createdAt,
              cell: (o) => timeCell(o.createdAt),
            },
          ],
          operations: (o) => [
            button(
              'Detail',
              () => operatorDetail(ctx, o.name).catch((e) => message.show('error', words(e))),
              {
                class: 'link',
                'data-op': 'detail',
              },
            ),
            button('Licence', () => licenceDialog(ctx, o.name, (t) => message.show('ok', t)), {
              class: 'link',
              'data-op': 'licence',
            }),
            button(
              'Delete',
              async () => {
                if (
                  !(await confirmBox(
                    `Delete operator ${o.name}? Its white list entries and key bindings are removed and its licence stops working.`,
                    'Delete',
                  ))
                )
                  return;
                try {
                  await ctx.api.send('DELETE', `/api/operators/${encodeURIComponent(o.name)}`);
                  await load(`Operator ${o.name} deleted.`);
                } catch (e) {
                  message.show('error', words(e));
                }
              },
              { class: 'link danger', 'data-op': 'delete' },
            ),
          ],
          empty: 'No operator yet.',
        });
        body.replaceChildren(
          h(
            'div',
            { class: 'toolbar' },
            button('Add operator', addDialog, { class: 'primary', id: 'add-operator' }),
          ),
          t.el,
          pager(res.page, (p, s) => {
            page = p;
            size = s;
            void load();
          }),
        );
        if (note) message.show('ok', note);
      } catch (e) {
        message.show('error', words(e));
      }
    };
    const addDialog = () => {
      const name = input('op-name', { 'data-field': 'name', maxlength: 32, autocomplete: 'off' });
      const description = input('op-description', { 'data-field': 'description', maxlength: 256 });
      dialog(
        'add-operator-dialog',
        'Add operator',
        [
          field('Account name', name, '1–32 letters, digits, _ . - ; starts with a letter or digit'),
          field('Description', description, 'up to 256 characters'),
        ],
        [
          {
            text: 'OK',
            primary: true,
            id: 'add-operator-ok',
            run: async (d) => {
              if (!OPERATOR_NAME.test(name.value))
                return void refuseField(
                  d.body,
                  'op-name',
                  'An account name is 1–32 letters, digits, _ . - and starts with a letter or digit.',
                );
              await ctx.api.send('POST', '/api/operators', {
                name: name.value,
                ...(description.value ? { description: description.value } : {}),
              });
              d.close();
              await load(`Operator ${name.value} added.`);
            },
          },
          { text: 'Cancel', run: (d) => d.close() },
        ],
      );
    };
    await load();
  },
};

export const whitelistPage: PageDef = {
  id: 'whitelist',
  title: 'White list management',
  role: 'system-manager',
  async render(ctx) {
    const { message, body } = frame(ctx, 'whitelist', 'White list management');
    let page = 1;
    let size = pageSize;
    const load = async (note?: string) => {
      try {
        const res = await ctx.api.get<{ entries: WhitelistEntry[] }>('/api/whitelist');
        // The device answers the whole list (grouped by IP); it is paged here.
        const total = res.entries.length;
        page = Math.min(page, Math.max(1, Math.ceil(total / size)));
        const shown = res.entries.slice((page - 1) * size, page * size);
        const t = table<WhitelistEntry>({
          id: 'whitelist-table',
          rows: shown,
          rowKey: (e) => e.ip,
          selectable: true,
          columns: [
            {
              key: 'ip',
              title: 'IP address',
              value: (e) =>
                e.ip
                  .split('.')
                  .map((p) => p.padStart(3, '0'))
                  .join('.'),
              cell: (e) => e.ip,
            },
            { key: 'operators', title: 'Operators', value: (e) => e.operators.map((o) => o.name).join(', ') },
            { key: 'count', title: 'Count', value: (e) => e.operators.length },
          ],
          operations: (e) => [
            button(
              'Detail',
              async () => {
                try {
                  const d = await ctx.api.get<WhitelistEntry>(`/api/whitelist/${e.ip}`);
                  dialog(
                    'whitelist-detail',
                    `White list ${d.ip}`,
                    [
                      table({
                        id: 'whitelist-detail-table',
                        rows: d.operators,
                        rowKey: (o) => o.name,
                        columns: [
                          { key: 'name', title: 'Operator', value: (o) => o.name },
                          {
                            key: 'addedAt',
                            title: 'Added',
                            value: (o) => o.addedAt,
                            cell: (o) => timeCell(o.addedAt),
                          },
                          { key: 'addedBy', title: 'Added by', value: (o) => o.addedBy },
                        ],
                      }).el,
                    ],
                    [{ text: 'Close', run: (x) => x.close() }],
                  );
                } catch (err) {
                  message.show('error', words(err));
                }
              },
              { class: 'link', 'data-op': 'detail' },
            ),
            button(
              'Delete',
              async () => {
                if (
                  !(await confirmBox(`Delete ${e.ip} and all its operators from the white list?`, 'Delete'))
                )
                  return;
                try {
                  await ctx.api.send('DELETE', `/api/whitelist/${e.ip}`);
                  await load(`${e.ip} deleted from the white list.`);
                } catch (err) {
                  message.show('error', words(err));
                }
              },
              { class: 'link danger', 'data-op': 'delete' },
            ),
          ],
          empty: 'The white list is empty.',
        });
        body.replaceChildren(
          h(
            'div',
            { class: 'toolbar' },
            button('Add white list', () => void addDialog(), { class: 'primary', id: 'add-whitelist' }),
          ),
          t.el,
          pager(
            {
              page,
              size,
              from: shown.length ? (page - 1) * size + 1 : 0,
              to: (page - 1) * size + shown.length,
              total,
            },
            (p, n) => {
              page = p;
              size = n;
              void load();
            },
          ),
        );
        if (note) message.show('ok', note);
      } catch (e) {
        message.show('error', words(e));
      }
    };
    const addDialog = async () => {
      let names: string[] = [];
      try {
        names = (
          await ctx.api.get<{ operators: Operator[] }>('/api/operators', { size: 1000 })
        ).operators.map((o) => o.name);
      } catch (e) {
        message.show('error', words(e));
        return;
      }
      const ip = input('wl-ip', { 'data-field': 'ip', placeholder: '192.168.1.20', autocomplete: 'off' });
      const boxes = names.map((n) => h('input', { type: 'checkbox', value: n, id: `wl-op-${n}` }));
      const list = h(
        'div',
        { class: 'choices', id: 'wl-operators', 'data-field': 'operators' },
        ...names.map((n, i) => h('label', { class: 'choice' }, boxes[i]!, ` ${n}`)),
      );
      dialog(
        'add-whitelist-dialog',
        'Add white list',
        [field('IP address', ip, 'IPv4, dotted quad'), field('Operators', list)],
        [
          {
            text: 'OK',
            primary: true,
            id: 'add-whitelist-ok',
            run: async (d) => {
              const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
              let ok = true;
              if (!IPV4.test(ip.value))
                ok = refuseField(d.body, 'wl-ip', 'Give an IPv4 address like 192.168.1.20.');
              if (chosen.length === 0)
                ok = refuseField(d.body, 'wl-operators', 'Choose at least one operator.');
              if (!ok) return;
              await ctx.api.send('POST', '/api/whitelist', { ip: ip.value, operators: chosen });
              d.close();
              await load(`${ip.value} added to the white list for ${chosen.join(', ')}.`);
            },
          },
          { text: 'Cancel', run: (d) => d.close() },
        ],
      );
    };
    await load();
  },
};
