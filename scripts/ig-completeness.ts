// Integrated gradients per layer are complete (issue #12): on a GPT-2-Small-shaped random checkpoint, ig-layer with
// 64 steps, attn_out summed over positions at the layer with the largest whole-layer effect, against the exact patch
// of that whole attn_out (every position at once, the node-set joint patch). Run: npx tsx scripts/ig-completeness.ts
import { existsSync } from 'node:fs';
import { GPT2_SMALL_CONFIG } from '../src/engine/model/checkpoint';
import { loadModelFromDir, writeRandomCheckpoint } from '../src/engine/model/weights-node';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { PatchingEngine } from '../src/engine/patching';

const dir = process.argv[2] ?? '.cache/bench/gpt2-small-random';
if (!existsSync(dir)) await writeRandomCheckpoint(dir, GPT2_SMALL_CONFIG, 0);
const { config, weights } = await loadModelFromDir(dir);
const engine = await PatchingEngine.create(createNodeRuntime({}), config, weights);
const exp = engine.resolve({
  pairs: [{ clean: 'When John and Mary went to the big store, John gave a drink to', corrupted: 'When John and Mary went to the big store, Mary gave a drink to', answer: ' Mary', wrong: ' John' }],
  metric: { name: 'logit_diff' }, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: true,
});
const P = exp.nPos;
const L = config.nLayers;
const whole: number[] = [];
for (let l = 0; l < L; l++) whole.push(await engine.jointPatch(exp, Array.from({ length: P }, (_, p) => ({ family: 'attn_out' as const, index: [l, p] }))));
const l = whole.reduce((best, x, i) => (Math.abs(x) > Math.abs(whole[best]) ? i : best), 0);
const t0 = performance.now();
const ig = (await engine.attribute(exp, { families: ['attn_out'], method: 'ig-layer', steps: 64 })).values.attn_out!;
const atp = (await engine.attribute(exp, { families: ['attn_out'] })).values.attn_out!;
const sum = (x: Float64Array) => x.subarray(l * P, (l + 1) * P).reduce((a, b) => a + b, 0);
const err = Math.abs(sum(ig.data) - whole[l]) / Math.abs(whole[l]);
console.log(`whole attn_out patches by layer: ${whole.map((x) => x.toExponential(3)).join(' ')}`);
console.log(`layer ${l}: exact ${whole[l].toExponential(4)}, ig-layer(64) ${sum(ig.data).toExponential(4)} (${(100 * err).toFixed(3)}% off, ${((performance.now() - t0) / 1000).toFixed(1)} s), AtP ${sum(atp.data).toExponential(4)}`);
await engine.dispose();
process.exitCode = err <= 0.01 ? 0 : 1;
