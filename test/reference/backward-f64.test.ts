// The hand-written float64 backward (backward-f64.ts), which the reference estimators use, against central finite
// differences of the float64 forward (finite-diff.ts) on a tiny random model: every hook's gradient, plain, with
// held hooks (GradDrop's stop-gradient on one layer's outputs, frozen LayerNorm scales and patterns), and with an
// edited (interpolated) hook as integrated gradients use it.
import { describe, expect, it } from 'vitest';
import { hookGradFD, type FDOptions } from './finite-diff';
import { hookNames, hookShape, referenceForwardF64, toFloat64Weights, type HookFn } from './gpt2-f64';
import { logitDiffTerms, referenceBackwardF64 } from './backward-f64';
import { logitDiff } from './metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from './random-weights';
import { expectClose } from '../helpers/compare';

const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 23, name: 'tiny-backward' });
const weights = randomWeights(cfg, 71);
const w = toFloat64Weights(cfg, weights);
const tokens = randomTokens(cfg, 5, 72);
const P = tokens.length;
const [answer, wrong] = [3, 17];
const metric = (logits: Float64Array) => logitDiff(logits, P, cfg.dVocab, answer, wrong);
// Every hook but the scores (their masked entries are -inf; their gradient is checked through the pattern's).
const HOOKS = hookNames(cfg).filter((h) => !h.endsWith('hook_attn_scores'));

/** Finite differences at an edited hook itself: the perturbation is added to the edited value. */
function editedFD(hook: string, edits: Record<string, HookFn>): Float64Array {
  const n = hookShape(cfg, hook, P).reduce((a, b) => a * b, 1);
  const eps = 1e-5;
  return Float64Array.from({ length: n }, (_, e) => {
    const at = (d: number) => {
      const perturbed: HookFn = (value, shape) => {
        const v = (edits[hook](value, shape) ?? value).slice();
        v[e] += d;
        return v;
      };
      return metric(referenceForwardF64(cfg, w, tokens, { hooks: { ...edits, [hook]: perturbed }, logitPositions: [P - 1] }).logits);
    };
    return (at(eps) - at(-eps)) / (2 * eps);
  });
}

function check(label: string, held: string[], edits: Record<string, HookFn> = {}) {
  const { grads, metric: m } = referenceBackwardF64(cfg, w, tokens, logitDiffTerms(P, answer, wrong), { held, hooks: edits });
  const heldSet = new Set([...held, ...Object.keys(edits)]);
  // finite-diff.ts pins held hooks (other than the one differentiated) to their values in the unperturbed run.
  const opts: FDOptions = { hooks: edits, freeze: (n) => heldSet.has(n) };
  let worst = 0;
  for (const hook of HOOKS) {
    const fd = edits[hook] ? editedFD(hook, edits) : hookGradFD(cfg, weights, tokens, metric, hook, undefined, 1e-5, opts);
    const got = grads.get(hook)!;
    expect(got.length, hook).toBe(hookShape(cfg, hook, P).reduce((a, b) => a * b, 1));
    worst = Math.max(worst, expectClose(`${label} ${hook}`, got, fd, 1e-6, 1e-3).rel);
  }
  expect(Number.isFinite(m)).toBe(true);
  return worst;
}

describe('float64 backward against finite differences', () => {
  it('every hook, no edits', () => {
    check('plain', []);
  });

  it('GradDrop: layer 0\'s attn_out and mlp_out hold (their own gradients kept, none to their inputs)', () => {
    check('drop 0', ['blocks.0.hook_attn_out', 'blocks.0.hook_mlp_out']);
    // The hold matters: layer 0's queries get no gradient at all.
    const { grads } = referenceBackwardF64(cfg, w, tokens, logitDiffTerms(P, answer, wrong), { held: ['blocks.0.hook_attn_out', 'blocks.0.hook_mlp_out'] });
    expect(grads.get('blocks.0.attn.hook_q')!.every((x) => x === 0)).toBe(true);
    expect(grads.get('blocks.0.hook_attn_out')!.some((x) => x !== 0)).toBe(true);
  });

  it('frozen LayerNorm scales and attention patterns', () => {
    check('frozen', HOOKS.filter((h) => h.endsWith('hook_scale') || h.endsWith('hook_pattern')));
  });

  it('an interpolated hook (integrated gradients): the gradient at the edited value and downstream', () => {
    const other = randomTokens(cfg, P, 73);
    const [from, to] = [tokens, other].map((t) => {
      const { cache } = referenceBackwardF64(cfg, w, t, logitDiffTerms(P, answer, wrong));
      return cache.get('blocks.1.hook_resid_pre')!;
    });
    const edit: HookFn = () => from.map((x, i) => x + 0.4 * (to[i] - x));
    check('interpolated', [], { 'blocks.1.hook_resid_pre': edit });
  });
});
