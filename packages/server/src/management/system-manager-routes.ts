import {
  addOperator,
  addServiceWhitelist,
  type Device,
  deleteOperator,
  deleteServiceWhitelist,
  getOperatorDetail,
  getServiceWhitelistEntry,
  issueLicence,
  licenceFileName,
  listOperators,
  listServiceWhitelist,
  PIN_KDF_ITERATIONS,
  type SystemManagerDeps,
} from '@coffer/core';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { issueClientCertificate, loadDeviceCa } from '../daemon/device-ca.js';
import type { ManagementSlice } from './context.js';
import { closed, PageInfo, PageQuery, pageInfo } from './management-schemas.js';

/** How long a licence certificate is valid. */
export const LICENCE_VALIDITY_DAYS = 730;

export interface SystemManagerRouteOptions {
  /**
   * PBKDF2 iterations of a licence's sealed key. Production: 600,000, as cards. Lowered only by the
   * test-only switch `COFFER_INSECURE_TEST_KDF=1` (the daemon's `insecureTestKdf`, read here from the
   * environment because the daemon imports this module).
   */
  licenceKdfIterations?: number;
}

// ── schemas ──────────────────────────────────────────────────────────────────────────────────────
// Names are checked by the core (ERR_OPERATOR_NAME, a sentence naming the rule), so the schemas
// bound only their length; everything else about a field is typed here.

const NameText = Type.String({ minLength: 1, maxLength: 256, description: 'Operator account name' });
const IpText = Type.String({ minLength: 1, maxLength: 64, description: 'IPv4 address' });

const Operator = Type.Object({
  name: Type.String(),
  description: Type.String(),
  creator: Type.String({ description: 'The System Manager who added it' }),
  createdAt: Type.String(),
});

const LicenceStatus = Type.Union([
  Type.Literal('current'),
  Type.Literal('superseded'),
  Type.Literal('revoked'),
]);

const Licence = Type.Object({
  serial: Type.String(),
  certFingerprint: Type.String({ description: 'SHA-256 of the client certificate DER, hex' }),
  maxConnections: Type.Integer(),
  issuedAt: Type.String(),
  issuedBy: Type.String(),
  status: LicenceStatus,
});

const OperatorDetail = Type.Object({
  operator: Operator,
  whitelist: Type.Array(Type.Object({ ip: Type.String(), addedAt: Type.String(), addedBy: Type.String() })),
  keys: Type.Array(
    Type.Object({
      index: Type.Integer(),
      type: Type.String(),
      keyClass: Type.Union([Type.Literal('symmetric'), Type.Literal('asymmetric')]),
      status: Type.Union([Type.Literal('normal'), Type.Literal('discard'), Type.Literal('invalid')]),
      description: Type.String(),
      expiresAt: Type.String(),
      usage: Type.Array(Type.String()),
      boundAt: Type.String(),
      boundBy: Type.String(),
    }),
  ),
  licence: Type.Union([Licence, Type.Null()], { description: 'The current licence, if any (no secret)' }),
  licencesIssued: Type.Integer(),
});

const LicenceFileSchema = Type.Object(
  {
    format: Type.Literal('coffer-licence'),
    version: Type.Literal(1),
    operator: Type.String(),
    deviceId: Type.String(),
    serial: Type.String(),
    issuedAt: Type.String(),
    service: Type.Object({ host: Type.String(), port: Type.Integer() }),
    maxConnections: Type.Integer(),
    caCertificate: Type.String({ description: 'Device CA certificate, PEM' }),
    certificate: Type.String({ description: 'Client certificate, PEM, issued by the device CA' }),
    sealed: Type.Object({
      kdf: Type.Literal('PBKDF2-SHA256'),
      iterations: Type.Integer(),
      salt: Type.String(),
      cipher: Type.Literal('AES-256-GCM'),
      iv: Type.String(),
      ciphertext: Type.String({ description: 'PKCS#8 of the client key, AES-256-GCM, tag appended' }),
    }),
  },
  { title: 'LicenceFile', description: 'The licence file (save it as NAME.license)' },
);

const WhitelistEntry = Type.Object({
  ip: Type.String(),
  operators: Type.Array(Type.Object({ name: Type.String(), addedAt: Type.String(), addedBy: Type.String() })),
});

// ── routes ───────────────────────────────────────────────────────────────────────────────────────

function depsOf(device: Device): SystemManagerDeps {
  return { store: device.store, keyring: device.keyring(), now: () => device.clock.now() };
}

function account(request: FastifyRequest): string {
  return request.manager?.account ?? '-';
}

/** An audit-safe rendering of a value typed by the client (bounded, one line). */
function shown(value: unknown): string {
  return (
    String(value)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
      .replace(/[\u0000-\u001f\u007f]/g, '?')
      .slice(0, 64)
  );
}

