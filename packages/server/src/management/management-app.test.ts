import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditDraft, Device } from '@coffer/core';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ManagementSlice } from './context.js';
import { buildManagementApp, MANAGEMENT_FILE_BODY_LIMIT } from './management-app.js';
import { closed, Ok } from './management-schemas.js';

/** A device that only records audit entries: enough for the app's own behaviour. */
function fakeDevice(): { device: Device; audited: AuditDraft[] } {
  const audited: AuditDraft[] = [];
  const device = {
    auditLog: {
      append: async (draft: AuditDraft) => {
        audited.push(draft);
      },
    },
  } as unknown as Device;
  return { device, audited };
}

const testSlice: ManagementSlice = (app) => {
  app.post(
    '/t/echo',
    {
      config: { public: true },
      schema: {
        body: Type.Object({ n: Type.Integer() }, closed),
        response: { 200: Type.Object({ n: Type.Integer() }) },
      },
    },
    async (request) => ({ n: (request.body as { n: number }).n }),
  );
  app.post(
    '/t/big',
    {
      config: { public: true },
      bodyLimit: MANAGEMENT_FILE_BODY_LIMIT,
      schema: { body: Type.Object({ data: Type.String() }, closed), response: { 200: Ok } },
    },
    async () => ({ ok: true }),
  );
  app.get(
    '/t/page',
    {
      config: { public: true },
      schema: {
        querystring: Type.Object({ page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })) }, closed),
        response: { 200: Type.Object({ page: Type.Integer() }) },
      },
    },
    async (request) => ({ page: (request.query as { page: number }).page }),
  );
  app.get('/t/keys', { config: { action: 'keys.list' }, schema: { response: { 200: Ok } } }, async () => ({
    ok: true,
  }));
};

async function appWith(slices: ManagementSlice[]): Promise<{ app: FastifyInstance; audited: AuditDraft[] }> {
  const { device, audited } = fakeDevice();
  return { app: await buildManagementApp({ device, slices }), audited };
}

function session(app: FastifyInstance, role: 'system-manager' | 'safe-manager' | 'audit-manager') {
  const { token } = app.management.sessions.open({
    account: 'adminX1',
    role,
    cardId: 'c',
    slot: 'X1',
    clientIp: '127.0.0.1',
  });
  return { authorization: `Bearer ${token}` };
}

describe('management app', () => {
  it('a route that declares neither an action nor public is refused when the app is built', async () => {
    const forgotten: ManagementSlice = (app) => {
      app.get('/t/forgotten', { schema: { response: { 200: Ok } } }, async () => ({ ok: true }));
    };
    await assert.rejects(appWith([forgotten]), /declares neither config\.action nor config\.public/);
  });

  it('a route without a response schema is refused when the app is built', async () => {
    const bare: ManagementSlice = (app) => {
      app.get('/t/bare', { config: { public: true } }, async () => ({ ok: true }));
    };
    await assert.rejects(appWith([bare]), /has no response schema/);
  });

  it('a route with an action the policy does not know is refused when the app is built', async () => {
    const unknown: ManagementSlice = (app) => {
      app.get(
        '/t/x',
        { config: { action: 'keys.explode' as never }, schema: { response: { 200: Ok } } },
        async () => ({
          ok: true,
        }),
      );
    };
    await assert.rejects(appWith([unknown]), /unknown action/);
  });

  it('a body field of the wrong type, an unknown field, malformed JSON and an oversize body are 4xx ERR_BAD_REQUEST', async () => {
    const { app } = await appWith([testSlice]);
    const post = (payload: string, url = '/t/echo') =>
      app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
    assert.equal((await post('{"n":5}')).json().n, 5);
    for (const payload of ['{"n":"5"}', '{"n":5,"extra":1}', '{"n":', '[]']) {
      const r = await post(payload);
      assert.equal(r.statusCode, 400, payload);
      assert.equal(r.json().error.code, 'ERR_BAD_REQUEST', payload);
    }
    const big = await post(JSON.stringify({ n: 1, pad: 'x'.repeat(300 * 1024) }));
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error.code, 'ERR_BAD_REQUEST');
    const file = await post(JSON.stringify({ data: 'x'.repeat(2 * 1024 * 1024) }), '/t/big');
    assert.equal(file.statusCode, 200, 'a file route takes a larger body');
    await app.close();
  });

  it('query strings are coerced to their declared types and get their defaults', async () => {
    const { app } = await appWith([testSlice]);
    assert.equal((await app.inject({ url: '/t/page?page=3' })).json().page, 3);
    assert.equal((await app.inject({ url: '/t/page' })).json().page, 1);
    assert.equal((await app.inject({ url: '/t/page?page=x' })).statusCode, 400);
    await app.close();
  });

  it('another role’s function is 403 ERR_FORBIDDEN and the refusal is audited', async () => {
    const { app, audited } = await appWith([testSlice]);
    const refused = await app.inject({ url: '/t/keys', headers: session(app, 'audit-manager') });
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().error.code, 'ERR_FORBIDDEN');
    assert.match(refused.json().error.message, /Safe Manager/);
    assert.equal(audited.at(-1)?.result, 'failure');
    assert.equal(audited.at(-1)?.source, 'management');
    assert.equal(audited.at(-1)?.account, 'adminX1');
    const allowed = await app.inject({ url: '/t/keys', headers: session(app, 'safe-manager') });
    assert.equal(allowed.statusCode, 200);
    await app.close();
  });

  it('without a bearer token a function is 401 ERR_SESSION_REQUIRED, checked before the body is read', async () => {
    const { app } = await appWith([testSlice]);
    const r = await app.inject({ url: '/t/keys' });
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().error.code, 'ERR_SESSION_REQUIRED');
    await app.close();
  });

  it('serves its OpenAPI document publicly, with every function’s roles', async () => {
    const { app } = await appWith([testSlice]);
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    assert.equal(doc.openapi, '3.0.3');
    assert.match(doc.paths['/t/keys'].get.description, /keys\.list.*Safe Manager/);
    assert.deepEqual(doc.paths['/t/keys'].get.security, [{ bearer: [] }]);
    assert.ok(doc.paths['/api/login'].post);
    await app.close();
  });
});
