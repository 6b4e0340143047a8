// The shared set-up of the benchmarks (bench.ts, bench-sweep.ts): their experiment, and the sweep's naive baseline,
// one full forward pass per patch (from the tokens, logits everywhere), sampled over patches of hook_z spread over
// every layer and position.
import { Graph, Reshape, Where } from '../src/engine/graph';
import { gpt2Forward, unembed, weightInputs } from '../src/engine/model/gpt2';
import type { GPT2Config } from '../src/engine/model/types';
import type { Feed, Runtime } from '../src/engine/runtime/types';
import { cellSelector, type ExperimentSpec } from '../src/engine/patching';
import { tokenFeed } from '../src/engine/patching/attribution';

/** The benchmarks' experiment: 16 tokens with BOS, an IOI-style pair differing in one name (fixed so figures compare). */
export const BENCH_EXPERIMENT: ExperimentSpec = {
  pairs: [{ clean: 'When John and Mary went to the big store, John gave a drink to', corrupted: 'When John and Mary went to the big store, Mary gave a drink to', answer: ' Mary', wrong: ' John' }],
  metric: { name: 'logit_diff' }, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: true,
};

function naiveGraph(c: GPT2Config, hook: string, hShape: number[]): Graph {
  const g = new Graph('naive');
  const w = weightInputs(g, c);
  const values = g.input('values', [1, ...hShape]);
  const mask = g.input('mask', [1, ...hShape], 'bool');
  const P = hShape[0];
  const x = gpt2Forward(c, w, g.input('tokens', [1, P], 'int64'), (n, t) => (n === hook ? Reshape(Where(mask, values, t), t.shape) : t));
  g.output(unembed(c, w, x), 'logits');
  return g;
}

/** Per sampled patch: its wall time and the process's CPU time (ms), session creation outside the timing. */
export async function naivePatchTimes(rt: Runtime, cfg: GPT2Config, tokens: number[], samples: number): Promise<{ wall: number[]; cpu: number[] }> {
  const P = tokens.length;
  const hShape = [P, cfg.nHeads, cfg.dHead];
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let s = 0; s < samples; s++) {
    // Spread over every layer and every position: (s mod layers, s mod positions) are all distinct for 48 samples
    // of 12 layers x 16 positions.
    const idx = [s % cfg.nLayers, (s * 5) % cfg.nHeads, s % P];
    const { hook, select } = cellSelector('head_out', idx);
    const mask = new Uint8Array(P * cfg.nHeads * cfg.dHead);
    let e = 0;
    for (let p = 0; p < P; p++) for (let h = 0; h < cfg.nHeads; h++) for (let d = 0; d < cfg.dHead; d++) mask[e++] = select([p, h, d]) ? 1 : 0;
    const feeds: Record<string, Feed> = {
      tokens: tokenFeed([tokens]),
      values: { dtype: 'float32', shape: [1, ...hShape], data: new Float32Array(mask.length).fill(0.5) },
      mask: { dtype: 'bool', shape: [1, ...hShape], data: mask },
    };
    const key = `naive-${hook}`;
    await rt.run(key, () => naiveGraph(cfg, hook, hShape), feeds);
    const t = performance.now();
    const c = process.cpuUsage();
    await rt.run(key, () => naiveGraph(cfg, hook, hShape), feeds);
    wall.push(performance.now() - t);
    const u = process.cpuUsage(c);
    cpu.push((u.user + u.system) / 1000);
  }
  return { wall, cpu };
}
