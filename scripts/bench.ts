// `npm run bench`: engine speed on a GPT-2-Small-shaped random checkpoint, 16 tokens, onnxruntime-node CPU.
// Prints and writes bench-results/bench.json. Targets (issue #3): attribution_over_forward <= 4.5, sweep_speedup >= 10;
// (issue #10) edges_over_node_attribution <= 2, circuit_eval_over_forward <= 3;
// (issue 15) new_over_same_length <= 1.3, sweep_speedup >= 12 (median of 3 sweeps, naive sampled over 48 patches).
// --pairs 0 skips the slow 1000-pairs figure.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GPT2_SMALL_CONFIG } from '../src/engine/model/checkpoint';
import { loadModelFromDir, writeRandomCheckpoint } from '../src/engine/model/weights-node';
import type { GPT2Config } from '../src/engine/model/types';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { Graph } from '../src/engine/graph';
import { gpt2Forward, unembed, weightInputs } from '../src/engine/model/gpt2';
import { FAMILIES, PatchingEngine, familyShape, rankEdges } from '../src/engine/patching';
import { tokenFeed } from '../src/engine/patching/attribution';
import { numel } from '../src/engine/graph/shape';
import type { Method } from '../src/engine/patching/estimators';
import { benchPairs } from './bench-pairs';
import { BENCH_EXPERIMENT, naivePatchTimes } from './naive-patch';

