import {
  authorizeManagement,
  CofferError,
  type Device,
  isCofferError,
  MANAGEMENT_POLICY,
  type ManagementAction,
  type ManagerRole,
  type StoreTx,
} from '@coffer/core';
import { managerFileDirs } from '@coffer/web';
import { AjvCompiler } from '@fastify/ajv-compiler';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerFactory,
} from 'fastify';
import { Type } from 'typebox';
import type { RunningLogFiles } from '../daemon/running-log-files.js';
import { installErrorHandling } from '../http/error-handler.js';
import { registerAuditManagerRoutes } from './audit-manager-routes.js';
import type { ManagementAuditEntry, ManagementContext, ManagementSlice } from './context.js';
import { registerSessionRoutes } from './login-routes.js';
import {
  DEFAULT_IP_THROTTLE,
  DEFAULT_THROTTLE,
  LoginThrottle,
  type ThrottlePolicy,
} from './login-throttle.js';
import { bearerToken, clientIp, MANAGEMENT_BODY_LIMIT } from './management-http.js';
import { ErrorBody } from './management-schemas.js';
import { serveManagerFiles } from './manager-files.js';
import { registerSafeManagerRoutes } from './safe-manager-routes.js';
import { ChallengeStore, DEFAULT_SESSION_IDLE_MS, SessionStore } from './sessions.js';
import { registerSystemManagerRoutes } from './system-manager-routes.js';

export { clientIp, MANAGEMENT_BODY_LIMIT, MANAGEMENT_FILE_BODY_LIMIT } from './management-http.js';

/**
 * The slices registered when none are given: the three manager roles of manual §4.4. A function, not
 * a constant, so that a slice importing from this module (an import cycle) never meets an
 * uninitialised binding.
 */
export function defaultManagementSlices(): ManagementSlice[] {
  return [registerSystemManagerRoutes, registerSafeManagerRoutes, registerAuditManagerRoutes];
}

export interface ManagementAppOptions {
  device: Device;
  /** Idle time that ends a session; 10 minutes unless a test shortens it. */
  sessionIdleMs?: number;
  /** The role slices; the three of manual §4.4 by default. */
  slices?: readonly ManagementSlice[];
  /**
   * Extra public routes on the same instance; declare `config.public`. By default the browser
   * management tool's files (`serveManagerFiles(managerFileDirs())`); `[]` serves none.
   */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
  logger?: boolean | object;
  /** A pino logger to use instead (the running log). */
  loggerInstance?: FastifyBaseLogger;
  /** How failed logins are slowed down per card (tests shorten the delays). */
  throttle?: Partial<ThrottlePolicy>;
  /** How failed logins are slowed down per client IP. */
  ipThrottle?: Partial<ThrottlePolicy>;
  /** The host clock for session idle time, challenge age and throttling (tests move it). */
  now?: () => number;
  /** The running log's files and parameters, for the Audit Manager. */
  runningLog?: RunningLogFiles;
  /**
   * Checks the tool white list again on every request (the listener sets it): an address removed
   * from the list loses its open connections at their next request, not only new connections.
   */
  requireToolWhitelist?: boolean;
  /** Builds the HTTP server; the management listener passes an HTTPS one. */
  serverFactory?: FastifyServerFactory;
}

/** What the app keeps beside its routes: the live sessions, ended with the service. */
export interface ManagementState {
  sessions: SessionStore;
}

declare module 'fastify' {
  interface FastifyInstance {
    management: ManagementState;
  }
}

/** Body validation never coerces (a string is not an integer); query strings and path parameters do. */
function validatorFactory() {
  const pool = AjvCompiler();
  return (
    externalSchemas: Parameters<ReturnType<typeof AjvCompiler>>[0],
    options: { customOptions?: object },
  ) => {
    const strict = pool(externalSchemas, {
      ...options,
      customOptions: {
        ...options.customOptions,
        coerceTypes: false,
        useDefaults: false,
        removeAdditional: false,
      },
    });
    const loose = pool(externalSchemas, {
      ...options,
      customOptions: {
        ...options.customOptions,
        coerceTypes: 'array',
        useDefaults: true,
        removeAdditional: false,
      },
    });
    return (route: { schema: object; httpPart?: string; method: string; url: string }) =>
      route.httpPart === 'body' ? strict(route as never) : loose(route as never);
  };
}

