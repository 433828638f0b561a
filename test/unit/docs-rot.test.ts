import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

// What the repository says about itself must point at things that exist: files named in
// comments and READMEs, npm scripts named anywhere, package.json's entry points.

const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  main?: string;
  bin?: Record<string, string>;
  scripts: Record<string, string>;
};

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return files(rel, ext);
    return ext.test(name) ? [rel] : [];
  });
}

const TEXTS = [
  ...['src', 'test', 'bench', 'scripts'].flatMap((d) => files(d, /\.(ts|js|md|sh)$/)),
  'README.md',
  'helm/flowhook/README.md',
].map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }));

const PATH_REFERENCE =
  /\b(?:src|test|schemas|bench|scripts|helm|kafka|docs|examples|\.ci)\/[A-Za-z0-9_./-]*\.(?:ts|md|json|ya?ml|sh)\b/g;

/** `dist/src/cli.js` → `src/cli.ts`: the entry points are built from these. */
const sourceOf = (built: string): string => built.replace(/^dist\//, '').replace(/\.js$/, '.ts');

describe('documentation', () => {
  it('names only files that exist', () => {
    const missing = TEXTS.flatMap(({ path, text }) =>
      [...text.matchAll(PATH_REFERENCE)]
        .map((m) => m[0])
        .filter((ref) => !existsSync(join(ROOT, ref)))
        .map((ref) => `${path}: ${ref}`),
    );
    expect(missing).toEqual([]);
  });

  it('cites no design document outside the repository', () => {
    const cites = TEXTS.filter(({ text }) => /\bDESIGN\.md\b/.test(text));
    expect(cites.map((t) => t.path)).toEqual([]);
  });

  it('names only npm scripts that exist', () => {
    const unknown = TEXTS.flatMap(({ path, text }) =>
      [...text.matchAll(/\bnpm run ([a-z][\w:-]*)/g)]
        .map((m) => m[1] as string)
        .filter((name) => pkg.scripts[name] === undefined)
        .map((name) => `${path}: npm run ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('has package.json entry points built from files that exist', () => {
    const entries = [
      ...(pkg.main === undefined ? [] : [pkg.main]),
      ...Object.values(pkg.bin ?? {}),
    ];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.map(sourceOf).filter((src) => !existsSync(join(ROOT, src)))).toEqual([]);
  });
});
