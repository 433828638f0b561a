// The one header policy, shared by flow validation (which refuses, naming the header) and the
// delivery worker (which strips the same headers from jobs written before a rule existed, and
// redacts credentials in logs).
//
// - Transport headers (Host, Content-Length, Connection, Expect, TE, Proxy-*, …) belong to the
//   HTTP client; flowhook headers (User-Agent, the Standard Webhooks webhook-id/-timestamp/
//   -signature) are set on every request. A flow may set none of them.
// - Content-Type is always `application/json`; a flow may say so (Klaviyo exports do), nothing
//   else.
// - Credential headers (Authorization, Cookie, X-Api-Key, anything named like a token, secret,
//   password, API key, auth, session or credential) must take their value from
//   `{{ secrets.NAME }}`: a literal would travel in clear on flowhook.jobs.

const TRANSPORT = new Set([
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);
const SET_BY_FLOWHOOK = new Set(['user-agent', 'content-type']);
export const SIGNATURE_HEADERS: ReadonlySet<string> = new Set([
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'apikey',
  'x-auth-token',
  'x-access-token',
  'x-csrf-token',
  'x-amz-security-token',
  'webhook-signature',
]);
const CREDENTIAL_PATTERN = /token|secret|passw|api[-_]?key|auth|session|signature|credential/i;

/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const JSON_CONTENT_TYPE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

const SECRET_NAME = '[A-Za-z0-9_][A-Za-z0-9_.-]*';
/** `{{ secrets.NAME }}` with optional inner whitespace. */
export const SECRET_REFERENCE = new RegExp(`\\{\\{\\s*secrets\\.(${SECRET_NAME})\\s*\\}\\}`, 'g');
export const VALID_SECRET_NAME = new RegExp(`^${SECRET_NAME}$`);

/** Names referenced by a header value, in order, without duplicates. */
export function referencedSecrets(value: string): string[] {
  if (!value.includes('{{')) return []; // no reference possible (the common case)
  return [...new Set(Array.from(value.matchAll(SECRET_REFERENCE), (m) => m[1] as string))];
}

/** Headers the HTTP client owns or flowhook sets on every request (any case), but the signature. */
export function isTransportHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return TRANSPORT.has(lower) || lower.startsWith('proxy-') || SET_BY_FLOWHOOK.has(lower);
}

/** Headers a job may not set: transport headers and the signature headers. */
export function isReservedHeader(name: string): boolean {
  return isTransportHeader(name) || SIGNATURE_HEADERS.has(name.toLowerCase());
}

/** Whether a header carries a credential: its value is redacted in logs and must be a secret. */
export function isCredentialHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return CREDENTIAL_HEADERS.has(lower) || CREDENTIAL_PATTERN.test(lower);
}

export interface HeaderPolicyOptions {
  /** FLOWHOOK_ALLOW_LITERAL_CREDENTIALS: accept credential headers with a literal value. */
  allowLiteralCredentials?: boolean;
}

/** Why a flow may not send this header with this value (template text); undefined if it may. */
export function headerRefusal(
  name: string,
  value: string,
  options: HeaderPolicyOptions = {},
): string | undefined {
  if (!HEADER_NAME.test(name)) return `'${name}' is not a valid header name`;
  const lower = name.toLowerCase();
  if (lower === 'content-type') {
    return JSON_CONTENT_TYPE.test(value.trim())
      ? undefined
      : `header '${name}': webhook bodies are JSON: Content-Type must be application/json`;
  }
  if (isReservedHeader(name)) {
    return `header '${name}' is set by the delivery worker and cannot be configured`;
  }
  if (/[\r\n\0]/.test(value)) return `header '${name}': header values must not contain line breaks`;
  if (
    isCredentialHeader(name) &&
    referencedSecrets(value).length === 0 &&
    options.allowLiteralCredentials !== true
  ) {
    return (
      `header '${name}' carries a credential: take it from {{ secrets.NAME }} (a literal ` +
      'value would travel in clear on flowhook.jobs), or set FLOWHOOK_ALLOW_LITERAL_CREDENTIALS=true'
    );
  }
  return undefined;
}
