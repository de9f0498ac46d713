// lib/ has no import cycle (a plugin imports lib/plugin.ts, never lib/server.ts): the graph of every
// relative import in lib/**/*.ts, type-only ones included (they tie modules as much as value imports
// do), and the graph of the compiled dist/lib/**/*.js, must both be acyclic.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './helpers.js';

const test = suite('imports');

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (name.endsWith(ext) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** file → the files it imports (relative specifiers, `.js` mapped to `ext`). */
export function importGraph(dir: string, ext: '.ts' | '.js'): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files(dir, ext)) {
    const src = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
    const deps: string[] = [];
    for (const m of src.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      deps.push(resolve(dirname(f), spec.replace(/\.js$/, ext)));
    }
    graph.set(f, deps);
  }
  return graph;
}

/** One cycle (as a list of files, first repeated last), or null. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | null => {
    const s = state.get(f);
    if (s === 'done') return null;
    if (s === 'open') return [...stack.slice(stack.indexOf(f)), f];
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of graph.keys()) {
    const c = visit(f);
    if (c) return c;
  }
  return null;
}

const show = (cycle: string[] | null) => (cycle ? cycle.map((f) => relative(ROOT, f)).join(' → ') : '');

test('the cycle finder finds a cycle, including one made of type-only imports', () => {
  const g = new Map([['/a.ts', ['/b.ts']], ['/b.ts', ['/c.ts']], ['/c.ts', ['/a.ts']], ['/d.ts', ['/a.ts']]]);
  assert.equal(findCycle(g), ['/a.ts', '/b.ts', '/c.ts', '/a.ts']);
  assert.is(findCycle(new Map([['/a.ts', ['/b.ts']], ['/b.ts', []]])), null);
  const src = "import type { X } from './server.js';\nexport { y } from \"./y.js\";\nconst m = await import('./lazy.js');\n// import { z } from './commented.js';";
  assert.equal([...src.replace(/\/\/[^\n]*/g, '').matchAll(IMPORT)].map((m) => m[1] ?? m[2]), ['./server.js', './y.js', './lazy.js']);
});

test('lib/**/*.ts: no import cycle (type-only imports included)', () => {
  const graph = importGraph(join(ROOT, 'lib'), '.ts');
  assert.ok(graph.size > 10, `read ${graph.size} modules`);
  assert.ok(graph.get(join(ROOT, 'lib', 'community.ts'))!.includes(join(ROOT, 'lib', 'plugin.ts')), 'community imports the plugin interface');
  const cycle = findCycle(graph);
  assert.is(cycle, null, `import cycle: ${show(cycle)}`);
});

test('dist/lib/**/*.js: no import cycle in the compiled modules', () => {
  const graph = importGraph(join(ROOT, 'dist', 'lib'), '.js');
  assert.ok(graph.size > 10, `read ${graph.size} modules`);
  const cycle = findCycle(graph);
  assert.is(cycle, null, `import cycle: ${show(cycle)}`);
});

test.run();
