import type { IncomingMessage } from 'node:http';
import { CofferError } from '@coffer/core';
import type { StructCodec } from '@coffer/protocol';
import { AjvCompiler } from '@fastify/ajv-compiler';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import { installErrorHandling } from '../http/error-handler.js';
import { ErrorBody } from '../management/management-schemas.js';
import { type Dispatcher, type ServiceSession, wireError } from './dispatcher.js';
import { fromJson, type JsonSchema, objectSchema, toJson } from './json-codec.js';
import {
  BATCHABLE_COMMANDS,
  SERVICE_COMMANDS,
  type ServiceRequest,
  type SingleCommandName,
} from './service-commands.js';

/** The largest JSON body: a 1 MiB payload in base64 with room for the other fields. */
export const SERVICE_REST_BODY_LIMIT = 2 * 1024 * 1024;

export interface ServiceRestAppOptions {
  dispatcher: Dispatcher;
  /**
   * The admitted session of the connection a request came on, or null (refused: ERR_LICENCE_UNKNOWN).
   * The listener keeps them per socket; tests with `inject` return one of their own.
   */
  sessionOf(request: IncomingMessage): ServiceSession | null;
  /** Why the connection was cut, if it was (its next request is refused with this). */
  cutReason?(request: IncomingMessage): { code: CofferError['code']; message: string } | null;
  serverFactory?: FastifyServerFactory;
  loggerInstance?: FastifyBaseLogger;
}

/** How each operation appears in the REST API. */
interface Route {
  readonly command: SingleCommandName;
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly summary: string;
}

const GET_ROUTES: Partial<Record<SingleCommandName, string>> = {
  info: '/v1/info',
  'list-keys': '/v1/keys',
  'key-info': '/v1/keys/:key',
  'public-key': '/v1/keys/:key/public-key',
};

function routes(): Route[] {
  return (Object.keys(SERVICE_COMMANDS) as (keyof typeof SERVICE_COMMANDS)[])
    .filter((name): name is SingleCommandName => name !== 'batch')
    .map((command) => {
      const get = GET_ROUTES[command];
      return {
        command,
        method: get ? 'GET' : 'POST',
        url: get ?? `/v1/${command}`,
        summary: SERVICE_COMMANDS[command].summary,
      } as const;
    });
}

/** Body validation never coerces (a string is not an integer); query strings and path parameters do. */
function validatorFactory() {
  const pool = AjvCompiler();
  return (
    externalSchemas: Parameters<ReturnType<typeof AjvCompiler>>[0],
    options: { customOptions?: object },
  ) => {
    const build = (coerce: boolean) =>
      pool(externalSchemas, {
        ...options,
        customOptions: {
          ...options.customOptions,
          coerceTypes: coerce ? 'array' : false,
          useDefaults: coerce,
          removeAdditional: false,
        },
      });
    const strict = build(false);
    const loose = build(true);
    return (route: { schema: object; httpPart?: string; method: string; url: string }) =>
      route.httpPart === 'body' ? strict(route as never) : loose(route as never);
  };
}

/** Every refusal: `{ error: { code, message, details } }` (one shared schema). */
const ERROR_REF = { $ref: 'ErrorBody#' } as const;

