import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { it } from 'node:test';
import { MANAGEMENT_API_DOC_HEADER, renderManagementOpenApi } from './management-app.js';

const DOC = resolve(import.meta.dirname, '../../../../docs/management-api.yaml');

it('docs/management-api.yaml is the OpenAPI document of the current management app (else: npm run openapi)', async () => {
  const expected = MANAGEMENT_API_DOC_HEADER + (await renderManagementOpenApi());
  let actual = '';
  try {
    actual = readFileSync(DOC, 'utf8');
  } catch {
    assert.fail(`${DOC} is missing; run npm run openapi`);
  }
  assert.ok(
    actual === expected,
    'docs/management-api.yaml is out of date; run npm run openapi and commit it',
  );
});
