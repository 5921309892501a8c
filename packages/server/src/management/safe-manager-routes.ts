import {
  addKey,
  addKeys,
  backupKeys,
  bindKey,
  CofferError,
  changeKeyStatus,
  checkAddRequest,
  type Device,
  deleteKey,
  getKeyDetail,
  IMPORT_FORMATS,
  type ImportFormat,
  importKeys,
  isCofferError,
  KEY_TYPES,
  KEY_USAGES,
  type KeyActor,
  type KeyAuditEntry,
  type KeyClass,
  type KeyDeps,
  type KeyStatus,
  type KeyWrapAlgorithm,
  keyAuditContent,
  listKeys,
  openKeyBackup,
  operatorIntact,
  parseImportFile,
  resolveBackupSelection,
  restoreKeys,
  sweepExpiredKeys,
  type TransferReport,
  unbindKey,
} from '@coffer/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ManagementContext, ManagementSlice } from './context.js';
import { JobRegistry, JobSchema, JobStarted } from './jobs.js';
import { MANAGEMENT_FILE_BODY_LIMIT } from './management-app.js';
import { closed, PageInfo, PageQuery, pageInfo } from './management-schemas.js';

/** How often the expiry sweep runs while the service runs (and once when it starts). */
export const KEY_EXPIRY_SWEEP_MS = 30_000;

// ───────────────────────────── schemas ─────────────────────────────
// Index, type, usage and validity are checked by the core (ERR_KEY_INDEX, ERR_KEY_TYPE,
// ERR_KEY_USAGE with a sentence naming what is allowed), so the schemas only fix their JSON types.

const KeyClassSchema = Type.Union([Type.Literal('symmetric'), Type.Literal('asymmetric')]);
const KeyStatusSchema = Type.Union([
  Type.Literal('normal'),
  Type.Literal('discard'),
  Type.Literal('invalid'),
]);
const Usage = Type.Array(Type.String({ maxLength: 16 }), { maxItems: 16 });
const OperatorNames = Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 1000 });
const TypeName = Type.String({ minLength: 1, maxLength: 32 });
const Description = Type.String({ maxLength: 1024 });

const KeyViewSchema = Type.Object({
  index: Type.Integer(),
  type: Type.String(),
  keyClass: KeyClassSchema,
  creator: Type.String(),
  status: KeyStatusSchema,
  invalidReason: Type.Union([Type.Literal('expired'), Type.Literal('manual'), Type.Null()]),
  validityDays: Type.Integer(),
  description: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  usage: Type.Array(Type.String()),
  checkValue: Type.Union([Type.String(), Type.Null()]),
  publicKey: Type.Union([Type.String(), Type.Null()]),
});

const KeyDetailSchema = Type.Object({
  ...KeyViewSchema.properties,
  operators: Type.Array(
    Type.Object({ operator: Type.String(), boundAt: Type.String(), boundBy: Type.String() }),
  ),
});

const IndexParams = Type.Object({ index: Type.Integer() });

const QueryFilter = {
  from: Type.Optional(Type.String({ maxLength: 40, description: 'creation time from (ISO 8601 or a date)' })),
  to: Type.Optional(
    Type.String({ maxLength: 40, description: 'creation time to, inclusive (a date: the whole day)' }),
  ),
  class: Type.Optional(KeyClassSchema),
  status: Type.Optional(KeyStatusSchema),
};

const AddBody = Type.Object(
  {
    type: TypeName,
    index: Type.Optional(Type.Integer()),
    validityDays: Type.Optional(Type.Integer()),
    description: Type.Optional(Description),
    usage: Type.Optional(Usage),
  },
  closed,
);

const BatchBody = Type.Object(
  {
    type: TypeName,
    count: Type.Integer({ minimum: 1, maximum: 10_000 }),
    validityDays: Type.Optional(Type.Integer()),
    description: Type.Optional(Description),
    usage: Type.Optional(Usage),
  },
  closed,
);

const Base64Content = Type.String({ minLength: 1, pattern: '^[A-Za-z0-9+/\\s]*={0,2}\\s*$' });

const ImportBody = Type.Object(
  {
    content: Base64Content,
    fileName: Type.Optional(Type.String({ maxLength: 255 })),
    format: Type.Optional(Type.Union(IMPORT_FORMATS.map((f) => Type.Literal(f)))),
    type: Type.Optional(TypeName),
    kek: Type.Optional(Type.Integer()),
    wrapAlg: Type.Optional(Type.Union([Type.Literal('aes-kw'), Type.Literal('aes-kwp')])),
    index: Type.Optional(Type.Integer()),
    validityDays: Type.Optional(Type.Integer()),
    description: Type.Optional(Description),
    usage: Type.Optional(Usage),
  },
  closed,
);

