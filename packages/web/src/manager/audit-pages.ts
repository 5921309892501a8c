/** The Audit Manager's pages (manual §4.4.3): logs, running-log parameters and files, network. */

import type { PageInfo } from './api.js';
import { frame, networkBox, type PageContext, type PageDef } from './page.js';
import {
  button,
  clearRefusals,
  details,
  dialog,
  download,
  field,
  h,
  input,
  pager,
  pageSize,
  refuseField,
  select,
  showRefusal,
  showTime,
  table,
  timeBound,
  timeCell,
  words,
} from './ui.js';

interface AuditEntry {
  seq: number;
  time: string;
  source: string;
  account: string;
  clientIp: string;
  businessType: string;
  result: string;
  content: string;
  details: string;
  prevDigest: string;
  digest: string;
}

interface Chain {
  ok: boolean;
  count?: number;
  badSeq?: number;
  message?: string;
}

interface Settings {
  level: string;
  retentionDays: number;
  backupSizeMb: number;
}

function logPage(log: 'manager' | 'operator'): PageDef {
  const id = `${log}-log`;
  const title = log === 'manager' ? 'Manager log' : 'Operator log';
  return {
    id,
    title,
    role: 'audit-manager',
    async render(ctx: PageContext) {
      const { message, body } = frame(ctx, id, title);
      const from = input('q-from', { type: 'datetime-local', 'data-field': 'from' });
      const to = input('q-to', { type: 'datetime-local', 'data-field': 'to' });
      const format = select('export-format', [
        ['csv', 'CSV'],
        ['json', 'JSON'],
      ]);
      const chain = h('div', { class: 'chain', id: 'chain-status' });
      const host = h('div', {});
      let page = 1;
      let size = pageSize;
      let current: ReturnType<typeof table<AuditEntry>> | null = null;
      const range = () => ({
        ...(from.value ? { from: timeBound(from, 'from') } : {}),
        ...(to.value ? { to: timeBound(to, 'to') } : {}),
      });
      const queryForm = h(
        'div',
        { class: 'query' },
        field('Start time', from),
        field('End time', to),
        button(
          'Query',
          () => {
            page = 1;
            void load();
          },
          { class: 'primary', id: 'query' },
        ),
        h('div', { class: 'hint tz' }, 'Times are the device’s clock (UTC).'),
      );
      const exportAs = async (what: 'selected' | 'query') => {
        try {
          let body: Record<string, unknown> = { log, format: format.value };
          if (what === 'selected') {
            const seqs = current?.selected().map((e) => e.seq) ?? [];
            if (seqs.length === 0) {
              message.show('error', 'Select entries in the table first, or export the current query.');
              return;
            }
            body = { ...body, seqs };
          } else body = { ...body, ...range() };
          const file = await ctx.api.file('POST', '/api/logs/export', body);
          download(file.blob, file.name);
          message.show('ok', `Exported as ${file.name}.`);
        } catch (e) {
          message.show('error', words(e));
        }
      };
      const toolbar = h(
        'div',
        { class: 'toolbar' },
        h('label', { for: 'export-format' }, 'Export as '),
        format,
        button('Export current selected data', () => void exportAs('selected'), { id: 'export-selected' }),
        button('Export current query data', () => void exportAs('query'), { id: 'export-query' }),
      );
      body.replaceChildren(queryForm, chain, toolbar, host);

      const load = async () => {
        clearRefusals(queryForm);
        if (from.value && to.value && from.value > to.value) {
          refuseField(queryForm, 'q-from', 'The start time is after the end time.');
          return;
        }
        try {
          const res = await ctx.api.get<{ entries: AuditEntry[]; page: PageInfo; chain: Chain }>(
            `/api/logs/${log}`,
            {
              ...range(),
              page,
              size,
            },
          );
          chain.className = `chain ${res.chain.ok ? 'ok' : 'broken'}`;
          chain.textContent = res.chain.ok
            ? `✔ Audit chain verified: ${res.chain.count ?? ''} entries intact.`
            : `✖ Audit chain broken at entry ${res.chain.badSeq ?? '?'}: ${res.chain.message ?? ''}`;
          current = table<AuditEntry>({
            id: 'log-table',
            rows: res.entries,
            rowKey: (e) => String(e.seq),
            selectable: true,
            columns: [
              { key: 'seq', title: 'No.', value: (e) => e.seq },
              { key: 'time', title: 'Time', value: (e) => e.time, cell: (e) => timeCell(e.time) },
              { key: 'source', title: 'Source', value: (e) => e.source },
              { key: 'account', title: 'Account', value: (e) => e.account },
              { key: 'clientIp', title: 'Client IP', value: (e) => e.clientIp },
              { key: 'businessType', title: 'Business type', value: (e) => e.businessType },
              {
                key: 'result',
                title: 'Result',
                value: (e) => e.result,
                cell: (e) => h('span', { class: `result ${e.result}` }, e.result),
              },
              { key: 'content', title: 'Content', value: (e) => e.content },
            ],
            operations: (e) => [
              button(
                'Details',
                () => {
                  dialog(
                    'log-detail',
                    `Log entry ${e.seq}`,
                    [
                      details([
                        ['No.', String(e.seq)],
                        ['Time', showTime(e.time)],
                        ['Source', e.source],
                        ['Account', e.account],
                        ['Client IP', e.clientIp],
                        ['Business type', e.businessType],
                        ['Result', e.result],
                        ['Content', e.content],
                        ['Details', e.details || '—'],
                        ['Digest', h('code', {}, e.digest)],
                        ['Previous digest', h('code', {}, e.prevDigest)],
                      ]),
                    ],
                    [{ text: 'Close', run: (x) => x.close() }],
                  );
                },
                { class: 'link', 'data-op': 'details' },
              ),
            ],
            empty: 'No entry in this time range.',
          });
          host.replaceChildren(
            current.el,
            pager(res.page, (p, s) => {
              page = p;
              size = s;
              void load();
            }),
          );
        } catch (e) {
          showRefusal(queryForm, message, e);
        }
      };
      await load();
    },
  };
}

