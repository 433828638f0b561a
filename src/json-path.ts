// JSON paths for problem messages (`$.definition.actions[2].data.message.url`) and the
// translation of ajv's errors into short, path-pointing problems.

import type { ErrorObject } from 'ajv';

export interface PathProblem {
  path: string;
  message: string;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Appends a member name or an array index to a JSON path. */
export function pathJoin(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (IDENT.test(key)) return `${base}.${key}`;
  return `${base}['${key.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
}

/** `/definition/actions/2/data` → `$.definition.actions[2].data`. */
export function pointerToPath(pointer: string, root = '$'): string {
  if (pointer === '') return root;
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((p, seg) => pathJoin(p, /^(0|[1-9]\d*)$/.test(seg) ? Number(seg) : seg), root);
}

function discriminatorValues(parentSchema: unknown, rootSchema: unknown): string[] {
  const out: string[] = [];
  if (!isObject(parentSchema) || !Array.isArray(parentSchema.oneOf)) return out;
  for (const branch of parentSchema.oneOf) {
    let schema: unknown = branch;
    if (isObject(branch) && typeof branch.$ref === 'string')
      schema = resolveRef(rootSchema, branch.$ref);
    if (!isObject(schema) || !isObject(schema.properties)) continue;
    const tag = schema.properties.type;
    if (!isObject(tag)) continue;
    if (typeof tag.const === 'string') out.push(tag.const);
    if (Array.isArray(tag.enum)) for (const v of tag.enum) if (typeof v === 'string') out.push(v);
  }
  return out;
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let cur: unknown = root;
  for (const seg of ref.slice(2).split('/')) {
    if (!isObject(cur)) return undefined;
    cur = cur[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turns ajv errors (compiled with `allErrors` and `verbose`) into problems: one per distinct
 * (path, message), without the noise of `if` / `anyOf` bookkeeping and null alternatives.
 */
export function formatAjvErrors(
  errors: readonly ErrorObject[] | null | undefined,
  rootSchema: unknown,
  root = '$',
): PathProblem[] {
  if (errors === null || errors === undefined) return [];
  let meaningful = errors.filter(
    (e) =>
      e.keyword !== 'if' &&
      !(
        e.keyword === 'type' &&
        /\/anyOf\/\d+\/type$/.test(e.schemaPath) &&
        e.params.type === 'null'
      ),
  );
  // An anyOf whose branches only failed `required` (e.g. "one of these identifiers") is one
  // problem, described by the schema's own description, not one per branch.
  const described = new Map<ErrorObject, string>();
  for (const e of meaningful) {
    if (e.keyword !== 'anyOf') continue;
    const branches = meaningful.filter(
      (o) => o !== e && o.schemaPath.startsWith(`${e.schemaPath}/`),
    );
    if (
      branches.length > 0 &&
      branches.every((o) => o.keyword === 'required' && o.instancePath === e.instancePath)
    ) {
      const d = isObject(e.parentSchema) ? e.parentSchema.description : undefined;
      described.set(e, typeof d === 'string' ? d : 'has an invalid value');
      meaningful = meaningful.filter((o) => !branches.includes(o));
    }
  }
  const out: PathProblem[] = [];
  const seen = new Set<string>();
  for (const e of meaningful) {
    let path = pointerToPath(e.instancePath, root);
    let message: string;
    switch (e.keyword) {
      case 'anyOf': {
        const own = described.get(e);
        if (own !== undefined) {
          message = own;
          break;
        }
        const other = meaningful.some((o) => o !== e && o.instancePath.startsWith(e.instancePath));
        if (other) continue;
        message = 'has an invalid value';
        break;
      }
      case 'required':
        path = pathJoin(path, String(e.params.missingProperty));
        message = 'is required';
        break;
      case 'enum':
        message = `must be one of: ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'const':
        message = `must be ${JSON.stringify(e.params.allowedValue)}`;
        break;
      case 'type': {
        const t = e.params.type as string | string[];
        message = `must be ${(Array.isArray(t) ? t : String(t).split(',')).join(' or ')}`;
        break;
      }
      case 'format':
        message = `must be a valid ${String(e.params.format)}`;
        break;
      case 'pattern':
        message = `must match ${String(e.params.pattern)}`;
        break;
      case 'discriminator': {
        const tag = String(e.params.tag);
        if (e.params.error === 'tag') {
          if (!isObject(e.data) || e.data[tag] === undefined) continue; // `required` reports it
          path = pathJoin(path, tag);
          message = 'must be a string';
          break;
        }
        path = pathJoin(path, tag);
        const allowed = discriminatorValues(e.parentSchema, rootSchema);
        message = `unknown ${tag} ${JSON.stringify(e.params.tagValue)}${allowed.length > 0 ? `; expected one of: ${allowed.join(', ')}` : ''}`;
        break;
      }
      default:
        message = e.message ?? `fails ${e.keyword}`;
    }
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message });
  }
  return out;
}
