// Recall of the true top K cells (by |exact activation patch|) for each estimator, on the shipped toy models'
// presets: `npx tsx scripts/estimators-report.ts`. Prints a markdown table (issue #12's note).
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { METHODS, PatchingEngine, topK, type Family, type Method } from '../src/engine/patching';
import { PRESETS } from '../src/ui/presets';

const MODELS = [
  { dir: 'public/models/toy-induction', preset: 'toy-induction' },
  { dir: 'public/models/toy-ioi', preset: 'toy-ioi' },
];
const FAMILIES: { family: Family; k: number }[] = [
  { family: 'head_out_all_pos', k: 3 }, { family: 'q', k: 3 }, { family: 'k', k: 3 },
  { family: 'head_out', k: 10 }, { family: 'q_by_pos', k: 10 }, { family: 'k_by_pos', k: 10 },
];
const STEPS: Partial<Record<Method, number>> = { 'ig-inputs': 16, 'ig-layer': 16 };

for (const { dir, preset } of MODELS) {
  const { config, weights } = await loadModelFromDir(dir);
  const engine = await PatchingEngine.create(createNodeRuntime({}), config, weights);
  const exp = engine.resolve(PRESETS.find((p) => p.id === preset)!.spec);
  const exact = new Map<Family, Awaited<ReturnType<typeof engine.sweep>>>();
  for (const { family } of FAMILIES) exact.set(family, await engine.sweep(exp, family));
  console.log(`\n${preset} (${config.nLayers} layers x ${config.nHeads} heads, ${exp.nPairs} pairs x ${exp.nPos} tokens): recall of the true top K\n`);
  console.log(`| estimator | ${FAMILIES.map((f) => `${f.family} (K=${f.k})`).join(' | ')} |`);
  console.log(`|---|${FAMILIES.map(() => '---').join('|')}|`);
  for (const method of METHODS) {
    const steps = STEPS[method] ?? 1;
    const est = await engine.attribute(exp, { families: FAMILIES.map((f) => f.family), method, steps });
    const cells = FAMILIES.map(({ family, k }) => {
      const truth = new Set(topK(exact.get(family)!, k).map((e) => e.index.join()));
      const found = topK(est.values[family]!, k).filter((e) => truth.has(e.index.join())).length;
      return `${found}/${k}`;
    });
    console.log(`| ${method}${steps > 1 ? ` (m=${steps})` : ''} | ${cells.join(' | ')} |`);
  }
  await engine.dispose();
}