const BackupBody = Type.Object(
  {
    indexes: Type.Optional(Type.Array(Type.Integer(), { minItems: 1, maxItems: 100_000 })),
    query: Type.Optional(
      Type.Object(
        {
          from: QueryFilter.from,
          to: QueryFilter.to,
          class: QueryFilter.class,
          status: QueryFilter.status,
        },
        closed,
      ),
    ),
  },
  closed,
);

const RestoreBody = Type.Object(
  {
    content: Base64Content,
    fileName: Type.Optional(Type.String({ maxLength: 255 })),
    renumber: Type.Optional(Type.Boolean()),
  },
  closed,
);

const OperatorsBody = Type.Object({ operators: OperatorNames }, closed);

const KeyTypeSchema = Type.Object({
  name: Type.String(),
  label: Type.String(),
  keyClass: KeyClassSchema,
  bits: Type.Integer(),
  allowedUsage: Type.Array(Type.String()),
  defaultUsage: Type.Array(Type.String()),
});

// ───────────────────────────── the slice ─────────────────────────────

function keyDeps(device: Device): KeyDeps & { deviceId: string } {
  return {
    store: device.store,
    keyring: device.keyring(),
    now: () => device.clock.now(),
    deviceId: device.deviceId,
  };
}

/** The audit writer of the expiry sweep: source and account `device` (nobody asked for it). */
function deviceAudit(device: Device): KeyActor['audit'] {
  return async (tx, entry: KeyAuditEntry) => {
    await device.auditLog.append(
      {
        source: 'device',
        account: 'device',
        clientIp: '-',
        businessType: entry.businessType,
        result: 'success',
        content: entry.content,
        details: entry.details ?? '',
      },
      tx,
    );
  };
}

/**
 * Runs the key expiry sweep once (what the service's timer does every 30 s): every normal or
 * discarded key past its expiry becomes invalid, for good, each with an audit entry of the device.
 * Returns the indexes made invalid. Does nothing unless the device is booted.
 */
export async function runKeyExpirySweep(device: Device): Promise<number[]> {
  if (device.state !== 'READY' && device.state !== 'SERVING') return [];
  const { expired } = await sweepExpiredKeys(keyDeps(device), deviceAudit(device));
  return expired;
}

function contentOf(body: { content: string }): Buffer {
  return Buffer.from(body.content.replace(/\s+/g, ''), 'base64');
}

/** A report refused as a whole becomes the job's error (the report stays the result). */
function reportError(report: TransferReport, what: 'imported' | 'restored') {
  if (report.committed) return undefined;
  const first = report.entries.find((e) => e.outcome === 'refused');
  const where = first ? `; ${first.where}: ${first.message}` : '.';
  return {
    code: first?.code ?? 'ERR_INTERNAL',
    message:
      report.written > 0
        ? `Writing stopped after ${report.written} of ${report.total} keys were ${what}${where}`
        : `${report.refused} of ${report.total} entries were refused, so nothing was ${what}${where}`,
    details: { refused: report.refused, written: report.written, total: report.total },
  };
}

/**
 * The Safe Manager's functions (manual §4.4.2): symmetric and asymmetric keys — query, add (one or
 * a batch), import, back up, restore, discard / restore / invalidate, delete, bind / unbind,
 * detail — and the expiry sweep. Long operations (batch add, import, back up, restore) are jobs:
 * the POST answers 202 with a job id; `GET /api/jobs/:id` reports progress and the result, and
 * `GET /api/jobs/:id/file` downloads a backup. Every change is audited in the transaction that
 * makes it; a refused change is audited as a failure.
 */
