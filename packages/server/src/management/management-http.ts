import type { FastifyRequest } from 'fastify';

/** The body limit of ordinary management requests. */
export const MANAGEMENT_BODY_LIMIT = 256 * 1024;
/** The body limit of routes that take files (key import, backup restore): set `bodyLimit` on those routes. */
export const MANAGEMENT_FILE_BODY_LIMIT = 16 * 1024 * 1024;

/** The client's address as the audit log shows it (IPv4-mapped IPv6 unwrapped). */
export function clientIp(request: FastifyRequest): string {
  return String(request.socket.remoteAddress ?? request.ip ?? '-').replace(/^::ffff:/, '');
}

/** The session token of `Authorization: Bearer <token>`, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const m = /^Bearer\s+([A-Za-z0-9_-]{16,128})\s*$/.exec(header);
  return m?.[1] ?? null;
}
