#!/usr/bin/env node
// Writes docs/management-api.yaml and docs/service-api.yaml from the management and crypto-service
// REST apps' routes (run `npm run build` first). Tests (packages/server: management-api-doc.test,
// service/rest-app.test) fail when a file is out of date.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  MANAGEMENT_API_DOC_HEADER,
  renderManagementOpenApi,
  renderServiceOpenApi,
  SERVICE_API_DOC_HEADER,
} from '../packages/server/dist/index.js';

const root = resolve(import.meta.dirname, '..');
const path = resolve(root, 'docs/management-api.yaml');
writeFileSync(path, MANAGEMENT_API_DOC_HEADER + (await renderManagementOpenApi()));
console.log(`wrote ${path}`);
const servicePath = resolve(root, 'docs/service-api.yaml');
writeFileSync(servicePath, SERVICE_API_DOC_HEADER + (await renderServiceOpenApi()));
console.log(`wrote ${servicePath}`);
