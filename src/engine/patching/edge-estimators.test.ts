// Edge estimators (issue #12) against the float64 per-receiver reference (test/reference/edge-estimators-f64.ts):
// QK fix, GradDrop, AtP* and IG on the inputs (EAP-IG), every edge, both directions, on a random 3-layer model;
// m = 1 is plain edge attribution; ig-layer has no edge form.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { runEdgeAttribution } from './edges';
import { experimentFromTokens } from './experiment';
import { refEdgeEstimates, type EdgeMethod } from '../../../test/reference/edge-estimators-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

const cfg = tinyConfig({ nLayers: 3, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-edge-estimators' });
const weights = randomWeights(cfg, 83);
const P = 5;
const clean = [randomTokens(cfg, P, 71), randomTokens(cfg, P, 72)];
const corrupted = clean.map((c, i) => c.map((t, p) => (p === 1 || p === 3 ? (t + 4 + i) % cfg.dVocab : t)));
const answers = [3, 8];
const wrongs = [12, 1];
const M = 3;

const exp = (direction: 'denoising' | 'noising') => experimentFromTokens({
  clean, corrupted, answers, wrongs,
  spec: { metric: { name: 'logit_diff' }, direction, options: { freezeLayerNorm: false, freezeAttention: false } },
});

describe.each(['qk-fix', 'graddrop', 'atp-star', 'ig-inputs'] as EdgeMethod[])('edge estimator %s', (method) => {
  it.each(['denoising', 'noising'] as const)('%s: every edge equals the float64 reference', async (direction) => {
    await rt.setWeights(weights);
    const steps = method === 'ig-inputs' ? M : 1;
    const got = await runEdgeAttribution(rt, cfg, exp(direction), method, steps);
    const [base, source] = direction === 'denoising' ? [corrupted, clean] : [clean, corrupted];
    const ref = refEdgeEstimates(cfg, weights, base.map((b, i) => ({ base: b, source: source[i], answer: answers[i], wrong: wrongs[i] })), method, steps);
    const { senders, receivers } = got.layout;
    const names = [...ref.keys()];
    const values = names.map((n) => {
      const [u, v] = n.split('->');
      return got.edges[senders.indexOf(u) * receivers.length + receivers.indexOf(v)];
    });
    expect(names.length).toBe(100);
    expectClose(`${method} ${direction} edges`, values, names.map((n) => ref.get(n)!), 1e-4, 1e-6);
  });
});

describe('edge estimator identities', () => {
  it('IG on the inputs with m = 1 is plain edge attribution; ig-layer is refused for edges', async () => {
    await rt.setWeights(weights);
    const e = exp('denoising');
    const [atp, ig1] = [await runEdgeAttribution(rt, cfg, e), await runEdgeAttribution(rt, cfg, e, 'ig-inputs', 1)];
    expectClose('ig-inputs m=1', ig1.edges, atp.edges, 1e-5, 1e-7);
    await expect(runEdgeAttribution(rt, cfg, e, 'ig-layer', 4)).rejects.toThrow(/ig-layer interpolates one node family.*use ig-inputs/);
  });
});
