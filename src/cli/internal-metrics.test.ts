// `--metric attn:L.H:q:k | prefix:L.H | neuron:L.pos.n | dla:L.H` from the CLI: values against the float64
// reference, not-upstream cells null with a `not_upstream` object, and specific errors.
import { describe, expect, it } from 'vitest';
import { loadModelFromDir } from '../engine/model/weights-node';
import { cli } from '../../test/helpers/cli';
import { expectClose } from '../../test/helpers/compare';
import { refInternalMetric, refPatch, refRun, refWeights } from '../../test/reference/internal-metrics-f64';

const model = 'public/models/toy-induction';
const prompts = ['--clean', ' cat river gold king cat river gold king', '--corrupted', ' cat river snow king cat river gold king'];

describe('internal metrics from the CLI', () => {
  it('patch --metric prefix:1.1: metric and resid_pre patches equal the reference; layer 1 heads are null and not_upstream', async () => {
    const r = await cli(['patch', '--model', model, ...prompts, '--metric', 'prefix:1.1', '--families', 'resid_pre,head_out_all_pos']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.metric.name).toBe('prefix:1.1');
    expect(j.tokens.answer).toBeNull();
    const { config: cfg, weights } = await loadModelFromDir(model);
    const w = refWeights(cfg, weights);
    const [clean, corrupted] = [j.tokens.clean as number[], j.tokens.corrupted as number[]];
    const metric = refInternalMetric(cfg, w, { kind: 'prefix', layer: 1, head: 1 }, clean);
    expectClose('metric', [j.metric.clean, j.metric.corrupted], [refRun(cfg, w, clean, metric), refRun(cfg, w, corrupted, metric)], 1e-4);
    const D = cfg.dModel;
    const want = Array.from({ length: cfg.nLayers }, (_, l) => clean.map((_, p) =>
      refPatch(cfg, w, corrupted, clean, `blocks.${l}.hook_resid_pre`, Array.from({ length: D }, (_, i) => p * D + i), metric)));
    expectClose('resid_pre', j.activation.resid_pre.flat(), want.flat(), 1e-4);
    expect(j.activation.head_out_all_pos[1]).toEqual([null, null, null, null]);
    expect(j.not_upstream).toEqual({ resid_pre: [Array(clean.length).fill(0), Array(clean.length).fill(0)], head_out_all_pos: [[0, 0, 0, 0], [1, 1, 1, 1]] });
  });

  it('edges --metric dla:1.1: edges into layer 1 queries are numbers; into m1 and logits null and flagged', async () => {
    const r = await cli(['edges', '--model', model, ...prompts, '--metric', 'dla:1.1', '--answer', ' gold']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const at = (name: string) => (j.receivers as string[]).indexOf(name);
    // dla reads blocks.1.attn.hook_z: head 0's query input comes before it, layer 1's MLP input and logits after.
    expect(typeof j.edges[0][at('a1.h0<q>')]).toBe('number');
    expect(j.not_upstream[0][at('a1.h0<q>')]).toBe(0);
    for (const r of ['m1', 'logits']) {
      expect(j.edges[0][at(r)], r).toBeNull();
      expect(j.not_upstream[0][at(r)], r).toBe(1);
    }
    expect(j.receiver_totals[at('logits')]).toBeNull();
  });

  it.each([
    [['--metric', 'attn:1.x:7:6'], /argument 'attn:1\.x:7:6' is invalid\. Metric "attn:1\.x:7:6": the head "x" is not a whole number; expected attn:LAYER\.HEAD:QUERY:KEY/],
    [['--metric', 'neuron:5.2.3'], /Metric neuron:5\.2\.3: layer 5 is out of range; toy-induction has 2 layers \(0\.\.1\)\./],
    [['--metric', 'attn:1.0:3:4'], /the key position 4 is after the query position 3/],
  ])('%j is refused with exit 2 and a specific message', async (args, message) => {
    const r = await cli(['attribute', '--model', model, ...prompts, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