const ROLE_NAMES: Record<ManagerRole, string> = {
  'system-manager': 'System Manager',
  'safe-manager': 'Safe Manager',
  'audit-manager': 'Audit Manager',
};

const TAGS: Record<string, string> = {
  session: 'Session',
  device: 'Device',
  operators: 'System Manager',
  licences: 'System Manager',
  whitelist: 'System Manager',
  keys: 'Safe Manager',
  logs: 'Audit Manager',
  'running-log': 'Audit Manager',
  network: 'Audit Manager',
};

/**
 * The management service (manual §4, DESIGN §6): a Fastify app whose every route declares either
 * the management function it performs (`config.action`) or `config.public`. A route with neither,
 * or without a response schema, is refused when it is registered, so no route can be forgotten by
 * the authorisation check. The `onRequest` hook (before the body is even read) requires a session
 * (bearer token) and asks `authorizeManagement(role, action)`; a refusal is ERR_SESSION_REQUIRED,
 * ERR_SESSION_EXPIRED or ERR_FORBIDDEN (the last is audited). Built here; listened on by the
 * management listener; tests use `inject` or real HTTPS.
 */
export async function buildManagementApp(opts: ManagementAppOptions): Promise<FastifyInstance> {
  const { device } = opts;
  const now = opts.now ?? Date.now;
  const app = Fastify({
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance } : { logger: opts.logger ?? false }),
    bodyLimit: MANAGEMENT_BODY_LIMIT,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    ...(opts.serverFactory ? { serverFactory: opts.serverFactory } : {}),
    schemaController: { compilersFactory: { buildValidator: validatorFactory() as never } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);

  const sessions = new SessionStore(opts.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS, now);
  const challenges = new ChallengeStore(now);
  const throttle = {
    card: new LoginThrottle({ ...DEFAULT_THROTTLE, ...opts.throttle }, now),
    ip: new LoginThrottle({ ...DEFAULT_IP_THROTTLE, ...opts.throttle, ...opts.ipThrottle }, now),
  };
  app.decorate('management', { sessions });
  app.addHook('onClose', async () => sessions.clear());

  const audit = async (request: FastifyRequest, entry: ManagementAuditEntry, tx?: StoreTx) => {
    await device.auditLog.append(
      {
        source: 'management',
        account: request.manager?.account ?? entry.account ?? '-',
        clientIp: clientIp(request),
        businessType: entry.businessType,
        result: entry.result ?? 'success',
        content: entry.content,
        details: entry.details ?? '',
      },
      tx,
    );
  };
  const context: ManagementContext = {
    device,
    ...(opts.runningLog ? { runningLog: opts.runningLog } : {}),
    audit,
    async step(request, entry, fn) {
      let committed = false;
      const commit = async (tx?: StoreTx, details?: string) => {
        await audit(request, { ...entry, result: 'success', details: details ?? entry.details ?? '' }, tx);
        committed = true;
      };
      try {
        const value = await fn(commit);
        if (!committed) await commit();
        return value;
      } catch (error) {
        if (!committed) {
          const code = isCofferError(error) ? error.code : 'ERR_INTERNAL';
          const message = isCofferError(error) ? error.message : 'internal error';
          await audit(request, { ...entry, result: 'failure', details: `${code}: ${message}` }).catch(
            (auditError) => request.log.error({ err: String(auditError) }, 'refusal could not be audited'),
          );
        }
        throw error;
      }
    },
  };

  // Every route declares what it does; the check runs as routes are added, so a forgotten one fails at start.
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as { action?: ManagementAction; public?: boolean };
    const where = `${String(route.method)} ${route.url}`;
    if (config.public && config.action) {
      throw new Error(`management route ${where} declares both config.public and config.action`);
    }
    if (!config.public && !config.action) {
      throw new Error(`management route ${where} declares neither config.action nor config.public`);
    }
    if (config.action && !MANAGEMENT_POLICY[config.action]) {
      throw new Error(`management route ${where} declares an unknown action '${config.action}'`);
    }
    const schema = (route.schema ?? {}) as Record<string, unknown> & { response?: Record<string, unknown> };
    if (!schema.response || Object.keys(schema.response).length === 0) {
      throw new Error(`management route ${where} has no response schema`);
    }
    const roles = config.action ? MANAGEMENT_POLICY[config.action].map((r) => ROLE_NAMES[r]) : [];
    const area = config.action ? config.action.split('.')[0]! : 'session';
    route.schema = {
      ...schema,
      tags: (schema['tags'] as string[] | undefined) ?? [TAGS[area] ?? 'Other'],
      description: [
        schema['description'],
        config.action
          ? `Function \`${config.action}\`; allowed for: ${roles.join(', ')}.`
          : 'No session needed.',
      ]
        .filter(Boolean)
        .join('\n\n'),
      ...(config.public ? {} : { security: [{ bearer: [] }] }),
      response: { ...schema.response, '4xx': ErrorBody, '5xx': ErrorBody },
    };
  });

  app.addHook('onRequest', async (request, reply) => {
    if (opts.requireToolWhitelist) {
      const ip = clientIp(request);
      const listed = await device.isToolWhitelisted(ip).catch(() => false);
      if (!listed) {
        reply.header('connection', 'close');
        await audit(request, {
          businessType: 'connect',
          result: 'failure',
          content: `Refused request from ${ip}: not on the tool white list`,
          details: `${request.method} ${request.url.split('?')[0]}`,
        }).catch((error) => request.log.error({ err: String(error) }, 'refusal could not be audited'));
        throw new CofferError('ERR_NOT_WHITELISTED', `${ip} is not on the tool white list.`);
      }
    }
    const config = request.routeOptions.config as { action?: ManagementAction; public?: boolean };
    if (config.public || !config.action) return; // `!action`: only the not-found handler
    const session = sessions.use(bearerToken(request), clientIp(request));
    request.manager = session;
    const decision = authorizeManagement(session.role, config.action);
    if (!decision.allow) {
      await audit(request, {
        businessType: 'access',
        result: 'failure',
        content: `Refused ${config.action}`,
        details: `ERR_FORBIDDEN: ${decision.reason}`,
      });
      throw new CofferError('ERR_FORBIDDEN', decision.reason, { action: config.action, role: session.role });
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Coffer management API',
        description:
          'The management service of a Coffer device (ServSec HSM manual §4): the System, Safe and Audit ' +
          'Managers log in with their card (challenge and signature) and use the functions of their role. ' +
          'Every refusal is `{ error: { code, message, details } }`.',
        version: '1',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'The token from POST /api/login.' },
        },
      },
    },
  });

  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: { hide: true, response: { 200: Type.Object({}, { additionalProperties: true }) } },
    },
    async () => app.swagger(),
  );

  await registerSessionRoutes(app, { context, sessions, challenges, throttle });
  for (const slice of opts.slices ?? defaultManagementSlices())
    await app.register(async (scope) => slice(scope, context));
  for (const plugin of opts.plugins ?? [serveManagerFiles(managerFileDirs())])
    await app.register(async (scope) => plugin(scope));
  await app.ready();
  return app;
}

/** The first lines of `docs/management-api.yaml`. */
export const MANAGEMENT_API_DOC_HEADER =
  '# Generated from the management app by `npm run openapi`; do not edit. A test fails when it is stale.\n';

/** The OpenAPI document of the management API as YAML (what `docs/management-api.yaml` holds after its header). */
export async function renderManagementOpenApi(
  slices: readonly ManagementSlice[] = defaultManagementSlices(),
): Promise<string> {
  // Routes are only registered, never called: a device that refuses every use makes that plain.
  const device = new Proxy({} as Device, {
    get() {
      throw new Error('the OpenAPI document is rendered without a device');
    },
  });
  // The browser tool's static files are not part of the API (and depend on what is installed).
  const app = await buildManagementApp({ device, slices, plugins: [] });
  try {
    return app.swagger({ yaml: true });
  } finally {
    await app.close();
  }
}
