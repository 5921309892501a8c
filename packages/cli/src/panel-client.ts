import { CofferError, type ErrorCode, isErrorCode } from '@coffer/core';

/** A thin client of the front-panel API (`coffer panel …`, `coffer dev`, end-to-end tests). */
export class PanelClient {
  constructor(readonly baseUrl: string) {}

  async get<T>(path: string, token?: string): Promise<T> {
    return this.#call<T>('GET', path, undefined, token);
  }

  async post<T>(path: string, body: object = {}, token?: string): Promise<T> {
    return this.#call<T>('POST', path, body, token);
  }

  async #call<T>(method: string, path: string, body: object | undefined, token?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers['x-ceremony-token'] = token;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new CofferError(
        'ERR_INTERNAL',
        `Cannot reach the front panel at ${this.baseUrl}: ${(error as Error).message}`,
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new CofferError(
        'ERR_INTERNAL',
        `The front panel answered ${response.status} with something that is not JSON.`,
      );
    }
    if (!response.ok) {
      const e = (json as { error?: { code?: string; message?: string; details?: Record<string, string> } })
        .error;
      const code: ErrorCode = e?.code && isErrorCode(e.code) ? e.code : 'ERR_INTERNAL';
      throw new CofferError(code, e?.message ?? `HTTP ${response.status}`, e?.details ?? {});
    }
    return json as T;
  }
}
