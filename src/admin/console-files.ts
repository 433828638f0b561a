// The web console's built files (console/, built by `npm run build` into dist/console), served
// by the admin API below /console/ — no CDN, so the console works offline. Any path that is not
// a file is the single-page app's index.html (its own router reads the path).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join, normalize, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** dist/console of this package, found from src/admin and from dist/src/admin. */
export function consoleDirectory(): string | undefined {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      const built = join(dir, 'dist', 'console');
      return existsSync(join(built, 'index.html')) ? built : undefined;
    }
  }
  return undefined;
}

/** `issuerOrigin` is where the console's sign-in talks to besides this server. */
export function serveConsole(
  server: FastifyInstance,
  root: string | undefined,
  issuerOrigin: () => string | undefined,
): void {
  const send = (path: string, reply: FastifyReply) => {
    if (!root) {
      return reply.code(404).send({
        error: {
          code: 'FLOWHOOK_ERR_NOT_FOUND',
          message: 'the web console is not built: run npm run build',
        },
      });
    }
    const file = normalize(join(root, path));
    const inside = file.startsWith(root + sep) && existsSync(file) && extname(file) !== '';
    const chosen = inside ? file : join(root, 'index.html');
    const type = CONTENT_TYPES[extname(chosen)] ?? 'application/octet-stream';
    // Hashed asset names may be cached for good; index.html must be fetched again.
    const cache = chosen.includes(`${sep}assets${sep}`)
      ? 'public, max-age=31536000, immutable'
      : 'no-cache';
    return reply
      .header('content-type', type)
      .header('cache-control', cache)
      .header('x-content-type-options', 'nosniff')
      .header(
        'content-security-policy',
        `default-src 'self'; connect-src 'self' ${issuerOrigin() ?? ''}; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'`,
      )
      .send(readFileSync(chosen));
  };
  server.get('/', (_request, reply) => reply.redirect('/console/'));
  server.get('/console', (_request, reply) => reply.redirect('/console/'));
  server.get<{ Params: { '*': string } }>('/console/*', (request, reply) =>
    send(request.params['*'], reply),
  );
}