export const registerSafeManagerRoutes: ManagementSlice = (
  app: FastifyInstance,
  context: ManagementContext,
) => {
  const { device } = context;
  const jobs = new JobRegistry({
    onError: (error) => app.log.error({ err: String(error) }, 'a key job failed'),
  });

  // The expiry sweep: at service start and every 30 s while the service runs.
  let sweeping: Promise<unknown> | null = null;
  const sweep = () => {
    sweeping ??= runKeyExpirySweep(device)
      .catch((error: unknown) =>
        app.log.warn({ err: isCofferError(error) ? error.code : String(error) }, 'key expiry sweep failed'),
      )
      .finally(() => {
        sweeping = null;
      });
  };
  const timer = setInterval(sweep, KEY_EXPIRY_SWEEP_MS);
  timer.unref();
  app.addHook('onReady', async () => sweep());
  app.addHook('onClose', async () => {
    clearInterval(timer);
    jobs.clear();
    await sweeping;
  });

  const actor = (request: FastifyRequest): KeyActor => ({
    account: request.manager!.account,
    audit: (tx, entry) => context.audit(request, entry, tx),
  });

  /** Runs a change; if it is refused, records the refusal (the success entry is the change's own). */
  const audited = async <T>(
    request: FastifyRequest,
    failure: Omit<KeyAuditEntry, 'details'>,
    fn: (who: KeyActor) => Promise<T>,
  ): Promise<T> => {
    try {
      return await fn(actor(request));
    } catch (error) {
      await recordFailure(request, failure, error);
      throw error;
    }
  };
  const recordFailure = async (
    request: FastifyRequest,
    failure: Omit<KeyAuditEntry, 'details'>,
    error: unknown,
  ) => {
    const code = isCofferError(error) ? error.code : 'ERR_INTERNAL';
    const message = isCofferError(error) ? error.message : 'internal error';
    await context
      .audit(request, { ...failure, result: 'failure', details: `${code}: ${message}` })
      .catch((auditError: unknown) =>
        request.log.error({ err: String(auditError) }, 'refusal could not be audited'),
      );
  };

  // ── query, detail, types, operator names ──

  app.get(
    '/api/keys',
    {
      config: { action: 'keys.list' },
      schema: {
        summary:
          'Key query: by creation time, class (the symmetric and asymmetric pages) and status, newest first',
        querystring: Type.Object({ ...QueryFilter, ...PageQuery }, closed),
        response: { 200: Type.Object({ keys: Type.Array(KeyViewSchema), page: PageInfo }) },
      },
    },
    async (request) => {
      const q = request.query as {
        from?: string;
        to?: string;
        class?: KeyClass;
        status?: KeyStatus;
        page?: number;
        size?: number;
      };
      const page = q.page ?? 1;
      const size = q.size ?? 10;
      const { total, keys } = await listKeys(
        keyDeps(device),
        {
          ...(q.from !== undefined ? { from: q.from } : {}),
          ...(q.to !== undefined ? { to: q.to } : {}),
          ...(q.class ? { keyClass: q.class } : {}),
          ...(q.status ? { status: q.status } : {}),
          page,
          size,
        },
        deviceAudit(device),
      );
      return { keys, page: pageInfo(page, size, total, keys.length) };
    },
  );

  app.get(
    '/api/keys/types',
    {
      config: { action: 'keys.list' },
      schema: {
        summary: 'The key types this device generates and imports, with their usage flags',
        response: {
          200: Type.Object({ types: Type.Array(KeyTypeSchema), usages: Type.Array(Type.String()) }),
        },
      },
    },
    async () => ({
      types: KEY_TYPES.map((t) => ({
        name: t.name,
        label: t.label,
        keyClass: t.keyClass,
        bits: t.bits,
        allowedUsage: [...t.allowedUsage],
        defaultUsage: [...t.defaultUsage],
      })),
      usages: [...KEY_USAGES],
    }),
  );

  app.get(
    '/api/keys/:index',
    {
      config: { action: 'keys.read' },
      schema: {
        summary: 'Key detail: check value or public key, usage, validity, expiry, bound operators',
        params: IndexParams,
        response: { 200: KeyDetailSchema },
      },
    },
    async (request) => getKeyDetail(keyDeps(device), (request.params as { index: number }).index),
  );

  app.get(
    '/api/operator-names',
    {
      config: { action: 'operators.names' },
      schema: {
        summary: 'The operators to choose from in the bind dialog (names only)',
        response: { 200: Type.Object({ names: Type.Array(Type.String()) }) },
      },
    },
    async () => {
      const keyring = device.keyring();
      const names: string[] = [];
      for (let offset = 0; ; offset += 1000) {
        const page = await device.store.listOperators({ limit: 1000, offset });
        names.push(...page.filter((o) => operatorIntact(keyring, o)).map((o) => o.name));
        if (page.length < 1000) break;
      }
      return { names: names.sort() };
    },
  );

  // ── add ──

  app.post(
    '/api/keys',
    {
      config: { action: 'keys.add' },
      schema: {
        summary: 'Add key: generate one key inside the device at the chosen or next free index',
        body: AddBody,
        response: { 201: KeyViewSchema },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        type: string;
        index?: number;
        validityDays?: number;
        description?: string;
        usage?: string[];
      };
      const view = await audited(
        request,
        { businessType: 'add', content: keyAuditContent('Add key', body.index) },
        (who) => addKey(keyDeps(device), who, body),
      );
      return reply.status(201).send(view);
    },
  );

  app.post(
    '/api/keys/batch',
    {
      config: { action: 'keys.add' },
      schema: {
        summary: 'Add a batch of keys of one type at the next free indexes (a job)',
        body: BatchBody,
        response: { 202: JobStarted },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        type: string;
        count: number;
        validityDays?: number;
        description?: string;
        usage?: string[];
      };
      const failure = { businessType: 'add' as const, content: keyAuditContent('Add key') };
      const who = actor(request);
      const deps = keyDeps(device);
      await audited(request, failure, async () => checkAddRequest(body));
      const job = jobs.start('keys.batch', who.account, body.count, async (progress) => ({
        result: await audited(request, failure, () => addKeys(deps, who, body, progress)),
      }));
      return reply.status(202).send({ jobId: job.id, total: job.total });
    },
  );

  // ── import, back up, restore ──

  app.post(
    '/api/keys/import',
    {
      config: { action: 'keys.import' },
      bodyLimit: MANAGEMENT_FILE_BODY_LIMIT,
      schema: {
        summary:
          'Import key: a key file (PEM, JWK, PKCS#8, hex, wrapped keys, a Coffer import list), all or nothing (a job)',
        body: ImportBody,
        response: { 202: JobStarted },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        content: string;
        fileName?: string;
        format?: ImportFormat;
        type?: string;
        kek?: number;
        wrapAlg?: KeyWrapAlgorithm;
        index?: number;
        validityDays?: number;
        description?: string;
        usage?: string[];
      };
      const failure = {
        businessType: 'add' as const,
        content: `${keyAuditContent('Import key')}${body.fileName ? `File:${body.fileName.replace(/[\r\n;]/g, ' ')}` : ''}`,
      };
      const { content: _content, fileName: _fileName, ...defaults } = body;
      const who = actor(request);
      const deps = keyDeps(device);
      const parsed = await audited(request, failure, async () => parseImportFile(contentOf(body), defaults));
      const job = jobs.start(
        'keys.import',
        who.account,
        parsed.entries.length + parsed.errors.length,
        async (progress) => {
          const report = await importKeys(deps, who, parsed, defaults, progress);
          const error = reportError(report, 'imported');
          if (error) await recordFailure(request, failure, new CofferError(error.code, error.message));
          return { result: report, ...(error ? { error } : {}) };
        },
      );
      return reply.status(202).send({ jobId: job.id, total: job.total });
    },
  );

  app.post(
    '/api/keys/backup',
    {
      config: { action: 'keys.backup' },
      schema: {
        summary:
          'Key back up: the selected keys or all keys of a query, into a file under the backup key (a job)',
        body: BackupBody,
        response: { 202: JobStarted },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        indexes?: number[];
        query?: { from?: string; to?: string; class?: KeyClass; status?: KeyStatus };
      };
      const failure = { businessType: 'download' as const, content: keyAuditContent('Back up keys') };
      const who = actor(request);
      const deps = keyDeps(device);
      const indexes = await audited(request, failure, async () => {
        if ((body.indexes === undefined) === (body.query === undefined)) {
          throw new CofferError(
            'ERR_BAD_REQUEST',
            'Back up either the selected keys (indexes) or a query (query), one of them.',
            {
              field: 'indexes',
            },
          );
        }
        const q = body.query ?? {};
        return resolveBackupSelection(
          deps,
          body.indexes
            ? { indexes: body.indexes }
            : {
                query: {
                  ...(q.from !== undefined ? { from: q.from } : {}),
                  ...(q.to !== undefined ? { to: q.to } : {}),
                  ...(q.class ? { keyClass: q.class } : {}),
                  ...(q.status ? { status: q.status } : {}),
                },
              },
        );
      });
      const job = jobs.start('keys.backup', who.account, indexes.length, (progress) =>
        audited(request, failure, async () => {
          const file = await backupKeys(deps, who, indexes, progress);
          const name = `coffer-keys-${file.createdAt.replace(/[-:.]/g, '')}.backup.json`;
          return {
            result: { count: file.count, fileName: name, kcv: file.kcv, createdAt: file.createdAt },
            file: {
              name,
              contentType: 'application/json; charset=utf-8',
              body: `${JSON.stringify(file, null, 1)}\n`,
            },
          };
        }),
      );
      return reply.status(202).send({ jobId: job.id, total: job.total });
    },
  );

  app.post(
    '/api/keys/restore',
    {
      config: { action: 'keys.restore' },
      bodyLimit: MANAGEMENT_FILE_BODY_LIMIT,
      schema: {
        summary: 'Restore a key backup file made on a device of the same key domain, all or nothing (a job)',
        body: RestoreBody,
        response: { 202: JobStarted },
      },
    },
    async (request, reply) => {
      const body = request.body as { content: string; fileName?: string; renumber?: boolean };
      const failure = { businessType: 'add' as const, content: keyAuditContent('Restore keys') };
      const who = actor(request);
      const deps = keyDeps(device);
      const backup = await audited(request, failure, async () => {
        let file: unknown;
        try {
          file = JSON.parse(contentOf(body).toString('utf8'));
        } catch {
          throw new CofferError(
            'ERR_BACKUP_FORMAT',
            'This is not a Coffer key backup file: it is not JSON.',
            { field: 'content' },
          );
        }
        return openKeyBackup(deps.keyring, file);
      });
      const job = jobs.start('keys.restore', who.account, backup.entries.length, async (progress) => {
        const report = await restoreKeys(deps, who, backup, { renumber: body.renumber ?? false }, progress);
        const error = reportError(report, 'restored');
        if (error) await recordFailure(request, failure, new CofferError(error.code, error.message));
        return { result: report, ...(error ? { error } : {}) };
      });
      return reply.status(202).send({ jobId: job.id, total: job.total });
    },
  );

  // ── status, delete ──

  for (const [path, action, change] of [
    ['discard', 'keys.discard', 'discard'],
    ['restore', 'keys.restore-status', 'restore'],
    ['invalidate', 'keys.invalidate', 'invalidate'],
  ] as const) {
    app.post(
      `/api/keys/:index/${path}`,
      {
        config: { action },
        schema: {
          summary:
            change === 'discard'
              ? 'Discard a key (normal → discard)'
              : change === 'restore'
                ? 'Restore a discarded key (discard → normal)'
                : 'Invalidate a key on purpose (normal or discard → invalid, for good)',
          params: IndexParams,
          response: { 200: KeyViewSchema },
        },
      },
      async (request) => {
        const { index } = request.params as { index: number };
        return audited(
          request,
          { businessType: 'update', content: keyAuditContent('Set key status', index) },
          (who) => changeKeyStatus(keyDeps(device), who, index, change),
        );
      },
    );
  }

  app.delete(
    '/api/keys/:index',
    {
      config: { action: 'keys.delete' },
      schema: {
        summary: 'Delete an invalid key (its bindings go with it)',
        params: IndexParams,
        response: { 200: Type.Object({ ok: Type.Boolean(), bindingsRemoved: Type.Integer() }) },
      },
    },
    async (request) => {
      const { index } = request.params as { index: number };
      const result = await audited(
        request,
        { businessType: 'delete', content: keyAuditContent('Delete key', index) },
        (who) => deleteKey(keyDeps(device), who, index),
      );
      return { ok: true, ...result };
    },
  );

  // ── bind, unbind ──

  for (const [path, action] of [
    ['bind', 'keys.bind'],
    ['unbind', 'keys.unbind'],
  ] as const) {
    app.post(
      `/api/keys/:index/${path}`,
      {
        config: { action },
        schema: {
          summary:
            path === 'bind'
              ? 'Bind the key with one or more operators'
              : 'Unbind the key from one or more operators',
          params: IndexParams,
          body: OperatorsBody,
          response: { 200: KeyDetailSchema },
        },
      },
      async (request) => {
        const { index } = request.params as { index: number };
        const { operators } = request.body as { operators: string[] };
        const what = path === 'bind' ? 'Bind key with operator' : 'Unbind key with operator';
        return audited(request, { businessType: 'update', content: keyAuditContent(what, index) }, (who) =>
          (path === 'bind' ? bindKey : unbindKey)(keyDeps(device), who, index, operators),
        );
      },
    );
  }

  // ── jobs ──

  app.get(
    '/api/jobs/:id',
    {
      config: { action: 'jobs.read' },
      schema: {
        summary: 'Progress and result of a long operation you started',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: JobSchema },
      },
    },
    async (request) => jobs.get((request.params as { id: string }).id, request.manager!.account),
  );

  app.get(
    '/api/jobs/:id/file',
    {
      config: { action: 'jobs.read' },
      schema: {
        summary: 'Download the file a finished job made (a key backup)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: Type.String({ description: 'The file (a key backup: JSON)' }) },
      },
    },
    async (request, reply) => {
      const file = jobs.file((request.params as { id: string }).id, request.manager!.account);
      return reply
        .type(file.contentType)
        .header('content-disposition', `attachment; filename="${file.name}"`)
        .send(Buffer.from(file.body, 'utf8'));
    },
  );
};
