// Prints, for the toy IOI preset and the toy induction model with a key-side corruption, the top 10 edges by edge
// attribution and by exact direct path patch, each with both numbers, the exact edges that attribution scores near
// zero, and a faithfulness curve. Run: npx tsx scripts/edges-report.ts
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { PatchingEngine, allEdges, edgeName, rankEdges, type Edge, type ExperimentSpec, type Method } from '../src/engine/patching';
import { PRESETS } from '../src/ui/presets';

const f = (x: number) => (x >= 0 ? ' ' : '') + x.toFixed(4);
const ESTIMATOR_RUNS: [Method, number][] = [['atp', 1], ['qk-fix', 1], ['graddrop', 1], ['atp-star', 1], ['ig-inputs', 16]];

async function report(title: string, dir: string, spec: ExperimentSpec) {
  const { config, weights } = await loadModelFromDir(dir);
  const engine = await PatchingEngine.create(createNodeRuntime({}), config, weights);
  try {
    const exp = engine.resolve(spec);
    const scores = await engine.edgeScores(exp);
    const { layout } = scores;
    const R = layout.receivers.length;
    const all = allEdges(layout);
    const exact = await engine.pathPatch(exp, all);
    const rows = all.map((e, i) => ({ e, name: edgeName(layout, e), attr: scores.edges[e.sender * R + e.receiver], exact: exact[i] }));
    const m = scores.metric;
    console.log(`\n## ${title}\n${exp.nPairs} pair(s), ${exp.nPos} tokens, ${spec.metric.name}, ${spec.direction}; clean ${m.clean.toFixed(4)}, corrupted ${m.corrupted.toFixed(4)}; ${all.length} edges`);
    if (exp.nPairs === 1) console.log(`clean:     ${exp.cleanDisplay[0].join(' ')}\ncorrupted: ${exp.corruptedDisplay[0].join(' ')}`);
    const table = (label: string, key: 'attr' | 'exact') => {
      console.log(`\nTop 10 by |${label}|\n  rank  edge                       attribution    exact path patch`);
      [...rows].sort((a, b) => Math.abs(b[key]) - Math.abs(a[key])).slice(0, 10).forEach((r, i) =>
        console.log(`  ${String(i + 1).padStart(4)}  ${r.name.padEnd(25)}  ${f(r.attr).padStart(11)}    ${f(r.exact).padStart(11)}`));
    };
    table('attribution', 'attr');
    table('exact path patch', 'exact');
    const big = [...rows].sort((a, b) => Math.abs(b.exact) - Math.abs(a.exact)).slice(0, 10);
    const missed = big.filter((r) => Math.abs(r.attr) < 0.1 * Math.abs(r.exact));
    const rankOf = new Map(rankEdges(scores).map((e, i) => [edgeName(layout, e), i + 1]));
    console.log(`\nTop-10 exact edges that attribution scores below 10% of their exact value: ${missed.length ? missed.map((r) => `${r.name} (exact ${r.exact.toFixed(3)}, attribution ${r.attr.toFixed(3)}, attribution rank ${rankOf.get(r.name)} of ${all.length})`).join('; ') : 'none'}`);
    // The estimators of issue #12: the rank each gives the ten largest exact edges (of all edges, by |score|).
    console.log(`\nRanks of the top-10 exact edges by each estimator (of ${all.length}):`);
    console.log(`  ${'edge'.padEnd(25)}  ${'exact'.padStart(8)}  ${ESTIMATOR_RUNS.map(([m, st]) => (st > 1 ? `${m}(${st})` : m).padStart(13)).join('')}`);
    const ranks: Map<string, number>[] = [];
    for (const [method, steps] of ESTIMATOR_RUNS) {
      const s = await engine.edgeScores(exp, method, steps);
      ranks.push(new Map(rankEdges(s).map((e, i) => [edgeName(layout, e), i + 1])));
    }
    for (const r of big) console.log(`  ${r.name.padEnd(25)}  ${f(r.exact).padStart(8)}  ${ranks.map((m) => String(m.get(r.name)).padStart(13)).join('')}`);
    const ranked: Edge[] = rankEdges(scores);
    const ns = [1, 3, 10, 30, 100, all.length];
    const faith = await engine.evaluateCircuits(exp, ns.map((n) => ranked.slice(0, n)));
    console.log(`Faithfulness of the top-N edges by |attribution|: ${ns.map((n, i) => `N=${n}: ${faith[i].faithfulness.toFixed(3)}`).join(', ')}`);
  } finally {
    await engine.dispose();
  }
}

const ioi = PRESETS.find((p) => p.id === 'toy-ioi')!;
await report('Toy IOI preset (toy-ioi)', 'public/models/toy-ioi', ioi.spec);
// Key-side corruption: the first-half token BEFORE the copied one changes (bread -> tea), so the induction head's
// key at " moon" no longer matches the query at the second " bread".
const words = ' cat river gold king bread moon chair snow lion boat cat river gold king bread';
await report('Toy induction, key-side corruption (toy-induction)', 'public/models/toy-induction', {
  ...PRESETS.find((p) => p.id === 'toy-induction')!.spec,
  pairs: [{ clean: words, corrupted: words.replace('king bread moon', 'king tea moon'), answer: ' moon', wrong: ' chair' }],
});
