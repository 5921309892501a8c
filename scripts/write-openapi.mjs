#!/usr/bin/env node
// Writes docs/management-api.yaml from the management app's routes (run `npm run build` first).
// A test (packages/server: management-api-doc.test) fails when the file is out of date.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MANAGEMENT_API_DOC_HEADER, renderManagementOpenApi } from '../packages/server/dist/index.js';

const root = resolve(import.meta.dirname, '..');
const path = resolve(root, 'docs/management-api.yaml');
writeFileSync(path, MANAGEMENT_API_DOC_HEADER + (await renderManagementOpenApi()));
console.log(`wrote ${path}`);