const BatchResultJson = {
  type: 'object',
  additionalProperties: false,
  description: 'The item’s response, or its refusal',
  properties: {
    response: { type: 'object', additionalProperties: true },
    error: {
      type: 'object',
      additionalProperties: false,
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
} as const;

/**
 * The crypto service's REST API (issue 4): every operation of the binary protocol under `/v1/…`,
 * JSON with base64 for bytes, on the same port (ALPN `http/1.1`) and through the same dispatcher.
 * Request and response schemas are generated from the protocol's declarations (json-codec.ts), so
 * nothing unlisted is ever serialised. Refusals are `{ error: { code, message, details } }` with
 * the status of the one table (`http/error-status.ts`). Built here; the listener hands it the
 * admitted TLS sockets; tests use `inject`.
 */
export async function buildServiceRestApp(opts: ServiceRestAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance } : { logger: false }),
    bodyLimit: SERVICE_REST_BODY_LIMIT,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    ...(opts.serverFactory ? { serverFactory: opts.serverFactory } : {}),
    schemaController: { compilersFactory: { buildValidator: validatorFactory() as never } },
  });
  installErrorHandling(app);
  app.decorateRequest('session', null);

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config && (request.routeOptions.config as { public?: boolean }).public) return;
    const cut = opts.cutReason?.(request.raw) ?? null;
    const session = opts.sessionOf(request.raw);
    if (cut || !session) {
      reply.header('connection', 'close');
      throw new CofferError(
        cut?.code ?? 'ERR_LICENCE_UNKNOWN',
        cut?.message ?? 'This connection was not admitted to the crypto service.',
      );
    }
    (request as unknown as { session: ServiceSession }).session = session;
  });

  app.addSchema({ ...ErrorBody, $id: 'ErrorBody' });
  await app.register(swagger, {
    // Shared schemas by their own names in components.schemas (not def-0, def-1…).
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json['$id'] ?? `def-${i}`) },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Coffer crypto service REST API',
        description:
          'The crypto service of a Coffer device (ServSec HSM manual §1, §2, §5) for clients without the SDK: ' +
          'HTTPS with mutual TLS on the service port (A-Net1, default 1813; ALPN `http/1.1`), the client ' +
          'certificate and key of an operator licence, the device CA from the same licence. Every operation of ' +
          'the binary protocol (docs/protocol.md) under `/v1/…` with the same fields; bytes are base64. ' +
          'Keys are the indexes of keys bound to the operator. Every refusal is `{ error: { code, message, ' +
          'details } }`; the codes are those of docs/protocol.md §4 and §10.',
        version: '1',
      },
    },
  });

  for (const route of routes()) {
    const codec = SERVICE_COMMANDS[route.command] as unknown as {
      request: StructCodec<unknown>;
      response: StructCodec<unknown>;
    };
    const requestSchema = objectSchema(codec.request, 'request');
    const hasKeyParam = route.url.includes(':key');
    const schema: Record<string, unknown> = {
      summary: route.summary,
      operationId: route.command,
      tags: [tagOf(route.command)],
      response: {
        200: { ...objectSchema(codec.response, 'response'), title: `${pascal(route.command)}Response` },
        '4xx': ERROR_REF,
        '5xx': ERROR_REF,
      },
    };
    if (route.method === 'POST')
      schema['body'] = { ...requestSchema, title: `${pascal(route.command)}Request` };
    else if (hasKeyParam) schema['params'] = requestSchema;
    else if (Object.keys((requestSchema['properties'] as object) ?? {}).length > 0)
      schema['querystring'] = requestSchema;

    app.route({
      method: route.method,
      url: route.url,
      schema,
      handler: async (request) => {
        const session = (request as unknown as { session: ServiceSession }).session;
        const input = route.method === 'POST' ? request.body : hasKeyParam ? request.params : request.query;
        const typed = fromJson(codec.request, input);
        const response = await opts.dispatcher.execute(session, {
          command: route.command,
          request: typed,
        } as ServiceRequest);
        return toJson(codec.response, response);
      },
    });
  }

  for (const command of BATCHABLE_COMMANDS) {
    const codec = SERVICE_COMMANDS[command] as unknown as {
      request: StructCodec<unknown>;
      response: StructCodec<unknown>;
    };
    const BatchRequest: JsonSchema = {
      type: 'object',
      additionalProperties: false,
      title: `${pascal(command)}BatchRequest`,
      properties: {
        items: {
          type: 'array',
          minItems: 1,
          maxItems: 1000,
          items: objectSchema(codec.request, 'request'),
        },
      },
      required: ['items'],
    };
    app.post(
      `/v1/batch/${command}`,
      {
        schema: {
          summary: `Many ${command} requests in one: results in the items’ order, each a response or an error`,
          operationId: `batch-${command}`,
          tags: ['Batch'],
          body: BatchRequest,
          response: {
            200: {
              type: 'object',
              additionalProperties: false,
              title: `${pascal(command)}BatchResponse`,
              properties: {
                results: {
                  type: 'array',
                  items: {
                    ...BatchResultJson,
                    properties: {
                      ...BatchResultJson.properties,
                      response: objectSchema(codec.response, 'response'),
                    },
                  },
                },
              },
              required: ['results'],
            },
            '4xx': ERROR_REF,
            '5xx': ERROR_REF,
          },
        },
      },
      async (request) => {
        const session = (request as unknown as { session: ServiceSession }).session;
        const body = request.body as { items: unknown[] };
        const items = body.items.map((item) => {
          try {
            return { request: fromJson(codec.request, item) };
          } catch (error) {
            return { error: wireError(error) };
          }
        });
        const results = await opts.dispatcher.executeBatch(session, command, items);
        return {
          results: results.map((r) =>
            'error' in r ? { error: r.error } : { response: toJson(codec.response, r.response) },
          ),
        };
      },
    );
  }

  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: { hide: true, response: { 200: { type: 'object', additionalProperties: true } } },
    },
    async () => app.swagger(),
  );
  await app.ready();
  return app;
}

function tagOf(command: SingleCommandName): string {
  switch (command) {
    case 'ping':
    case 'info':
      return 'Service';
    case 'list-keys':
    case 'key-info':
    case 'public-key':
      return 'Keys';
    case 'random':
    case 'hash':
    case 'sm2-digest':
      return 'Random and hashes';
    case 'mac':
    case 'verify-mac':
    case 'encrypt':
    case 'decrypt':
      return 'Symmetric keys';
    case 'generate-data-key':
    case 'wrap':
    case 'unwrap':
    case 'derive':
      return 'Key transport';
    default:
      return 'Key pairs';
  }
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_, _d, c: string) => c.toUpperCase());
}

/** The first lines of `docs/service-api.yaml`. */
export const SERVICE_API_DOC_HEADER =
  '# Generated from the crypto service REST app by `npm run openapi`; do not edit. A test fails when it is stale.\n';

/** The OpenAPI document of the crypto service's REST API as YAML (what `docs/service-api.yaml` holds after its header). */
export async function renderServiceOpenApi(): Promise<string> {
  // Routes are only registered, never called.
  const dispatcher = new Proxy({} as Dispatcher, {
    get() {
      throw new Error('the OpenAPI document is rendered without a dispatcher');
    },
  });
  const app = await buildServiceRestApp({ dispatcher, sessionOf: () => null });
  try {
    return app.swagger({ yaml: true });
  } finally {
    await app.close();
  }
}
