import { type CardFile, cardFileName, type Device, type RequestContext } from '@coffer/core';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { installErrorHandling } from '../http/error-handler.js';
import {
  AuditVerify,
  Bodies,
  DeviceInfo,
  NewCard,
  Ok,
  Status,
  TokenReply,
  ToolWhitelist,
} from './panel-schemas.js';

export interface PanelAppOptions {
  device: Device;
  /** Extra routes (the browser panel's static files) registered on the same instance. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  logger?: boolean | object;
}

const TOKEN_HEADER = 'x-ceremony-token';

function newCard(file: CardFile) {
  return { slot: file.slot, fileName: cardFileName(file), card: file };
}

function ok() {
  return { ok: true };
}

/**
 * The front panel's HTTP JSON API (manual §3): one route per ceremony step. It stands for physical
 * access, so it is bound to 127.0.0.1 only and refuses requests whose Host is not a loopback name
 * (a web page elsewhere cannot drive it through the user's browser: DNS rebinding).
 * Built here, listened on in `daemon`; tests use `inject`.
 */
export async function buildPanelApp(opts: PanelAppOptions): Promise<FastifyInstance> {
  const { device } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);

  app.addHook('onRequest', async (request, reply) => {
    const host = (request.headers.host ?? '').replace(/:\d+$/, '');
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
      return reply.status(403).send({
        error: {
          code: 'ERR_BAD_REQUEST',
          message: 'The front panel only answers on its loopback address.',
          details: {},
        },
      });
    }
    // A page of another site may send "simple" POSTs here (no body, or text/plain) without a CORS
    // preflight, e.g. /api/init/cancel. Browsers name the page's origin: only the panel's own page
    // (same host and port) is answered. Clients that are not browsers send no Origin.
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host}`) {
      return reply.status(403).send({
        error: {
          code: 'ERR_BAD_REQUEST',
          message: 'The front panel only answers its own page (the Origin is another site).',
          details: {},
        },
      });
    }
  });

  const ctx = (request: FastifyRequest): RequestContext => ({ source: 'panel', clientIp: request.ip });
  const token = (request: FastifyRequest): string => String(request.headers[TOKEN_HEADER] ?? '');

  app.get('/api/status', { schema: { response: { 200: Status } } }, async () => device.status());
  app.get('/api/device-info', { schema: { response: { 200: DeviceInfo } } }, async () => device.deviceInfo());
  app.get('/api/audit/verify', { schema: { response: { 200: AuditVerify } } }, async () =>
    device.verifyAudit(),
  );

  // Initialisation (§3.1.1)
  app.post('/api/init/time', { schema: { body: Bodies.time, response: { 200: Ok } } }, async (req) => {
    await device.initSetTime(ctx(req), req.body.time);
    return ok();
  });
  app.post(
    '/api/init/device-manager/card',
    { schema: { body: Bodies.dmCard, response: { 200: NewCard } } },
    async (req) =>
      newCard(await device.initDeviceManagerCard(ctx(req), req.body.slot, req.body.pin, req.body.pinConfirm)),
  );
  app.post(
    '/api/init/device-manager/mk-part',
    { schema: { body: Bodies.mkPart, response: { 200: Ok } } },
    async (req) => {
      const { slot, ...input } = req.body;
      await device.initMkPart(ctx(req), slot, input);
      return ok();
    },
  );
  app.post(
    '/api/init/device-manager/write',
    { schema: { body: Bodies.cardPin, response: { 200: NewCard } } },
    async (req) => newCard((await device.initWriteCard(ctx(req), req.body.card, req.body.pin)).file),
  );
  app.post(
    '/api/init/system-manager',
    { schema: { body: Bodies.systemManager, response: { 200: NewCard } } },
    async (req) =>
      newCard(
        await device.initManagerCard(
          ctx(req),
          'system-manager',
          req.body.pin,
          req.body.pinConfirm,
          req.body.factor,
        ),
      ),
  );
  app.post(
    '/api/init/safe-manager',
    { schema: { body: Bodies.newPin, response: { 200: NewCard } } },
    async (req) =>
      newCard(await device.initManagerCard(ctx(req), 'safe-manager', req.body.pin, req.body.pinConfirm)),
  );
  app.post(
    '/api/init/audit-manager',
    { schema: { body: Bodies.newPin, response: { 200: NewCard } } },
    async (req) =>
      newCard(await device.initManagerCard(ctx(req), 'audit-manager', req.body.pin, req.body.pinConfirm)),
  );
  app.post('/api/init/finish', { schema: { response: { 200: Status } } }, async (req) => {
    await device.initFinish(ctx(req));
    return device.status();
  });
  app.post('/api/init/cancel', { schema: { response: { 200: Ok } } }, async (req) => {
    await device.initCancel(ctx(req));
    return ok();
  });

  // Auth2Boot (§3.2)
  app.post(
    '/api/auth2boot/first',
    { schema: { body: Bodies.cardPin, response: { 200: TokenReply } } },
    async (req) => device.auth2BootFirst(ctx(req), req.body.card, req.body.pin),
  );
  app.post(
    '/api/auth2boot/second',
    { schema: { body: Bodies.second, response: { 200: Status } } },
    async (req) => {
      await device.auth2BootSecond(ctx(req), req.body.token, req.body.card, req.body.pin);
      return device.status();
    },
  );

  // ReInit (§3.1.2)
  app.post(
    '/api/reinit/first',
    { schema: { body: Bodies.reinitFirst, response: { 200: TokenReply } } },
    async (req) => device.reinitFirst(ctx(req), req.body.card, req.body.pin, req.body.mkPartPin),
  );
  app.post(
    '/api/reinit/second',
    { schema: { body: Bodies.reinitSecond, response: { 200: Status } } },
    async (req) => {
      await device.reinitSecond(ctx(req), req.body.token, req.body.card, req.body.pin, req.body.mkPartPin);
      return device.status();
    },
  );

  // Cards ReMake (§3.3) and Modify Card-PIN (§3.4)
  app.post(
    '/api/remake/device-manager/verify',
    { schema: { body: Bodies.remakeVerify, response: { 200: TokenReply } } },
    async (req) => device.remakeDeviceManagerVerify(ctx(req), req.body.mkPartPin, req.body.slot),
  );
  app.post(
    '/api/remake/device-manager/card',
    { schema: { body: Bodies.remakeCard, response: { 200: NewCard } } },
    async (req) =>
      newCard(
        await device.remakeDeviceManagerCard(ctx(req), req.body.token, req.body.pin, req.body.pinConfirm),
      ),
  );
  for (const [path, role] of [
    ['safe-manager', 'safe-manager'],
    ['audit-manager', 'audit-manager'],
    ['system-manager', 'system-manager'],
  ] as const) {
    app.post(
      `/api/remake/${path}`,
      { schema: { body: Bodies.newPin, response: { 200: NewCard } } },
      async (req) =>
        newCard(await device.remakeManagerCard(ctx(req), role, req.body.pin, req.body.pinConfirm)),
    );
  }
  app.post(
    '/api/modify-pin',
    { schema: { body: Bodies.modifyPin, response: { 200: NewCard } } },
    async (req) =>
      newCard(
        await device.modifyPin(
          ctx(req),
          req.body.card,
          req.body.oldPin,
          req.body.newPin,
          req.body.newPinConfirm,
        ),
      ),
  );

  // Start/Stop Service (§3.5)
  app.post(
    '/api/service/start/auth',
    { schema: { body: Bodies.cardPin, response: { 200: TokenReply } } },
    async (req) => device.startServiceAuth(ctx(req), req.body.card, req.body.pin),
  );
  app.post(
    '/api/service/start',
    { schema: { body: Bodies.startService, response: { 200: Status } } },
    async (req) => {
      const { token: t, mNet0, aNet1 } = req.body;
      return device.startService(ctx(req), t, {
        mNet0: { ...mNet0, gateway: mNet0.gateway ?? null },
        aNet1: { ...aNet1, gateway: aNet1.gateway ?? null },
      });
    },
  );
  app.post(
    '/api/service/stop',
    { schema: { body: Bodies.cardPin, response: { 200: Status } } },
    async (req) => {
      await device.stopService(ctx(req), req.body.card, req.body.pin);
      return device.status();
    },
  );

  // Setting (§3.6): a System Manager card opens a session; its token goes in the x-ceremony-token header.
  app.post(
    '/api/settings/auth',
    { schema: { body: Bodies.cardPin, response: { 200: TokenReply } } },
    async (req) => device.settingsAuth(ctx(req), req.body.card, req.body.pin),
  );
  app.get('/api/settings/tool-whitelist', { schema: { response: { 200: ToolWhitelist } } }, async (req) => ({
    entries: await device.listToolWhitelist(token(req)),
  }));
  app.post(
    '/api/settings/tool-whitelist',
    { schema: { body: Bodies.ip, response: { 200: Ok } } },
    async (req) => {
      await device.addToolWhitelist(ctx(req), token(req), req.body.ip);
      return ok();
    },
  );
  app.post(
    '/api/settings/tool-whitelist/delete',
    { schema: { body: Bodies.ips, response: { 200: Ok } } },
    async (req) => {
      await device.deleteToolWhitelist(ctx(req), token(req), req.body.ips);
      return ok();
    },
  );
  app.post('/api/settings/time', { schema: { body: Bodies.time, response: { 200: Ok } } }, async (req) => {
    await device.setTime(ctx(req), token(req), req.body.time);
    return ok();
  });
  app.post('/api/power/restart', { schema: { response: { 200: Status } } }, async (req) => {
    await device.restart(ctx(req), token(req));
    return device.status();
  });
  app.post('/api/power/shutdown', { schema: { response: { 200: Ok } } }, async (req, reply) => {
    // Answer first, then stop: the caller learns that shutdown began.
    const t = token(req);
    await device.authoriseSettings(t);
    reply.send(ok());
    setImmediate(() => {
      device.shutdown(ctx(req), t).catch(() => undefined);
    });
    return reply;
  });
  app.post('/api/ceremony/cancel', { schema: { body: Bodies.token, response: { 200: Ok } } }, async (req) => {
    device.cancelCeremony(req.body.token);
    return ok();
  });

  for (const plugin of opts.plugins ?? []) await plugin(app);
  return app;
}
