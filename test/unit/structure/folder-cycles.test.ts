import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

// No folder under src/ imports a folder that imports it, directly or through other folders.
// A unit is a top-level folder of src/ (`src/delivery`) or a top-level file (`src/errors.ts`);
// imports inside one unit do not count.

const SRC = resolve(__dirname, '..', '..', '..', 'src');
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)'(\.{1,2}\/[^']*)'/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** `src/delivery/role.ts` → `delivery`, `src/errors.ts` → `errors`; undefined outside src. */
function unitOf(path: string): string | undefined {
  const rel = relative(SRC, path);
  if (rel.startsWith('..')) return undefined;
  return (rel.split(sep)[0] as string).replace(/\.ts$/, '');
}

/** unit → units it imports (with one importing file per edge, for the message). */
function unitGraph(files: readonly string[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of files) {
    const from = unitOf(file) as string;
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const match of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      const to = unitOf(resolve(dirname(file), match[1] as string));
      if (to !== undefined && to !== from && !edges.has(to)) {
        edges.set(to, relative(SRC, file));
      }
    }
  }
  return graph;
}

/** Every cycle, as one path `a → b → … → a` per strongly connected component (Tarjan). */
function cycles(graph: Map<string, Map<string, string>>): string[] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return components.map((component) => describeCycle(graph, new Set(component)));
}

/** A shortest way round one component, naming the file behind each step. */
function describeCycle(graph: Map<string, Map<string, string>>, members: Set<string>): string {
  const start = [...members].sort()[0] as string;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift() as string;
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0] as string) as string);
        path.push(start);
        return path
          .slice(1)
          .map((to, i) => `${path[i]} → ${to} (${graph.get(path[i] as string)?.get(to)})`)
          .join(', ');
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...members].join(', ');
}

describe('folder structure', () => {
  it('has no import cycle between folders of src/', () => {
    expect(cycles(unitGraph(sourceFiles(SRC)))).toEqual([]);
  });

  it('reports a cycle through several folders', () => {
    const graph = new Map([
      ['a', new Map([['b', 'a/x.ts']])],
      ['b', new Map([['c', 'b/y.ts']])],
      ['c', new Map([['a', 'c/z.ts']])],
      ['d', new Map([['a', 'd/w.ts']])],
    ]);
    expect(cycles(graph)).toEqual(['a → b (a/x.ts), b → c (b/y.ts), c → a (c/z.ts)']);
  });
});
