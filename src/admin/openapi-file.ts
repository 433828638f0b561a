// Writes the admin API's OpenAPI document to a file (argument 1): the web console's types are
// generated from it at build time (npm run build), so the console never imports server code.

import { writeFileSync } from 'node:fs';
import { openApiDocument } from './openapi';
import { ROUTES } from './server';

if (require.main === module) {
  const out = process.argv[2];
  if (!out) throw new Error('usage: node dist/src/admin/openapi-file.js OUT.json');
  writeFileSync(out, `${JSON.stringify(openApiDocument(ROUTES), null, 2)}\n`);
}
