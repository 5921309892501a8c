import { type ErrorCode, isCofferError } from '@coffer/core';
import type { FastifyError, FastifyInstance } from 'fastify';
import { HTTP_STATUS } from './error-status.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: Record<string, unknown> };
}

function body(code: ErrorCode, message: string, details: Record<string, unknown> = {}): ErrorBody {
  return { error: { code, message, details } };
}

/**
 * Every refusal leaves as `{ error: { code, message, details } }` with the status from the one
 * table. Schema failures, bad JSON, oversize bodies and unknown routes become ERR_BAD_REQUEST or
 * ERR_NOT_FOUND; anything unexpected is ERR_INTERNAL and is logged, never echoed.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isCofferError(error)) {
      return reply
        .status(HTTP_STATUS[error.code])
        .send(body(error.code, error.message, { ...error.details }));
    }
    if (error.validation) {
      const first = error.validation[0];
      const where = first?.instancePath ? first.instancePath.replace(/^\//, '').replaceAll('/', '.') : '';
      const field =
        where ||
        (first?.params as { missingProperty?: string; additionalProperty?: string } | undefined)
          ?.missingProperty ||
        (first?.params as { additionalProperty?: string } | undefined)?.additionalProperty ||
        '';
      return reply
        .status(400)
        .send(
          body(
            'ERR_BAD_REQUEST',
            `The request is not valid: ${field ? `${field} ` : ''}${first?.message ?? 'malformed'}.`,
            field ? { field } : {},
          ),
        );
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      const message =
        error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'The request body is too large.'
          : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'The request must be JSON (Content-Type: application/json).'
            : error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
              ? 'The request body is empty; it must be a JSON object.'
              : 'The request is not valid JSON.';
      return reply.status(error.statusCode).send(body('ERR_BAD_REQUEST', message));
    }
    request.log.error({ err: { message: error.message, stack: error.stack } }, 'unexpected error');
    return reply.status(500).send(body('ERR_INTERNAL', 'The device failed to complete this request.'));
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send(body('ERR_NOT_FOUND', `There is no ${request.method} ${request.url.split('?')[0]}.`));
  });
}
