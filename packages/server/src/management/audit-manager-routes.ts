import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { type AuditEntry, type AuditSource, CofferError, type Device, parseTime } from '@coffer/core';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  checkRunningLogSettings,
  parseRunningLogSettings,
  RUNNING_LOG_LEVELS,
  type RunningLogFiles,
  type RunningLogSettings,
} from '../daemon/running-log-files.js';
import { auditCsv, auditJson } from './audit-export.js';
import type { ManagementContext, ManagementSlice } from './context.js';
import { closed, IsoTime, Networks, PageInfo, PageQuery, pageInfo } from './management-schemas.js';

/** The manager log holds what managers and the device did; the operator log what operators did. */
export const LOG_SOURCES: Record<'manager' | 'operator', AuditSource[]> = {
  manager: ['management', 'panel', 'device'],
  operator: ['integrated'],
};
type LogName = keyof typeof LOG_SOURCES;

/** The most entries one export carries (narrow the time range for more). */
export const MAX_EXPORT_ENTRIES = 100_000;
const READ_PAGE = 1000;

export const AuditEntrySchema = Type.Object({
  seq: Type.Integer(),
  time: Type.String(),
  source: Type.String(),
  account: Type.String(),
  clientIp: Type.String(),
  businessType: Type.String(),
  result: Type.String(),
  content: Type.String(),
  details: Type.String(),
  prevDigest: Type.String(),
  digest: Type.String(),
});

export const ChainSchema = Type.Object({
  ok: Type.Boolean(),
  count: Type.Optional(Type.Integer()),
  head: Type.Optional(Type.String()),
  badSeq: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});

const LogPage = Type.Object({
  log: Type.String(),
  entries: Type.Array(AuditEntrySchema),
  page: PageInfo,
  chain: ChainSchema,
});

const TimeRange = {
  from: Type.Optional(IsoTime),
  to: Type.Optional(IsoTime),
};

const LogQuery = Type.Object({ ...TimeRange, ...PageQuery }, closed);

const Settings = Type.Object({
  level: Type.Union(RUNNING_LOG_LEVELS.map((l) => Type.Literal(l))),
  retentionDays: Type.Integer({ minimum: 1, maximum: 365 }),
  backupSizeMb: Type.Integer({ minimum: 1, maximum: 10240 }),
});

const RunningLogName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' });

/**
 * Reads a query bound: an ISO-8601 time (`2026-03-01T08:00:00Z`, zone optional: UTC), or a date
 * alone (`2026-03-01`), which means the start of that day for `from` and its end for `to`.
 * @throws ERR_TIME_FORMAT naming the field.
 */
export function parseBound(text: string | undefined, field: 'from' | 'to'): string | undefined {
  if (text === undefined || text === '') return undefined;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  try {
    const at = parseTime(dateOnly ? `${text}T${field === 'from' ? '00:00:00.000' : '23:59:59.999'}Z` : text);
    return at.toISOString();
  } catch (error) {
    if (error instanceof CofferError) {
      throw new CofferError(error.code, error.message.replace('like 2026', 'like 2026-03-01 or 2026'), {
        field,
      });
    }
    throw error;
  }
}

function range(q: { from?: string; to?: string }): { from?: string; to?: string } {
  const from = parseBound(q.from, 'from');
  const to = parseBound(q.to, 'to');
  if (from && to && from > to) {
    throw new CofferError('ERR_BAD_REQUEST', 'The start of the time range is after its end.', {
      field: 'from',
    });
  }
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

/** Every entry of `log` in the range, newest first, up to the export limit. */
async function collectQuery(
  device: Device,
  log: LogName,
  r: { from?: string; to?: string },
): Promise<AuditEntry[]> {
  const query = { ...r, sources: LOG_SOURCES[log] };
  const total = await device.store.countAudit(query);
  if (total > MAX_EXPORT_ENTRIES) {
    throw new CofferError(
      'ERR_BAD_REQUEST',
      `The query has ${total} entries; one export carries at most ${MAX_EXPORT_ENTRIES}. Narrow the time range.`,
      { field: 'from', total },
    );
  }
  const entries: AuditEntry[] = [];
  for (let offset = 0; ; offset += READ_PAGE) {
    const page = await device.store.listAudit({ ...query, order: 'desc', limit: READ_PAGE, offset });
    entries.push(...page);
    if (page.length < READ_PAGE) return entries;
  }
}

/** The selected entries of `log`, in the order given. @throws ERR_NOT_FOUND for a seq not in that log. */
async function collectSelected(device: Device, log: LogName, seqs: readonly number[]): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  for (const seq of new Set(seqs)) {
    const [entry] = await device.store.listAudit({ afterSeq: seq - 1, limit: 1, order: 'asc' });
    if (!entry || entry.seq !== seq || !LOG_SOURCES[log].includes(entry.source)) {
      throw new CofferError('ERR_NOT_FOUND', `There is no entry ${seq} in the ${log} log.`, {
        field: 'seqs',
        seq,
      });
    }
    entries.push(entry);
  }
  return entries;
}

