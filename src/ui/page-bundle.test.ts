// The page bundle must not carry the graph builder, GPT-2 as a graph, the patching engine or onnx-proto: those
// belong in the engine worker. This walks the page's static value imports from src/main.tsx (type-only imports
// vanish from the bundle and are skipped) and checks what it reaches. The lint rule in eslint.config.js catches
// direct imports; this also catches a pure-looking module that starts importing graph code.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

function resolve(from: string, spec: string): string | null {
  const base = join(dirname(from), spec);
  for (const c of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')]) {
    if (existsSync(c) && /\.tsx?$/.test(c)) return c;
  }
  return null; // css and other assets
}

/** Whether every imported name is a type (`import { type A, type B }`), so the import is erased. */
function typeOnly(clause: string): boolean {
  const m = /^\{([^}]*)\}$/.exec(clause.trim());
  if (!m) return false;
  const names = m[1].split(',').map((s) => s.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => n.startsWith('type '));
}

function pageModules(entry = join(ROOT, 'src/main.tsx')): { files: string[]; packages: string[] } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[4] ?? m[5];
      if (m[2] || (m[3] !== undefined && typeOnly(m[3]))) continue;
      if (!spec.startsWith('.')) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
        continue;
      }
      const target = resolve(file, spec);
      if (target) todo.push(target);
    }
  }
  return { files: [...seen].map((f) => relative(ROOT, f)).sort(), packages: [...packages].sort() };
}

describe('page bundle', () => {
  const { files, packages } = pageModules();

  it('reaches the app (the walk follows imports)', () => {
    expect(files).toContain('src/ui/App.tsx');
    expect(files).toContain('src/state/actions/run.ts');
    expect(files).toContain('src/engine/patching/experiment.ts');
  });

  it('imports no graph builder, graph model or patching engine', () => {
    // engine/graph/shape.ts (numel, no imports of its own) is the one graph file the page may reach: the result
    // layouts of engine/patching/labelled.ts count their entries with it.
    const heavy = files.filter((f) => /^src\/engine\/(graph\/(?!shape\.ts$)|model\/gpt2|runtime\/(?!types)|patching\/(index|attribution|activation|metrics)\.ts)/.test(f));
    expect(heavy).toEqual([]);
  });

  it('imports neither onnx-proto nor onnxruntime', () => {
    expect(packages.filter((p) => p.startsWith('onnx'))).toEqual([]);
  });
});

describe('layer rules (eslint.config.js)', () => {
  const probe = [
    "import { useStore } from '../state/store';",
    "import { App } from '../ui/App';",
    "import { Graph } from '../engine/graph';",
    "import { PatchingEngine } from '../engine/patching';",
    "import type { AttributionMode } from '../engine/patching/attribution';",
    "import { normaliser } from '../engine/patching/normalise';",
    "import '../worker/engine.worker';",
    'export const x = [useStore, App, Graph, PatchingEngine, normaliser];',
    'export type Y = AttributionMode;',
  ].join('\n');

  async function flagged(file: string): Promise<string[]> {
    const { ESLint } = await import('eslint');
    const [result] = await new ESLint({ cwd: ROOT }).lintText(probe, { filePath: join(ROOT, file) });
    return result.messages.filter((m) => /no-restricted-imports/.test(m.ruleId ?? '')).map((m) => probe.split('\n')[m.line - 1].split("'")[1]);
  }

  it('viz imports neither state nor ui, and no graph code', async () => {
    expect(await flagged('src/viz/probe.ts')).toEqual(['../state/store', '../ui/App', '../engine/graph', '../engine/patching', '../worker/engine.worker']);
  }, 30_000);

  it('state imports no ui and no graph code; type imports and pure engine modules pass', async () => {
    expect(await flagged('src/state/probe.ts')).toEqual(['../ui/App', '../engine/graph', '../engine/patching', '../worker/engine.worker']);
  }, 30_000);

  it('the worker imports no state or ui; only its entry may use the patching engine', async () => {
    expect(await flagged('src/worker/probe.ts')).toEqual(['../state/store', '../ui/App', '../engine/graph', '../engine/patching']);
    expect(await flagged('src/worker/engine.worker.ts')).toEqual(['../state/store', '../ui/App']);
  }, 30_000);
});
