import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { COMMANDS, type StructCodec } from '@coffer/protocol';
import { fromJson, objectSchema, toJson } from './json-codec.js';
import { renderServiceOpenApi, SERVICE_API_DOC_HEADER } from './rest-app.js';
import { SERVICE_COMMANDS } from './service-commands.js';

/*
 * The REST API's JSON is generated from the binary protocol's body declarations: the same fields,
 * bytes as base64, the same rules; and docs/service-api.yaml is the OpenAPI of the current app.
 */

const DOC = resolve(import.meta.dirname, '../../../../docs/service-api.yaml');

it('docs/service-api.yaml is the OpenAPI document of the current REST app (else: npm run openapi)', async () => {
  const expected = SERVICE_API_DOC_HEADER + (await renderServiceOpenApi());
  let actual = '';
  try {
    actual = readFileSync(DOC, 'utf8');
  } catch {
    assert.fail(`${DOC} is missing; run npm run openapi`);
  }
  assert.ok(actual === expected, 'docs/service-api.yaml is out of date; run npm run openapi and commit it');
});

describe('JSON bodies from the protocol’s declarations', () => {
  it('every protocol command is a service command, by the same name', () => {
    assert.deepEqual(COMMANDS.map((c) => c.name).sort(), Object.keys(SERVICE_COMMANDS).sort());
  });

  it('schemas are closed objects listing every field, bytes as base64 strings', () => {
    const sign = objectSchema(SERVICE_COMMANDS.sign.request as StructCodec<unknown>, 'request') as {
      additionalProperties: boolean;
      properties: Record<string, { type: string; format?: string; minimum?: number }>;
      required: string[];
    };
    assert.equal(sign.additionalProperties, false);
    assert.deepEqual(Object.keys(sign.properties), [
      'key',
      'algorithm',
      'data',
      'prehashed',
      'format',
      'id',
      'saltLength',
    ]);
    assert.deepEqual(sign.required, ['key', 'algorithm', 'data']);
    assert.equal(sign.properties['data']!.format, 'byte');
    assert.equal(sign.properties['key']!.minimum, 1);
  });

  it('round trip: base64 in, Buffers inside, base64 out; byte lengths and rules checked', () => {
    const codec = SERVICE_COMMANDS.verify.request as StructCodec<Record<string, unknown>>;
    const typed = fromJson(codec, { key: 3, algorithm: 'ed25519', data: 'aGk=', signature: 'AAEC' });
    assert.deepEqual(typed['data'], Buffer.from('hi'));
    assert.deepEqual(toJson(codec, typed), { key: 3, algorithm: 'ed25519', data: 'aGk=', signature: 'AAEC' });
    assert.throws(
      () => fromJson(codec, { algorithm: 'ed25519', data: 'aGk=', signature: 'AAEC' }),
      (e: { code: string }) => e.code === 'ERR_BAD_REQUEST',
    );
    const encrypt = SERVICE_COMMANDS.encrypt.request as StructCodec<unknown>;
    assert.throws(
      () => fromJson(encrypt, { key: 1, mode: 'gcm', data: '', iv: Buffer.alloc(17).toString('base64') }),
      (e: { code: string; details: { field: string } }) =>
        e.code === 'ERR_BAD_REQUEST' && e.details.field === 'iv',
    );
    const list = SERVICE_COMMANDS['list-keys'].response as StructCodec<unknown>;
    const json = toJson(list, {
      total: 1,
      keys: [
        {
          index: 1,
          type: 'AES-256',
          keyClass: 'symmetric',
          status: 'normal',
          usage: ['encrypt'],
          description: '',
          createdAt: 'x',
          expiresAt: 'y',
          checkValue: 'ABCDEF',
        },
      ],
    });
    assert.deepEqual((json['keys'] as { usage: string[] }[])[0]!.usage, ['encrypt']);
  });
});