function needFiles(context: ManagementContext): RunningLogFiles {
  if (!context.runningLog) {
    throw new CofferError(
      'ERR_NOT_FOUND',
      'This device has no running log files (it runs without a daemon).',
    );
  }
  return context.runningLog;
}

/** The last `lines` lines of a file, reading at most 1 MiB from its end. */
async function tail(
  path: string,
  lines: number,
): Promise<{ size: number; lines: string[]; truncated: boolean }> {
  const { size } = await stat(path);
  const length = Math.min(size, 1024 * 1024);
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    let all = buffer.toString('utf8').split('\n');
    if (all.at(-1) === '') all.pop();
    if (length < size) all = all.slice(1); // the first line is probably cut
    return { size, lines: all.slice(-lines), truncated: all.length > lines || length < size };
  } finally {
    await handle.close();
  }
}

/**
 * The Audit Manager's functions (manual §4.4.3): the manager and operator logs (query with paging,
 * details, export, chain verification), the running-log parameters (obeyed at once), the running
 * log files, and the device's network configuration. Device information is in the session routes
 * (every role may see it).
 */
export const registerAuditManagerRoutes: ManagementSlice = (
  app: FastifyInstance,
  context: ManagementContext,
) => {
  const { device } = context;

  for (const log of ['manager', 'operator'] as const) {
    const action = log === 'manager' ? 'logs.manager' : 'logs.operator';
    app.get(
      `/api/logs/${log}`,
      {
        config: { action },
        schema: {
          summary: `Query the ${log} log by time range (newest first), with the chain verification`,
          querystring: LogQuery,
          response: { 200: LogPage },
        },
      },
      async (request) => {
        const q = request.query as { from?: string; to?: string; page?: number; size?: number };
        const page = q.page ?? 1;
        const size = q.size ?? 10;
        const query = { ...range(q), sources: LOG_SOURCES[log] };
        const [total, entries, chain] = await Promise.all([
          device.store.countAudit(query),
          device.store.listAudit({ ...query, order: 'desc', limit: size, offset: (page - 1) * size }),
          device.verifyAudit(),
        ]);
        return { log, entries, page: pageInfo(page, size, total, entries.length), chain };
      },
    );
    app.get(
      `/api/logs/${log}/:seq`,
      {
        config: { action },
        schema: {
          summary: `One entry of the ${log} log (details)`,
          params: Type.Object({ seq: Type.Integer({ minimum: 1 }) }),
          response: { 200: AuditEntrySchema },
        },
      },
      async (request) => {
        const { seq } = request.params as { seq: number };
        const [entry] = await collectSelected(device, log, [seq]);
        return entry!;
      },
    );
  }

  app.post(
    '/api/logs/export',
    {
      config: { action: 'logs.export' },
      schema: {
        summary:
          'Export the selected entries (seqs) or the whole query (from/to) as CSV or JSON, with digests',
        body: Type.Object(
          {
            log: Type.Union([Type.Literal('manager'), Type.Literal('operator')]),
            format: Type.Union([Type.Literal('csv'), Type.Literal('json')]),
            seqs: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 10_000 })),
            ...TimeRange,
          },
          closed,
        ),
        response: {
          200: Type.String({
            description: 'The file: text/csv or application/json (see the JSON export header)',
          }),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        log: LogName;
        format: 'csv' | 'json';
        seqs?: number[];
        from?: string;
        to?: string;
      };
      if (body.seqs && (body.from || body.to)) {
        throw new CofferError(
          'ERR_BAD_REQUEST',
          'Export either the selected entries (seqs) or a query (from/to), not both.',
          {
            field: 'seqs',
          },
        );
      }
      const r = body.seqs ? {} : range(body);
      const entries = body.seqs
        ? await collectSelected(device, body.log, body.seqs)
        : await collectQuery(device, body.log, r);
      const chain = await device.verifyAudit();
      const exportedAt = device.clock.now().toISOString();
      const text =
        body.format === 'csv'
          ? auditCsv(entries)
          : auditJson(
              {
                format: 'coffer-audit-export',
                version: 1,
                deviceId: device.deviceId,
                log: body.log,
                exportedAt,
                selection: body.seqs ? { seqs: body.seqs } : { from: r.from ?? null, to: r.to ?? null },
                chain,
              },
              entries,
            );
      await context.audit(request, {
        businessType: 'download',
        content: `Export ${body.log} log;${entries.length} entries`,
        details: body.seqs
          ? `format=${body.format};selected=${entries
              .map((e) => e.seq)
              .join(',')
              .slice(0, 2000)}`
          : `format=${body.format};from=${r.from ?? '-'};to=${r.to ?? '-'}`,
      });
      const name = `coffer-${body.log}-log-${exportedAt.replace(/[-:.]/g, '')}.${body.format}`;
      return reply
        .type(body.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('x-audit-chain', chain.ok ? 'ok' : `broken at ${chain.badSeq}`)
        .send(Buffer.from(text, 'utf8'));
    },
  );

  app.get(
    '/api/logs/verify',
    {
      config: { action: 'logs.verify' },
      schema: { summary: 'Verify the whole audit chain', response: { 200: ChainSchema } },
    },
    async () => device.verifyAudit(),
  );

  app.get(
    '/api/running-log/settings',
    {
      config: { action: 'running-log.settings.read' },
      schema: { summary: 'The running-log parameters (§4.4.3.3)', response: { 200: Settings } },
    },
    async () => parseRunningLogSettings(await device.store.getSetting('runningLog')),
  );

  app.put(
    '/api/running-log/settings',
    {
      config: { action: 'running-log.settings.write' },
      schema: {
        summary: 'Set the running-log level, retention (days) and backup size threshold (MB); obeyed at once',
        body: Type.Object(
          {
            level: Type.Optional(Settings.properties.level),
            retentionDays: Type.Optional(Settings.properties.retentionDays),
            backupSizeMb: Type.Optional(Settings.properties.backupSizeMb),
          },
          { ...closed, minProperties: 1 },
        ),
        response: { 200: Type.Object({ settings: Settings, deleted: Type.Array(Type.String()) }) },
      },
    },
    async (request) => {
      const changes = request.body as Partial<RunningLogSettings>;
      return context.step(
        request,
        { businessType: 'update', content: 'Configure running log parameters' },
        async (commit) => {
          const settings = await device.store.transaction(async (tx) => {
            const current = parseRunningLogSettings(await tx.getSetting('runningLog'));
            const next = checkRunningLogSettings({ ...current, ...changes });
            await tx.putSetting('runningLog', JSON.stringify(next));
            await commit(
              tx,
              `level=${next.level};retentionDays=${next.retentionDays};backupSizeMb=${next.backupSizeMb}`,
            );
            return next;
          });
          const deleted = context.runningLog?.apply(settings) ?? [];
          return { settings, deleted };
        },
      );
    },
  );

  app.get(
    '/api/running-logs',
    {
      config: { action: 'running-log.read' },
      schema: {
        summary:
          'The running log files (the current one first); rotated files past the retention are deleted first',
        response: {
          200: Type.Object({
            files: Type.Array(
              Type.Object({
                name: Type.String(),
                size: Type.Integer(),
                modifiedAt: Type.String(),
                current: Type.Boolean(),
              }),
            ),
            settings: Settings,
          }),
        },
      },
    },
    async () => {
      const files = needFiles(context);
      files.sweep();
      return { files: files.list(), settings: files.settings() };
    },
  );

  app.get(
    '/api/running-logs/:name/tail',
    {
      config: { action: 'running-log.read' },
      schema: {
        summary: 'View the last lines of a running log file',
        params: Type.Object({ name: RunningLogName }),
        querystring: Type.Object(
          { lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 200 })) },
          closed,
        ),
        response: {
          200: Type.Object({
            name: Type.String(),
            size: Type.Integer(),
            lines: Type.Array(Type.String()),
            truncated: Type.Boolean(),
          }),
        },
      },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      const { lines } = request.query as { lines?: number };
      const path = needFiles(context).pathOf(name);
      return { name, ...(await tail(path, lines ?? 200)) };
    },
  );

  app.get(
    '/api/running-logs/:name',
    {
      config: { action: 'running-log.read' },
      schema: {
        summary: 'Download a running log file (JSON lines)',
        params: Type.Object({ name: RunningLogName }),
        response: { 200: Type.String({ description: 'application/x-ndjson' }) },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const path = needFiles(context).pathOf(name);
      await context.audit(request, { businessType: 'download', content: `Download running log ${name}` });
      return reply
        .type('application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(createReadStream(path));
    },
  );

  app.get(
    '/api/network',
    {
      config: { action: 'network.read' },
      schema: {
        summary:
          'The device network configuration: M-Net0 (management) and A-Net1 (service), and the tool white list',
        response: {
          200: Type.Object({
            network: Networks,
            toolWhitelist: Type.Array(Type.String()),
          }),
        },
      },
    },
    async () => ({
      network: device.status().network,
      toolWhitelist: (await device.store.listToolWhitelist()).map((w) => w.ip),
    }),
  );
};
