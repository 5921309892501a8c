/** The Safe Manager's pages (manual §4.4.2): symmetric and asymmetric key management. */

import { type Api, ApiError, type PageInfo } from './api.js';
import { frame, type PageContext, type PageDef } from './page.js';
import {
  button,
  confirmBox,
  details,
  dialog,
  download,
  field,
  fileBase64,
  h,
  input,
  pager,
  pageSize,
  progress,
  refuseField,
  select,
  showTime,
  table,
  timeBound,
  timeCell,
  words,
} from './ui.js';

type KeyClass = 'symmetric' | 'asymmetric';

interface KeyView {
  index: number;
  type: string;
  keyClass: KeyClass;
  creator: string;
  status: 'normal' | 'discard' | 'invalid';
  invalidReason: 'expired' | 'manual' | null;
  validityDays: number;
  description: string;
  createdAt: string;
  expiresAt: string;
  usage: string[];
  checkValue: string | null;
  publicKey: string | null;
}

interface KeyDetail extends KeyView {
  operators: { operator: string; boundAt: string; boundBy: string }[];
}

interface KeyType {
  name: string;
  label: string;
  keyClass: KeyClass;
  allowedUsage: string[];
  defaultUsage: string[];
}

interface Job {
  status: 'running' | 'done' | 'failed';
  done: number;
  total: number;
  result: unknown;
  error: { code: string; message: string; details: Record<string, unknown> } | null;
  hasFile?: boolean;
}

