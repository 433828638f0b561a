// The HTTP edge of the delivery role: one POST per call, over got 11 with keep-alive agents.
// No retries (the retry tiers do that), no redirects (3xx is a failure), no decompression,
// a per-attempt timeout, a bounded read of the response body, and the private-address guard
// installed as the agents' `lookup` so it runs for every connection (literal-IP URLs, which
// skip DNS, are checked by `checkUrl` first). `send` never throws: every failure becomes an
// AttemptResult with an error code for `classifyAttempt`.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import got from 'got';
import { BodyTooLargeError, FlowhookError } from '../errors';
import { isTransportHeader } from '../webhook-headers';
import { DestinationPolicy } from './address-guard';

export interface SendRequest {
  url: string;
  /** Extra headers (already resolved and signed). Content-Type and User-Agent are ours. */
  headers: Record<string, string>;
  body: string;
  /** Per-attempt timeout; default the sender's. */
  timeoutMs?: number;
}

export interface AttemptResult {
  statusCode?: number;
  /** Set when no complete response was obtained (or nothing was sent). */
  error?: { code: string; message: string };
  durationMs: number;
  /** The response body as UTF-8, at most `maxResponseBytes` bytes of it. */
  responseBody: string;
  responseTruncated: boolean;
  /** Raw `Retry-After` response header. */
  retryAfter?: string;
}

/** Anything that can make an attempt (WebhookSender, or a stand-in in tests). */
export interface Sender {
  send(request: SendRequest): Promise<AttemptResult>;
}

export interface WebhookSenderOptions {
  policy: DestinationPolicy;
  /** Default 10 s. */
  timeoutMs?: number;
  /** Keep-alive sockets per origin, per agent. Default 16. */
  maxSockets?: number;
  /** Response bytes kept. Default 4 KiB. */
  maxResponseBytes?: number;
  /** Request bodies above this are refused before sending. Default 512 KiB. */
  maxBodyBytes?: number;
  /** Default `flowhook/<package version>`. */
  userAgent?: string;
  /** Extra TLS options for the https agent (e.g. `ca` in tests). */
  tls?: https.AgentOptions;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 4096;
export const DEFAULT_MAX_BODY_BYTES = 512 * 1024;

let cachedVersion: string | undefined;

/** The version in flowhook's package.json (found upwards from this file; works from dist/). */
export function flowhookVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = '0.0.0';
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg: unknown = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (typeof pkg === 'object' && pkg !== null && 'name' in pkg && pkg.name === 'flowhook') {
        if ('version' in pkg && typeof pkg.version === 'string') cachedVersion = pkg.version;
        break;
      }
    } catch {
      // not here; keep walking up
    }
    if (path.dirname(dir) === dir) break;
  }
  return cachedVersion;
}

/** Throws BodyTooLargeError when the UTF-8 body exceeds the limit. */
export function checkBodySize(body: string, maxBodyBytes = DEFAULT_MAX_BODY_BYTES): void {
  const size = Buffer.byteLength(body, 'utf8');
  if (size > maxBodyBytes) {
    throw new BodyTooLargeError(
      `webhook body is ${size} bytes, above the ${maxBodyBytes}-byte limit; nothing was sent`,
      { details: { size, limit: maxBodyBytes } },
    );
  }
}

/** Drops the headers `isReserved` names (by default the transport's; any case). */
export function stripReservedHeaders(
  headers: Record<string, string>,
  isReserved: (name: string) => boolean = isTransportHeader,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!isReserved(name)) out[name] = value;
  }
  return out;
}

function errorFacts(error: unknown): { code: string; message: string } {
  if (error instanceof FlowhookError) return { code: error.code, message: error.message };
  if (error instanceof Error) {
    const code = 'code' in error && typeof error.code === 'string' ? error.code : 'ERR_UNKNOWN';
    return { code, message: error.message };
  }
  return { code: 'ERR_UNKNOWN', message: String(error) };
}

export class WebhookSender implements Sender {
  readonly policy: DestinationPolicy;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly maxBodyBytes: number;
  readonly userAgent: string;
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(options: WebhookSenderOptions) {
    this.policy = options.policy;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.userAgent = options.userAgent ?? `flowhook/${flowhookVersion()}`;
    const common = {
      keepAlive: true,
      maxSockets: options.maxSockets ?? 16,
      // Agent options win over request options, so every socket goes through the guard.
      lookup: this.policy.lookup,
    };
    this.agents = {
      http: new http.Agent(common),
      https: new https.Agent({ ...options.tls, ...common }),
    };
  }

  async send(request: SendRequest): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    let url: URL;
    try {
      checkBodySize(request.body, this.maxBodyBytes);
      url = this.policy.checkUrl(request.url).url;
    } catch (error: unknown) {
      return {
        error: errorFacts(error),
        durationMs: elapsed(),
        responseBody: '',
        responseTruncated: false,
      };
    }
    const headers = stripReservedHeaders(request.headers);
    headers['content-type'] = 'application/json';
    headers['user-agent'] = this.userAgent;
    const limit = this.maxResponseBytes;

    return new Promise<AttemptResult>((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let statusCode: number | undefined;
      let retryAfter: string | undefined;
      let settled = false;
      const finish = (truncated: boolean, error?: unknown): void => {
        if (settled) return;
        settled = true;
        const result: AttemptResult = {
          durationMs: elapsed(),
          responseBody: Buffer.concat(chunks).toString('utf8'),
          responseTruncated: truncated,
        };
        if (statusCode !== undefined) result.statusCode = statusCode;
        if (retryAfter !== undefined) result.retryAfter = retryAfter;
        if (error !== undefined) result.error = errorFacts(error);
        resolve(result);
      };

      let stream: ReturnType<typeof got.stream>;
      try {
        stream = got.stream(url, {
          method: 'POST',
          body: request.body,
          headers,
          agent: this.agents,
          timeout: { request: request.timeoutMs ?? this.timeoutMs },
          followRedirect: false,
          throwHttpErrors: false,
          retry: { limit: 0 },
          decompress: false,
          http2: false,
        });
      } catch (error: unknown) {
        finish(false, error);
        return;
      }
      stream.on('response', (response: http.IncomingMessage) => {
        statusCode = response.statusCode;
        const value = response.headers['retry-after'];
        if (typeof value === 'string') retryAfter = value;
      });
      stream.on('data', (chunk: Buffer) => {
        const room = limit - size;
        if (room > 0) {
          const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
          chunks.push(kept);
          size += kept.length;
        }
        if (chunk.length > room) {
          // Enough: stop reading (the socket is discarded rather than drained).
          stream.destroy();
          finish(true);
        }
      });
      stream.on('end', () => finish(false));
      stream.on('error', (error: unknown) => finish(false, error));
    });
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
