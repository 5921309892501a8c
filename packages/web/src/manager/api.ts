/**
 * The management API as the tool sees it (docs/management.md). Same origin, bearer token in memory
 * only (never in storage: a reload logs out). Every refusal is an {@link ApiError} carrying the
 * device's code and sentence, shown where it happened.
 */

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export type Role = 'system-manager' | 'safe-manager' | 'audit-manager';

export interface Session {
  token: string;
  account: string;
  role: Role;
  slot: string;
  idleTimeoutMs: number;
}

export interface PageInfo {
  page: number;
  size: number;
  from: number;
  to: number;
  total: number;
}

export interface Api {
  session: Session | null;
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
  send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** A request whose answer is a file: the bytes and the name the device gave it. */
  file(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ blob: Blob; name: string }>;
}

export interface ApiHooks {
  /** Each request the device answered counts as activity (the device's idle clock restarts). */
  onActivity(): void;
  /** The session ended on the device (idle or stopped). */
  onSessionEnded(error: ApiError): void;
}

async function refusal(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code: string; message: string; details?: object } };
    if (body.error) {
      return new ApiError(
        body.error.code,
        body.error.message,
        response.status,
        (body.error.details ?? {}) as Record<string, unknown>,
      );
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError(
    'ERR_HTTP',
    `The device answered ${response.status} ${response.statusText}.`,
    response.status,
  );
}

export function createApi(hooks: ApiHooks): Api {
  const api: Api = {
    session: null,
    get: (path, query) => {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query ?? {}))
        if (v !== undefined && v !== '') params.set(k, String(v));
      const qs = params.toString();
      return call('GET', qs ? `${path}?${qs}` : path).then((r) => r.json());
    },
    send: (method, path, body) => call(method, path, body).then((r) => r.json()),
    file: async (method, path, body) => {
      const response = await call(method, path, body);
      const disposition = response.headers.get('content-disposition') ?? '';
      const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'download';
      return { blob: await response.blob(), name };
    },
  };

  async function call(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (api.session) headers['authorization'] = `Bearer ${api.session.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch {
      throw new ApiError(
        'ERR_NETWORK',
        'The device could not be reached (is the management service running?).',
        0,
      );
    }
    if (response.ok) {
      if (api.session) hooks.onActivity();
      return response;
    }
    const error = await refusal(response);
    if (api.session && (error.code === 'ERR_SESSION_EXPIRED' || error.code === 'ERR_SESSION_REQUIRED')) {
      hooks.onSessionEnded(error);
    } else if (api.session) {
      hooks.onActivity();
    }
    throw error;
  }
  return api;
}