/** The crypto service's default port (manual §2: A-Net1, 1813). */
export const DEFAULT_SERVICE_PORT = 1813;

/**
 * Where the crypto service listens (A-Net1): as bound while serving, else as configured. A port of 0
 * ("any free port", dev mode) that nothing has bound yet is written as the default port: a licence
 * must name a real port, and the SDK lets a caller override the address.
 */
async function serviceAddress(device: Device): Promise<{ host: string; port: number }> {
  let address: { host: string; port: number } | null = null;
  const aNet1 = device.status().network?.aNet1;
  if (aNet1) address = { host: aNet1.ip, port: aNet1.boundPort ?? aNet1.port };
  if (!address) {
    const saved = await device.store.getSetting('network');
    const parsed = saved ? (JSON.parse(saved) as { aNet1?: { ip?: unknown; port?: unknown } }) : {};
    if (typeof parsed.aNet1?.ip === 'string' && typeof parsed.aNet1.port === 'number') {
      address = { host: parsed.aNet1.ip, port: parsed.aNet1.port };
    }
  }
  address ??= { host: '127.0.0.1', port: DEFAULT_SERVICE_PORT };
  return address.port > 0 ? address : { ...address, port: DEFAULT_SERVICE_PORT };
}

/**
 * The System Manager's functions (manual §4.4.1): operators, licence files and the service
 * whitelist. Handlers parse, call the core (`operators/` in `@coffer/core`) and return; every
 * change is written with its audit entry in one transaction through `context.step`.
 */