export const managerLogPage = logPage('manager');
export const operatorLogPage = logPage('operator');

export const logSettingsPage: PageDef = {
  id: 'log-settings',
  title: 'Running log parameters',
  role: 'audit-manager',
  async render(ctx) {
    const { message, body } = frame(ctx, 'log-settings', 'Running log parameters');
    try {
      const s = await ctx.api.get<Settings>('/api/running-log/settings');
      const level = select(
        'level',
        ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => [l, l.toUpperCase()]),
        { 'data-field': 'level' },
      );
      level.value = s.level;
      const days = input('retention-days', {
        type: 'number',
        min: 1,
        max: 365,
        value: s.retentionDays,
        'data-field': 'retentionDays',
      });
      const sizeMb = input('size-mb', {
        type: 'number',
        min: 1,
        max: 10240,
        value: s.backupSizeMb,
        'data-field': 'backupSizeMb',
      });
      const form = h(
        'form',
        { class: 'settings-form', id: 'log-settings-form' },
        field('Log level', level),
        field('Retention (days)', days, '1 to 365'),
        field('Backup size threshold (MB)', sizeMb, '1 to 10240'),
      );
      const save = button(
        'Save',
        async () => {
          clearRefusals(form);
          const d = Number(days.value);
          const m = Number(sizeMb.value);
          let ok = true;
          if (!Number.isInteger(d) || d < 1 || d > 365)
            ok = refuseField(form, 'retention-days', 'Keep logs from 1 to 365 days.');
          if (!Number.isInteger(m) || m < 1 || m > 10240)
            ok = refuseField(form, 'size-mb', 'The threshold is from 1 to 10240 MB.');
          if (!ok) return;
          try {
            const res = await ctx.api.send<{ settings: Settings; deleted: string[] }>(
              'PUT',
              '/api/running-log/settings',
              {
                level: level.value,
                retentionDays: d,
                backupSizeMb: m,
              },
            );
            message.show(
              'ok',
              `Saved: ${res.settings.level.toUpperCase()}, ${res.settings.retentionDays} days, ${res.settings.backupSizeMb} MB.${res.deleted.length ? ` Deleted: ${res.deleted.join(', ')}.` : ''}`,
            );
          } catch (e) {
            showRefusal(form, message, e);
          }
        },
        { class: 'primary', id: 'save-settings' },
      );
      form.addEventListener('submit', (e) => e.preventDefault());
      body.replaceChildren(
        h('div', { class: 'card-box narrow' }, form, h('div', { class: 'toolbar' }, save)),
      );
    } catch (e) {
      message.show('error', words(e));
    }
  },
};

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** A running-log line (pino JSON) as a person reads it: time, level, message, then the other fields. */
function readableLine(line: string): string {
  try {
    const { level, time, msg, svc: _svc, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const when = typeof time === 'number' ? showTime(new Date(time).toISOString()) : '';
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `${when} ${LEVELS[Number(level)] ?? String(level)} ${String(msg ?? '')}${extra}`;
  } catch {
    return line;
  }
}

export const runningLogPage: PageDef = {
  id: 'running-log',
  title: 'Running log',
  role: 'audit-manager',
  async render(ctx) {
    const { message, body } = frame(ctx, 'running-log', 'Running log');
    const viewer = h('pre', { class: 'log-view', id: 'log-view' }, 'Choose View on a file.');
    try {
      const res = await ctx.api.get<{
        files: { name: string; size: number; modifiedAt: string; current: boolean }[];
      }>('/api/running-logs');
      const t = table({
        id: 'running-logs-table',
        rows: res.files,
        rowKey: (f) => f.name,
        columns: [
          {
            key: 'name',
            title: 'File',
            value: (f) => f.name,
            cell: (f) => (f.current ? `${f.name} (current)` : f.name),
          },
          { key: 'size', title: 'Size (bytes)', value: (f) => f.size },
          {
            key: 'modifiedAt',
            title: 'Modified',
            value: (f) => f.modifiedAt,
            cell: (f) => timeCell(f.modifiedAt),
          },
        ],
        operations: (f) => [
          button(
            'View',
            async () => {
              try {
                const tail = await ctx.api.get<{ lines: string[]; truncated: boolean }>(
                  `/api/running-logs/${f.name}/tail`,
                  { lines: 200 },
                );
                viewer.textContent =
                  (tail.truncated ? '… (earlier lines not shown)\n' : '') +
                  tail.lines.map(readableLine).join('\n');
              } catch (e) {
                message.show('error', words(e));
              }
            },
            { class: 'link', 'data-op': 'view' },
          ),
          button(
            'Download',
            async () => {
              try {
                const file = await ctx.api.file('GET', `/api/running-logs/${f.name}`);
                download(file.blob, file.name);
              } catch (e) {
                message.show('error', words(e));
              }
            },
            { class: 'link', 'data-op': 'download' },
          ),
        ],
      });
      body.replaceChildren(t.el, h('h2', {}, 'Last lines'), viewer);
    } catch (e) {
      message.show('error', words(e));
    }
  },
};

export const networkPage: PageDef = {
  id: 'network',
  title: 'Device network configuration',
  role: 'audit-manager',
  async render(ctx) {
    const { message, body } = frame(ctx, 'network', 'Device network configuration');
    try {
      const res = await ctx.api.get<{ network: Parameters<typeof networkBox>[0]; toolWhitelist: string[] }>(
        '/api/network',
      );
      body.replaceChildren(
        networkBox(res.network),
        h(
          'div',
          { class: 'card-box' },
          h('h2', {}, 'Tool IP white list'),
          details([['Addresses', res.toolWhitelist.join(', ') || 'none']]),
        ),
      );
    } catch (e) {
      message.show('error', words(e));
    }
  },
};
