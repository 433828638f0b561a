// Secrets referenced from header values as `{{ secrets.NAME }}`. They are resolved only in the
// delivery worker, at send time, and never written to a topic or a log.
//
// Lookup order for NAME:
//   1. the file FLOWHOOK_SECRETS_DIR/NAME (trailing newlines removed). Kubernetes mounts a
//      Secret as `NAME -> ..data/NAME` symlinks with `..data` swapped atomically on update;
//      reading through the symlink always gives the current value, and names starting with a
//      dot (`..data`, `..2024_…`) can never be requested;
//   2. the environment variable FLOWHOOK_SECRET_<NAME>, then FLOWHOOK_SECRET_<NAME upper-cased
//      with every other character than A-Z, 0-9 and _ replaced by _> (crm-token →
//      FLOWHOOK_SECRET_CRM_TOKEN).
// Values are cached for `cacheTtlMs` (default 5 s) so that rotations are picked up quickly.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SecretNotFoundError } from '../errors';
import {
  isCredentialHeader,
  referencedSecrets,
  SECRET_REFERENCE,
  VALID_SECRET_NAME,
} from '../webhook-headers';

export interface SecretStoreOptions {
  /** FLOWHOOK_SECRETS_DIR. */
  dir?: string;
  /** Where FLOWHOOK_SECRET_<NAME> variables are read. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Default 5000; 0 disables caching. */
  cacheTtlMs?: number;
  clock?: () => number;
}

export interface ResolvedHeaders {
  headers: Record<string, string>;
  /** Header names (as given) whose values contained a secret: redact them in logs. */
  secretHeaderNames: string[];
}

export class SecretStore {
  private readonly dir?: string;
  private readonly env: Record<string, string | undefined>;
  private readonly cacheTtlMs: number;
  private readonly clock: () => number;
  private readonly cache = new Map<string, { value: string; expires: number }>();

  constructor(options: SecretStoreOptions = {}) {
    this.dir = options.dir === '' ? undefined : options.dir;
    this.env = options.env ?? process.env;
    this.cacheTtlMs = options.cacheTtlMs ?? 5000;
    this.clock = options.clock ?? Date.now;
  }

  static fromEnv(env: Record<string, string | undefined> = process.env): SecretStore {
    return new SecretStore({ dir: env.FLOWHOOK_SECRETS_DIR, env });
  }

  /** The secret's value; throws SecretNotFoundError (which names the secret, never a value). */
  async get(name: string): Promise<string> {
    if (!VALID_SECRET_NAME.test(name)) {
      throw new SecretNotFoundError(`secret name ${JSON.stringify(name)} is not valid`, {
        details: { secret: name },
      });
    }
    const now = this.clock();
    const cached = this.cache.get(name);
    if (cached && cached.expires > now) return cached.value;
    const value = (await this.readFile(name)) ?? this.readEnv(name);
    if (value === undefined) {
      const where = [
        this.dir ? `a file ${name} in FLOWHOOK_SECRETS_DIR` : undefined,
        `FLOWHOOK_SECRET_${name}`,
      ]
        .filter((w) => w !== undefined)
        .join(' or ');
      throw new SecretNotFoundError(`secret ${name} not found (looked for ${where})`, {
        details: { secret: name },
      });
    }
    if (this.cacheTtlMs > 0) this.cache.set(name, { value, expires: now + this.cacheTtlMs });
    return value;
  }

  private async readFile(name: string): Promise<string | undefined> {
    if (!this.dir) return undefined;
    try {
      const text = await fs.readFile(path.join(this.dir, name), 'utf8');
      return text.replace(/(\r?\n)+$/, '');
    } catch (error: unknown) {
      const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : '';
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
      throw new SecretNotFoundError(`secret ${name} could not be read (${String(code)})`, {
        details: { secret: name },
      });
    }
  }

  private readEnv(name: string): string | undefined {
    const exact = this.env[`FLOWHOOK_SECRET_${name}`];
    if (exact !== undefined) return exact;
    return this.env[`FLOWHOOK_SECRET_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`];
  }

  /** Replaces every `{{ secrets.NAME }}` in a value. */
  async resolveValue(value: string): Promise<string> {
    const names = referencedSecrets(value);
    if (names.length === 0) return value;
    const values = new Map<string, string>();
    for (const name of names) values.set(name, await this.get(name));
    return value.replace(SECRET_REFERENCE, (_m, name: string) => values.get(name) as string);
  }

  /** Resolves every header value; reports which headers carried secrets. */
  async resolveHeaders(headers: Record<string, string>): Promise<ResolvedHeaders> {
    const out: Record<string, string> = {};
    const secretHeaderNames: string[] = [];
    for (const [name, value] of Object.entries(headers)) {
      if (referencedSecrets(value).length === 0) {
        out[name] = value; // nothing to resolve: no need to wait
        continue;
      }
      secretHeaderNames.push(name);
      out[name] = await this.resolveValue(value);
    }
    return { headers: out, secretHeaderNames };
  }

  /** Forget cached values (e.g. on SIGHUP). */
  clearCache(): void {
    this.cache.clear();
  }
}

export const REDACTED = '[redacted]';

/**
 * A copy of `headers` safe to log: the values of well-known credential headers
 * (Authorization, Cookie, X-Api-Key, …), of any header whose name looks like one (token,
 * secret, password, api key, auth, session, signature, credential) and of every header listed
 * in `secretHeaderNames` (those whose value came from a secret) become `[redacted]`.
 */
export function redactHeaders(
  headers: Record<string, string | string[] | undefined>,
  secretHeaderNames: Iterable<string> = [],
): Record<string, string> {
  const extra = new Set(Array.from(secretHeaderNames, (n) => n.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    const text = Array.isArray(value) ? value.join(', ') : value;
    const sensitive = isCredentialHeader(lower) || extra.has(lower);
    out[name] = sensitive ? REDACTED : text;
  }
  return out;
}