export function systemManagerRoutes(options: SystemManagerRouteOptions = {}): ManagementSlice {
  return (app, context) => {
    const { device } = context;
    const iterations = () =>
      options.licenceKdfIterations ??
      (process.env['COFFER_INSECURE_TEST_KDF'] === '1' ? 1_000 : PIN_KDF_ITERATIONS);

    app.get(
      '/api/operators',
      {
        config: { action: 'operators.list' },
        schema: {
          summary: 'List operators (by name), one page at a time',
          querystring: Type.Object(PageQuery, closed),
          response: { 200: Type.Object({ operators: Type.Array(Operator), page: PageInfo }) },
        },
      },
      async (request) => {
        const { page = 1, size = 10 } = request.query as { page?: number; size?: number };
        const { operators, total } = await listOperators(depsOf(device), {
          limit: size,
          offset: (page - 1) * size,
        });
        return { operators, page: pageInfo(page, size, total, operators.length) };
      },
    );

    app.post(
      '/api/operators',
      {
        config: { action: 'operators.add' },
        schema: {
          summary: 'Add an operator',
          description:
            'Account name: 1–32 letters, digits, `_ . -`, starting with a letter or digit (ERR_OPERATOR_NAME); ' +
            'description up to 256 characters. The creator is the logged-in System Manager.',
          body: Type.Object(
            { name: NameText, description: Type.Optional(Type.String({ maxLength: 1024 })) },
            closed,
          ),
          response: { 201: Type.Object({ operator: Operator }) },
        },
      },
      async (request, reply) => {
        const body = request.body as { name: string; description?: string };
        const operator = await context.step(
          request,
          { businessType: 'add', content: `Add operator [${shown(body.name)}];` },
          (commit) =>
            addOperator(
              depsOf(device),
              { name: body.name, description: body.description ?? '', creator: account(request) },
              commit,
            ),
        );
        return reply.status(201).send({ operator });
      },
    );

    app.get(
      '/api/operators/:name',
      {
        config: { action: 'operators.read' },
        schema: {
          summary: 'Operator detail: basic information, whitelisted IPs, bound keys, current licence',
          params: Type.Object({ name: NameText }),
          response: { 200: OperatorDetail },
        },
      },
      async (request) => getOperatorDetail(depsOf(device), (request.params as { name: string }).name),
    );

    app.delete(
      '/api/operators/:name',
      {
        config: { action: 'operators.delete' },
        schema: {
          summary: 'Delete an operator',
          description:
            'Removes its whitelist pairs and key bindings and revokes its licences, in one transaction: ' +
            'the operator is banned from the crypto service at once.',
          params: Type.Object({ name: NameText }),
          response: {
            200: Type.Object({
              deleted: Type.String(),
              whitelistRemoved: Type.Integer(),
              bindingsRemoved: Type.Integer(),
              licencesRevoked: Type.Integer(),
            }),
          },
        },
      },
      async (request) => {
        const { name } = request.params as { name: string };
        const result = await context.step(
          request,
          { businessType: 'delete', content: `Delete operator [${shown(name)}];` },
          (commit) => deleteOperator(depsOf(device), name, commit),
        );
        return { deleted: name, ...result };
      },
    );

    app.post(
      '/api/operators/:name/licence',
      {
        config: { action: 'licences.download' },
        schema: {
          summary: 'Download a licence file for an operator (re-keys it)',
          description:
            'The System Manager chooses the licence PIN (card PIN rules: 8 characters of 0–9 and A–F with ' +
            'at least one digit and one letter) and the maximum number of concurrent connections (1–10000). ' +
            'The response is the licence file itself. The operator’s previous licence is superseded and ' +
            'stops working.',
          params: Type.Object({ name: NameText }),
          body: Type.Object(
            {
              pin: Type.String({ maxLength: 64 }),
              pinConfirm: Type.String({ maxLength: 64 }),
              maxConnections: Type.Integer(),
            },
            closed,
          ),
          response: { 200: LicenceFileSchema },
        },
      },
      async (request, reply) => {
        const { name } = request.params as { name: string };
        const body = request.body as { pin: string; pinConfirm: string; maxConnections: number };
        const issued = await context.step(
          request,
          { businessType: 'download', content: `Download license file [${shown(name)}];` },
          async (commit) => {
            const domain = await device.store.getDomain();
            return issueLicence(
              depsOf(device),
              {
                operator: name,
                pin: body.pin,
                pinConfirm: body.pinConfirm,
                maxConnections: body.maxConnections,
                issuedBy: account(request),
                deviceId: device.deviceId,
                service: await serviceAddress(device),
                caCertPem: domain?.caCertPem ?? '',
                iterations: iterations(),
                issueCertificate: async (operator) => {
                  const ca = await loadDeviceCa(device);
                  try {
                    const cert = await issueClientCertificate(ca, {
                      commonName: operator,
                      validityDays: LICENCE_VALIDITY_DAYS,
                    });
                    return { certPem: cert.certPem, keyPkcs8: cert.keyPkcs8 };
                  } finally {
                    ca.keyPkcs8.fill(0);
                  }
                },
              },
              commit,
            );
          },
        );
        return reply
          .header('content-disposition', `attachment; filename="${licenceFileName(issued.file.operator)}"`)
          .header('cache-control', 'no-store')
          .send(issued.file);
      },
    );

    app.get(
      '/api/whitelist',
      {
        config: { action: 'whitelist.list' },
        schema: {
          summary: 'The service whitelist, grouped by IP',
          response: { 200: Type.Object({ entries: Type.Array(WhitelistEntry) }) },
        },
      },
      async () => ({ entries: await listServiceWhitelist(depsOf(device)) }),
    );

    app.post(
      '/api/whitelist',
      {
        config: { action: 'whitelist.add' },
        schema: {
          summary: 'Add an IP to the service whitelist with one or more operators',
          description:
            'Every operator must exist (ERR_NOT_FOUND names the unknown ones); pairs already listed are ' +
            'refused with ERR_CONFLICT naming them; nothing is added unless all can be.',
          body: Type.Object(
            { ip: IpText, operators: Type.Array(NameText, { minItems: 1, maxItems: 100 }) },
            closed,
          ),
          response: { 201: WhitelistEntry },
        },
      },
      async (request, reply) => {
        const body = request.body as { ip: string; operators: string[] };
        const entry = await context.step(
          request,
          { businessType: 'add', content: `Add white list [${shown(body.ip)}];` },
          (commit) =>
            addServiceWhitelist(
              depsOf(device),
              { ip: body.ip, operators: body.operators, addedBy: account(request) },
              commit,
            ),
        );
        return reply.status(201).send(entry);
      },
    );

    app.get(
      '/api/whitelist/:ip',
      {
        config: { action: 'whitelist.read' },
        schema: {
          summary: 'One whitelisted IP and its operators',
          params: Type.Object({ ip: IpText }),
          response: { 200: WhitelistEntry },
        },
      },
      async (request) => getServiceWhitelistEntry(depsOf(device), (request.params as { ip: string }).ip),
    );

    app.delete(
      '/api/whitelist/:ip',
      {
        config: { action: 'whitelist.delete' },
        schema: {
          summary: 'Remove an IP from the service whitelist (all its operators, or only `operator`)',
          params: Type.Object({ ip: IpText }),
          querystring: Type.Object({ operator: Type.Optional(NameText) }, closed),
          response: { 200: Type.Object({ ip: Type.String(), removed: Type.Integer() }) },
        },
      },
      async (request) => {
        const { ip } = request.params as { ip: string };
        const { operator } = request.query as { operator?: string };
        const removed = await context.step(
          request,
          {
            businessType: 'delete',
            content: `Delete white list [${shown(ip)}];${operator === undefined ? '' : `Operator [${shown(operator)}];`}`,
          },
          (commit) => deleteServiceWhitelist(depsOf(device), { ip, operator }, commit),
        );
        return { ip, removed };
      },
    );
  };
}

/** The System Manager slice as the management app registers it by default. */
export const registerSystemManagerRoutes: ManagementSlice = systemManagerRoutes();