/** Follows a job until it ends, drawing its progress; a failed job is an ApiError. */
async function followJob(api: Api, jobId: string, bar: ReturnType<typeof progress>): Promise<Job> {
  for (;;) {
    const job = await api.get<Job>(`/api/jobs/${jobId}`);
    bar.set(job.done, job.total);
    if (job.status === 'done') return job;
    if (job.status === 'failed') {
      throw new ApiError(job.error?.code ?? 'ERR_INTERNAL', job.error?.message ?? 'The job failed.', 0, {
        ...(job.error?.details ?? {}),
        report: job.result,
      });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The outcome of an import or a restore in words: "2 imported, 1 skipped (already there)". */
function reportWords(job: Job, total: number, verb: string): string {
  const r = job.result as { written?: number; skipped?: number } | null;
  if (typeof r?.written !== 'number') return `${total} key(s) ${verb}`;
  return `${r.written} ${verb}${r.skipped ? `, ${r.skipped} skipped (already there)` : ''}`;
}

interface EntryOutcome {
  where: string;
  index: number | null;
  type: string | null;
  outcome: string;
  code?: string;
  message: string;
}

/** A refused file's report, entry by entry (what was refused, where in the file, and why). */
function reportTable(error: unknown): HTMLElement | null {
  const report =
    error instanceof ApiError ? (error.details['report'] as { entries?: EntryOutcome[] } | null) : null;
  const entries = report?.entries?.filter((e) => e.outcome !== 'ready') ?? [];
  if (entries.length === 0) return null;
  return table<EntryOutcome>({
    id: 'transfer-report',
    rows: entries.slice(0, 200),
    rowKey: (e) => e.where,
    columns: [
      { key: 'where', title: 'Where', value: (e) => e.where },
      { key: 'outcome', title: 'Outcome', value: (e) => e.outcome },
      { key: 'code', title: 'Code', value: (e) => e.code ?? '' },
      { key: 'message', title: 'Why', value: (e) => e.message },
    ],
  }).el;
}

/** Follows a job; when it fails, draws its report in the dialog before the refusal is shown. */
async function followJobIn(
  api: Api,
  jobId: string,
  bar: ReturnType<typeof progress>,
  host: HTMLElement,
): Promise<Job> {
  try {
    return await followJob(api, jobId, bar);
  } catch (error) {
    const t = reportTable(error);
    host.replaceChildren(...(t ? [h('h3', {}, 'Report'), t] : []));
    throw error;
  }
}

function keysPage(keyClass: KeyClass): PageDef {
  const id = keyClass === 'symmetric' ? 'symmetric-keys' : 'asymmetric-keys';
  const title = keyClass === 'symmetric' ? 'Symmetric key management' : 'Asymmetric key management';
  return {
    id,
    title,
    role: 'safe-manager',
    async render(ctx: PageContext) {
      const { message, body } = frame(ctx, id, title);
      const from = input('q-from', { type: 'datetime-local', 'data-field': 'from' });
      const to = input('q-to', { type: 'datetime-local', 'data-field': 'to' });
      const status = select('q-status', [
        ['', 'All'],
        ['normal', 'Normal'],
        ['discard', 'Discarded'],
        ['invalid', 'Invalid'],
      ]);
      let page = 1;
      let size = pageSize;
      let current: ReturnType<typeof table<KeyView>> | null = null;
      const query = () => ({
        class: keyClass,
        ...(from.value ? { from: timeBound(from, 'from') } : {}),
        ...(to.value ? { to: timeBound(to, 'to') } : {}),
        ...(status.value ? { status: status.value } : {}),
      });
      const tableHost = h('div', {});
      const queryForm = h(
        'div',
        { class: 'query' },
        field('Created from', from),
        field('To', to),
        field('Status', status),
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
      const toolbar = h(
        'div',
        { class: 'toolbar' },
        button('Add key', () => void addDialog(), { class: 'primary', id: 'add-key' }),
        button('Import', () => importDialog(), { id: 'import-keys' }),
        button('Back up', () => backupDialog(), { id: 'backup-keys' }),
        button('Restore backup', () => restoreDialog(), { id: 'restore-backup' }),
      );
      body.replaceChildren(queryForm, toolbar, tableHost);

      const act = async (what: () => Promise<unknown>, note: string) => {
        try {
          await what();
          await load(note);
        } catch (e) {
          message.show('error', words(e));
        }
      };

      const load = async (note?: string) => {
        if (from.value && to.value && from.value > to.value) {
          message.show('error', 'The start of the time range is after its end.');
          return;
        }
        try {
          const res = await ctx.api.get<{ keys: KeyView[]; page: PageInfo }>('/api/keys', {
            ...query(),
            page,
            size,
          });
          current = table<KeyView>({
            id: 'keys-table',
            rows: res.keys,
            rowKey: (k) => String(k.index),
            selectable: true,
            columns: [
              { key: 'index', title: 'Index', value: (k) => k.index },
              { key: 'type', title: 'Type', value: (k) => k.type },
              {
                key: 'status',
                title: 'Status',
                value: (k) => k.status,
                cell: (k) =>
                  h(
                    'span',
                    { class: `status ${k.status}` },
                    k.status + (k.invalidReason ? ` (${k.invalidReason})` : ''),
                  ),
              },
              keyClass === 'symmetric'
                ? { key: 'check', title: 'Check value', value: (k) => k.checkValue ?? '' }
                : { key: 'usage', title: 'Usage', value: (k) => k.usage.join(' ') },
              { key: 'creator', title: 'Creator', value: (k) => k.creator },
              {
                key: 'createdAt',
                title: 'Created',
                value: (k) => k.createdAt,
                cell: (k) => timeCell(k.createdAt),
              },
              {
                key: 'expiresAt',
                title: 'Expires',
                value: (k) => k.expiresAt,
                cell: (k) => timeCell(k.expiresAt),
              },
              { key: 'description', title: 'Description', value: (k) => k.description },
            ],
            operations: (k) => [
              button('Detail', () => void detail(k.index), { class: 'link', 'data-op': 'detail' }),
              k.status === 'normal'
                ? button(
                    'Discard',
                    () =>
                      void act(
                        () => ctx.api.send('POST', `/api/keys/${k.index}/discard`),
                        `Key ${k.index} discarded.`,
                      ),
                    { class: 'link', 'data-op': 'discard' },
                  )
                : null,
              k.status === 'discard'
                ? button(
                    'Restore',
                    () =>
                      void act(
                        () => ctx.api.send('POST', `/api/keys/${k.index}/restore`),
                        `Key ${k.index} restored.`,
                      ),
                    { class: 'link', 'data-op': 'restore' },
                  )
                : null,
              k.status !== 'invalid'
                ? button('Operators', () => void bindDialog(k.index), {
                    class: 'link',
                    'data-op': 'operators',
                  })
                : null,
              k.status !== 'invalid'
                ? button(
                    'Invalidate',
                    async () => {
                      if (
                        await confirmBox(
                          `Make key ${k.index} invalid? An invalid key never comes back.`,
                          'Invalidate',
                        )
                      )
                        await act(
                          () => ctx.api.send('POST', `/api/keys/${k.index}/invalidate`),
                          `Key ${k.index} is now invalid.`,
                        );
                    },
                    { class: 'link danger', 'data-op': 'invalidate' },
                  )
                : button(
                    'Delete',
                    async () => {
                      if (await confirmBox(`Delete key ${k.index} for good?`, 'Delete'))
                        await act(
                          () => ctx.api.send('DELETE', `/api/keys/${k.index}`),
                          `Key ${k.index} deleted.`,
                        );
                    },
                    { class: 'link danger', 'data-op': 'delete' },
                  ),
            ],
            empty: 'No key matches the query.',
          });
          tableHost.replaceChildren(
            current.el,
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

      const detail = async (index: number) => {
        try {
          const k = await ctx.api.get<KeyDetail>(`/api/keys/${index}`);
          dialog(
            'key-detail',
            `Key ${k.index}`,
            [
              details([
                ['Index', String(k.index)],
                ['Type', k.type],
                ['Status', k.status + (k.invalidReason ? ` (${k.invalidReason})` : '')],
                k.checkValue !== null
                  ? ['Check value', k.checkValue]
                  : ['Public key', h('pre', { class: 'pem' }, k.publicKey ?? '')],
                ['Usage', k.usage.join(', ')],
                ['Validity', `${k.validityDays} days, ${showTime(k.createdAt)} to ${showTime(k.expiresAt)}`],
                ['Creator', k.creator],
                ['Description', k.description || '—'],
                [
                  'Bound operators',
                  k.operators.length ? k.operators.map((o) => o.operator).join(', ') : 'none',
                ],
              ]),
            ],
            [{ text: 'Close', run: (x) => x.close() }],
          );
        } catch (e) {
          message.show('error', words(e));
        }
      };

      const addDialog = async () => {
        let types: KeyType[];
        try {
          types = (await ctx.api.get<{ types: KeyType[] }>('/api/keys/types')).types.filter(
            (t) => t.keyClass === keyClass,
          );
        } catch (e) {
          message.show('error', words(e));
          return;
        }
        const type = select(
          'key-type',
          types.map((t) => [t.name, t.label || t.name]),
          { 'data-field': 'type' },
        );
        const index = input('key-index', {
          type: 'number',
          min: 1,
          placeholder: 'next free',
          'data-field': 'index',
        });
        const validity = input('key-validity', {
          type: 'number',
          min: 1,
          max: 36500,
          value: 3650,
          'data-field': 'validityDays',
        });
        const description = input('key-description', { maxlength: 256, 'data-field': 'description' });
        const count = input('key-count', {
          type: 'number',
          min: 1,
          max: 10000,
          value: 1,
          'data-field': 'count',
        });
        const bar = progress('add-key-progress');
        const usageBox = h('div', { class: 'choices', id: 'key-usage', 'data-field': 'usage' });
        const drawUsage = () => {
          const t = types.find((x) => x.name === type.value);
          usageBox.replaceChildren(
            ...(t?.allowedUsage ?? []).map((u) => {
              const b = h('input', { type: 'checkbox', value: u, id: `usage-${u}` });
              b.checked = t?.defaultUsage.includes(u) ?? false;
              return h('label', { class: 'choice' }, b, ` ${u}`);
            }),
          );
        };
        type.addEventListener('change', drawUsage);
        drawUsage();
        dialog(
          'add-key-dialog',
          'Add key',
          [
            field('Key type', type),
            field(
              'How many',
              count,
              '1 to 10000; several keys are a job with progress, at the next free indexes',
            ),
            field('Index', index, 'empty: the next free index (one key only)'),
            field('Validity (days)', validity, '1 to 36500'),
            field('Description', description),
            field('Usage', usageBox),
            bar,
          ],
          [
            {
              text: 'OK',
              primary: true,
              id: 'add-key-ok',
              run: async (d) => {
                const days = Number(validity.value);
                let ok = true;
                if (!Number.isInteger(days) || days < 1 || days > 36500)
                  ok = refuseField(d.body, 'key-validity', 'Give a whole number of days from 1 to 36500.');
                if (index.value && (!Number.isInteger(Number(index.value)) || Number(index.value) < 1))
                  ok = refuseField(d.body, 'key-index', 'An index is a whole number from 1.');
                const usage = [...usageBox.querySelectorAll<HTMLInputElement>('input:checked')].map(
                  (b) => b.value,
                );
                if (usage.length === 0) ok = refuseField(d.body, 'key-usage', 'Choose at least one usage.');
                const n = Number(count.value);
                if (!Number.isInteger(n) || n < 1 || n > 10000)
                  ok = refuseField(d.body, 'key-count', 'Give a whole number from 1 to 10000.');
                else if (n > 1 && index.value)
                  ok = refuseField(d.body, 'key-index', 'Leave the index empty to add several keys.');
                if (!ok) return;
                if (n > 1) {
                  const started = await ctx.api.send<{ jobId: string; total: number }>(
                    'POST',
                    '/api/keys/batch',
                    {
                      type: type.value,
                      count: n,
                      validityDays: days,
                      ...(description.value ? { description: description.value } : {}),
                      usage,
                    },
                  );
                  await followJob(ctx.api, started.jobId, bar);
                  d.close();
                  await load(`${n} ${type.value} keys added.`);
                  return;
                }
                const key = await ctx.api.send<KeyView>('POST', '/api/keys', {
                  type: type.value,
                  ...(index.value ? { index: Number(index.value) } : {}),
                  validityDays: days,
                  ...(description.value ? { description: description.value } : {}),
                  usage,
                });
                d.close();
                await load(`Key ${key.index} (${key.type}) added.`);
              },
            },
            { text: 'Cancel', run: (d) => d.close() },
          ],
        );
      };

      const importDialog = () => {
        const file = input('import-file', { type: 'file', 'data-field': 'content' });
        const type = input('import-type', { placeholder: 'recognised from the file', 'data-field': 'type' });
        const kek = input('import-kek', { type: 'number', min: 1, placeholder: 'none', 'data-field': 'kek' });
        const validity = input('import-validity', {
          type: 'number',
          min: 1,
          max: 36500,
          placeholder: '3650',
          'data-field': 'validityDays',
        });
        const format = select(
          'import-format',
          [
            ['', 'Recognise from the content'],
            ['pem', 'PEM'],
            ['json', 'JSON (JWK, JWK Set, import list)'],
            ['der', 'DER (PKCS#8)'],
            ['base64', 'Base64 (PKCS#8)'],
            ['hex', 'Hex, one secret a line'],
          ],
          { 'data-field': 'format' },
        );
        const bar = progress('import-progress');
        const report = h('div', { class: 'report' });
        dialog(
          'import-dialog',
          'Import keys from a file',
          [
            field('Key file', file, 'PEM, JWK, DER, hex lines or a Coffer import list (up to 16 MiB)'),
            field('Format', format),
            field('Key type (for hex lines)', type, 'e.g. AES-256, HMAC-SHA256'),
            field(
              'Key encryption key (for wrapped keys)',
              kek,
              'the index of a stored AES key with usage unwrap',
            ),
            field('Validity (days)', validity, 'for keys whose entries do not say; 1 to 36500'),
            bar,
            report,
          ],
          [
            {
              text: 'Import',
              primary: true,
              id: 'import-ok',
              run: async (d) => {
                const f = file.files?.[0];
                if (!f) return void refuseField(d.body, 'import-file', 'Choose a file.');
                if (kek.value && !(Number.isInteger(Number(kek.value)) && Number(kek.value) >= 1))
                  return void refuseField(d.body, 'import-kek', 'A key index is a whole number from 1.');
                const days = Number(validity.value || 3650);
                if (!Number.isInteger(days) || days < 1 || days > 36500)
                  return void refuseField(
                    d.body,
                    'import-validity',
                    'Give a whole number of days from 1 to 36500.',
                  );
                if (f.size > 12 * 1024 * 1024)
                  return void refuseField(
                    d.body,
                    'import-file',
                    'The file is over 12 MiB (16 MiB once encoded).',
                  );
                const started = await ctx.api.send<{ jobId: string; total: number }>(
                  'POST',
                  '/api/keys/import',
                  {
                    content: await fileBase64(f),
                    fileName: f.name.slice(0, 255),
                    ...(format.value ? { format: format.value } : {}),
                    ...(kek.value ? { kek: Number(kek.value) } : {}),
                    ...(validity.value ? { validityDays: Number(validity.value) } : {}),
                    ...(type.value ? { type: type.value } : {}),
                  },
                );
                bar.set(0, started.total);
                const job = await followJobIn(ctx.api, started.jobId, bar, report);
                d.close();
                await load(`${f.name}: ${reportWords(job, started.total, 'imported')}.`);
              },
            },
            { text: 'Close', run: (d) => d.close() },
          ],
        );
      };

      const backupDialog = () => {
        const scope = select('backup-scope', [
          ['selected', 'Current selected data'],
          ['query', 'Current query data'],
        ]);
        const bar = progress('backup-progress');
        dialog(
          'backup-dialog',
          'Back up keys',
          [field('Back up', scope), bar],
          [
            {
              text: 'Back up',
              primary: true,
              id: 'backup-ok',
              run: async (d) => {
                let body: unknown;
                if (scope.value === 'selected') {
                  const indexes = current?.selected().map((k) => k.index) ?? [];
                  if (indexes.length === 0)
                    return void refuseField(
                      d.body,
                      'backup-scope',
                      'Select keys in the table first, or back up the current query.',
                    );
                  body = { indexes };
                } else {
                  const { class: c, ...rest } = query();
                  body = { query: { class: c, ...rest } };
                }
                const started = await ctx.api.send<{ jobId: string; total: number }>(
                  'POST',
                  '/api/keys/backup',
                  body,
                );
                await followJob(ctx.api, started.jobId, bar);
                const out = await ctx.api.file('GET', `/api/jobs/${started.jobId}/file`);
                download(out.blob, out.name);
                d.close();
                message.show('ok', `Backup of ${started.total} key(s) downloaded as ${out.name}.`);
              },
            },
            { text: 'Cancel', run: (d) => d.close() },
          ],
        );
      };

      const restoreDialog = () => {
        const file = input('restore-file', {
          type: 'file',
          accept: '.json,.backup',
          'data-field': 'content',
        });
        const renumber = h('input', { type: 'checkbox', id: 'restore-renumber' });
        const bar = progress('restore-progress');
        const report = h('div', { class: 'report' });
        dialog(
          'restore-dialog',
          'Restore a key backup',
          [
            field('Backup file', file),
            h('label', { class: 'choice' }, renumber, ' Give clashing keys the next free index'),
            bar,
            report,
          ],
          [
            {
              text: 'Restore',
              primary: true,
              id: 'restore-ok',
              run: async (d) => {
                const f = file.files?.[0];
                if (!f) return void refuseField(d.body, 'restore-file', 'Choose a backup file.');
                const started = await ctx.api.send<{ jobId: string; total: number }>(
                  'POST',
                  '/api/keys/restore',
                  {
                    content: await fileBase64(f),
                    fileName: f.name.slice(0, 255),
                    renumber: renumber.checked,
                  },
                );
                const job = await followJobIn(ctx.api, started.jobId, bar, report);
                d.close();
                await load(`Backup ${f.name} restored: ${reportWords(job, started.total, 'restored')}.`);
              },
            },
            { text: 'Close', run: (d) => d.close() },
          ],
        );
      };

      /** The bind / unbind operators dialog: every operator, the bound ones ticked; OK applies the change. */
      const bindDialog = async (index: number) => {
        let names: string[];
        let bound: Set<string>;
        try {
          names = (await ctx.api.get<{ names: string[] }>('/api/operator-names')).names;
          bound = new Set(
            (await ctx.api.get<KeyDetail>(`/api/keys/${index}`)).operators.map((o) => o.operator),
          );
        } catch (e) {
          message.show('error', words(e));
          return;
        }
        const boxes = names.map((n) => {
          const b = h('input', { type: 'checkbox', value: n, id: `bind-${n}` });
          b.checked = bound.has(n);
          return b;
        });
        const list = h(
          'div',
          { class: 'choices', id: 'bind-operators', 'data-field': 'operators' },
          ...names.map((n, i) => h('label', { class: 'choice' }, boxes[i]!, ` ${n}`)),
        );
        dialog(
          'bind-dialog',
          `Bind / unbind operators: key ${index}`,
          [
            names.length
              ? field('Operators allowed to use this key', list, 'Tick to bind, clear to unbind.')
              : h('p', {}, 'There is no operator yet (the System Manager adds them).'),
          ],
          [
            {
              text: 'OK',
              primary: true,
              id: 'bind-ok',
              run: async (d) => {
                const toBind = boxes.filter((b) => b.checked && !bound.has(b.value)).map((b) => b.value);
                const toUnbind = boxes.filter((b) => !b.checked && bound.has(b.value)).map((b) => b.value);
                if (toBind.length === 0 && toUnbind.length === 0) {
                  d.close();
                  return;
                }
                const said: string[] = [];
                if (toBind.length) {
                  await ctx.api.send('POST', `/api/keys/${index}/bind`, { operators: toBind });
                  said.push(`bound to ${toBind.join(', ')}`);
                }
                if (toUnbind.length) {
                  await ctx.api.send('POST', `/api/keys/${index}/unbind`, { operators: toUnbind });
                  said.push(`unbound from ${toUnbind.join(', ')}`);
                }
                d.close();
                await load(`Key ${index} ${said.join('; ')}.`);
              },
            },
            { text: 'Cancel', run: (d) => d.close() },
          ],
        );
      };

      await load();
    },
  };
}

export const symmetricKeysPage = keysPage('symmetric');
export const asymmetricKeysPage = keysPage('asymmetric');
