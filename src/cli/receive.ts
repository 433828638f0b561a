// `flowhook receive [--port 8787] [--secret whsec_…] [--count N]`: a webhook receiver on
// loopback for trying flows locally. It prints each request (method, path, webhook-id, body)
// and whether its Standard Webhooks signature verifies, then answers 200 (401 when it does
// not verify, so the delivery worker retries as it would against a real receiver).
//
// The secret: --secret, else FLOWHOOK_SIGNING_SECRET, else the one the local `npm start`
// instance signs with (it writes it next to its broker address). That instance allows
// 127.0.0.1 destinations over http; any other needs FLOWHOOK_DESTINATION_ALLOWLIST.

import { createServer, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import { parseSigningSecrets, verifySignature } from '../delivery/signing';
import { readLocalAddress } from '../kafka/local-address';
import type { CommandIo } from './io';

export const RECEIVE_DEFAULT_PORT = 8787;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

export async function receiveCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: String(RECEIVE_DEFAULT_PORT) },
      secret: { type: 'string' },
      count: { type: 'string' },
    },
    strict: true,
  });
  const secretText =
    values.secret ?? process.env.FLOWHOOK_SIGNING_SECRET ?? readLocalAddress()?.signing_secret;
  const secrets = parseSigningSecrets(secretText);
  const stopAfter = values.count === undefined ? Infinity : Number(values.count);
  let received = 0;
  return new Promise<number>((resolve, reject) => {
    const server = createServer((req, res) => {
      void readBody(req).then((body) => {
        const verdict =
          secrets.length === 0
            ? { ok: false as const, reason: 'no signing secret to verify with' }
            : verifySignature({ headers: req.headers, body, secrets });
        const id = req.headers['webhook-id'] ?? '-';
        io.out(`${req.method ?? '?'} ${req.url ?? '/'}  webhook-id ${String(id)}`);
        io.out(verdict.ok ? '  signature verified' : `  signature NOT verified: ${verdict.reason}`);
        io.out(pretty(body).replace(/^/gm, '  '));
        res.writeHead(verdict.ok ? 200 : 401, { 'content-type': 'text/plain' }).end();
        received += 1;
        if (received >= stopAfter) server.close(() => resolve(0));
      });
    });
    server.once('error', reject);
    server.listen(Number(values.port), '127.0.0.1', () => {
      io.err(
        `receiving webhooks on http://127.0.0.1:${values.port}/ (${secrets.length > 0 ? 'verifying signatures' : 'no signing secret: signatures cannot be verified'}); Ctrl-C stops`,
      );
    });
  });
}