const { values: args } = parseArgs({ options: { dir: { type: 'string', default: '.cache/bench/gpt2-small-random' }, samples: { type: 'string', default: '48' }, threads: { type: 'string' }, bucket: { type: 'string' }, pairs: { type: 'string', default: '1000' } } });
const log = (m: string) => process.stderr.write(m + '\n');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn: () => Promise<unknown>, reps: number): Promise<number> {
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

if (!existsSync(join(args.dir!, 'model.safetensors'))) {
  log(`writing a GPT-2-Small-shaped random checkpoint to ${args.dir} ...`);
  await writeRandomCheckpoint(args.dir!, { ...GPT2_SMALL_CONFIG, name: 'gpt2-small-random' }, 1234);
}
const t0 = performance.now();
const { config: cfg, weights } = await loadModelFromDir(args.dir!);
const loadMs = performance.now() - t0;
const weightBytes = [...weights.values()].reduce((s, w) => s + w.data.byteLength, 0);
const rt = createNodeRuntime({ threads: args.threads ? Number(args.threads) : undefined });
const engine = await PatchingEngine.create(rt, cfg, weights);

// 16 tokens with BOS: an IOI-style pair differing in one name (bench prompts are fixed so figures compare).
const exp = engine.resolve(BENCH_EXPERIMENT);
const P = exp.nPos;
log(`model ${cfg.name}: ${(weightBytes / 2 ** 20).toFixed(0)} MB of weights loaded in ${loadMs.toFixed(0)} ms; ${P} tokens`);

// One plain forward pass, logits at every position, batch 1.
function forwardGraph(c: GPT2Config): Graph {
  const g = new Graph('forward');
  const w = weightInputs(g, c);
  g.output(unembed(c, w, gpt2Forward(c, w, g.input('tokens', [1, P], 'int64'))), 'logits');
  return g;
}
const fwdFeeds = { tokens: tokenFeed([exp.corrupted[0]]) };
await rt.run('bench-forward', () => forwardGraph(cfg), fwdFeeds);
const forwardMs = await time(() => rt.run('bench-forward', () => forwardGraph(cfg), fwdFeeds), 7);
log(`forward: ${forwardMs.toFixed(1)} ms`);

await engine.attribute(exp, { families: FAMILIES });
const attributionMs = await time(() => engine.attribute(exp, { families: FAMILIES }), 5);
log(`attribution, all ${FAMILIES.length} families: ${attributionMs.toFixed(1)} ms (${(attributionMs / forwardMs).toFixed(2)} x forward)`);

// Issue 15: a prompt of a length never seen before vs one of a length already seen (every family, end to end,
// session creation included where the engine needs one). Lengths P+1, P+2, P+3 (one more adjective each), the
// median of the three; the same-length figure is a second prompt of each of those lengths (other words).
const ADJ = [[' new', ' old'], [' red', ' blue'], [' quiet', ' busy']];
const lengthPair = (k: number, which: number) => {
  const adj = ADJ.slice(0, k).map((a) => a[which]).join('');
  return engine.resolve({
    pairs: [{ clean: `When John and Mary went to the big${adj} store, John gave a drink to`, corrupted: `When John and Mary went to the big${adj} store, Mary gave a drink to`, answer: ' Mary', wrong: ' John' }],
    metric: { name: 'logit_diff' }, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: true,
  });
};
const newLengthTimes: number[] = [];
const sameLengthTimes: number[] = [];
const sessionsBefore = rt.sessionsCreated;
for (let k = 1; k <= 3; k++) {
  const [a, b] = [lengthPair(k, 0), lengthPair(k, 1)];
  if (a.nPos !== P + k || b.nPos !== P + k) throw new Error(`bench: the length prompts have ${a.nPos} and ${b.nPos} tokens, expected ${P + k}`);
  newLengthTimes.push(await time(() => engine.attribute(a, { families: FAMILIES }), 1));
  sameLengthTimes.push(await time(() => engine.attribute(b, { families: FAMILIES }), 1));
}
const newLengthMs = median(newLengthTimes);
const sameLengthMs = median(sameLengthTimes);
const newLengthSessions = rt.sessionsCreated - sessionsBefore;
log(`attribution of a new length: ${newLengthMs.toFixed(1)} ms, of a seen length: ${sameLengthMs.toFixed(1)} ms (ratio ${(newLengthMs / sameLengthMs).toFixed(2)}; ${newLengthSessions} sessions created for 3 new lengths)`);

// Edges (issue #10): every edge score from one backward pass; one circuit evaluation (the top 100 edges by
// |attribution|) on the cached base run, timed apart from the cache and session creation.
const edgeScores = await engine.edgeScores(exp);
const edgesMs = await time(() => engine.edgeScores(exp), 5);
log(`edge attribution, ${edgeScores.layout.senders.length} senders x ${edgeScores.layout.receivers.length} receivers: ${edgesMs.toFixed(1)} ms (${(edgesMs / attributionMs).toFixed(2)} x node attribution)`);
const circuit = [rankEdges(edgeScores).slice(0, 100)];
await engine.evaluateCircuits(exp, circuit);
const circuitMs = await time(() => engine.evaluateCircuits(exp, circuit), 5);
log(`circuit evaluation (100 edges): ${circuitMs.toFixed(1)} ms (${(circuitMs / forwardMs).toFixed(2)} x forward)`);
// The better estimators (issue #12), every family, against the same plain attribution.
async function timeMethod(method: Method, steps = 1): Promise<number> {
  await engine.attribute(exp, { families: FAMILIES, method, steps });
  const ms = await time(() => engine.attribute(exp, { families: FAMILIES, method, steps }), 3);
  log(`${method}${steps > 1 ? ` (${steps} steps)` : ''}: ${ms.toFixed(1)} ms (${(ms / attributionMs).toFixed(2)} x attribution)`);
  return ms;
}
const atpStarMs = await timeMethod('atp-star');
const igInputs8Ms = await timeMethod('ig-inputs', 8);

// Naive activation patching: one full forward pass (from the tokens, logits everywhere) per patch, on a sample.
const shape = familyShape('head_out', cfg, P);
const nPatches = numel(shape);
const samples = Number(args.samples);
const naiveTimes = (await naivePatchTimes(rt, cfg, exp.corrupted[0], samples)).wall;
const naivePerPatch = naiveTimes.reduce((a, b) => a + b, 0) / naiveTimes.length;
const naiveSweepMs = naivePerPatch * nPatches;
log(`naive: ${naivePerPatch.toFixed(1)} ms per patch (sample of ${samples}) -> ${(naiveSweepMs / 1000).toFixed(1)} s for ${nPatches} patches`);

// The sweep: the median of 3 repetitions (the first also creates its sessions; it is reported apart).
const sweepTimes: number[] = [];
for (let rep = 0; rep < 3; rep++) {
  let last = 0;
  const tSweep = performance.now();
  await engine.sweep(exp, 'head_out', {
    positionBucket: args.bucket ? Number(args.bucket) : undefined,
    onProgress: (done, total) => {
      if (done - last >= total / 4 || done === total) {
        log(`  sweep ${rep + 1}/3: ${done}/${total}`);
        last = done;
      }
    },
  });
  sweepTimes.push(performance.now() - tSweep);
}
const sweepMs = median(sweepTimes);
log(`sweep over every (layer, head, pos) of hook_z: ${(sweepMs / 1000).toFixed(1)} s median of 3 (first ${(sweepTimes[0] / 1000).toFixed(1)} s; ${(naiveSweepMs / sweepMs).toFixed(1)} x faster than naive)`);

const result = {
  model: cfg.name, tokens: P, threads: args.threads ? Number(args.threads) : 'all',
  load_ms: Math.round(loadMs), weights_mb: Math.round(weightBytes / 2 ** 20),
  forward_ms: +forwardMs.toFixed(1),
  attribution_ms: +attributionMs.toFixed(1),
  attribution_over_forward: +(attributionMs / forwardMs).toFixed(2),
  edges_ms: +edgesMs.toFixed(1),
  edges_over_node_attribution: +(edgesMs / attributionMs).toFixed(2),
  circuit_eval_ms: +circuitMs.toFixed(1),
  circuit_eval_over_forward: +(circuitMs / forwardMs).toFixed(2),
  atp_star_ms: +atpStarMs.toFixed(1),
  atp_star_over_node_attribution: +(atpStarMs / attributionMs).toFixed(2),
  ig_inputs_8_steps_ms: +igInputs8Ms.toFixed(1),
  ig_inputs_8_steps_over_node_attribution: +(igInputs8Ms / attributionMs).toFixed(2),
  new_length_run_ms: +newLengthMs.toFixed(1),
  same_length_run_ms: +sameLengthMs.toFixed(1),
  new_over_same_length: +(newLengthMs / sameLengthMs).toFixed(2),
  sessions_created_for_3_new_lengths: newLengthSessions,
  sessions_created: rt.sessionsCreated,
  sweep_head_pos_ms: Math.round(sweepMs),
  sweep_head_pos_first_ms: Math.round(sweepTimes[0]),
  sweep_repetitions: sweepTimes.length,
  naive_sweep_head_pos_ms: Math.round(naiveSweepMs),
  naive_sample_patches: samples,
  sweep_speedup: +(naiveSweepMs / sweepMs).toFixed(1),
  peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  targets: { attribution_over_forward: 4.5, sweep_speedup: 12, new_over_same_length: 1.3, atp_star_over_node_attribution: 3, ig_inputs_8_steps_over_node_attribution: 6, edges_over_node_attribution: 2, circuit_eval_over_forward: 3 },
};
await engine.dispose();
// Datasets (issue 13): `attribute --pairs` on --pairs N IOI-style pairs in its own process (0: skip).
if (Number(args.pairs) > 0) {
  log(`attribute --pairs on ${args.pairs} IOI-style pairs ...`);
  Object.assign(result, await benchPairs(args.dir!, Number(args.pairs), args.threads));
  Object.assign(result.targets, { [`attribution_${args.pairs}_pairs_peak_rss_mb`]: 3000 });
  result.peak_rss_mb = Math.round(process.resourceUsage().maxRSS / 1024);
}
console.log(JSON.stringify(result, null, 2));
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/bench.json', JSON.stringify(result, null, 2) + '\n');
