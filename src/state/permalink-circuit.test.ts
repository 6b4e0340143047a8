// The Circuit tab in links (issue 11): tab, N, selected edge or node travel; malformed names are refused with a
// message; a name the loaded model does not have is caught against its layout (findEdge).
import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { bytesToBase64Url, decodePermalink, encodePermalink, type PermalinkState } from './permalink';
import { findEdge } from './actions/circuit';

const base: PermalinkState = {
  model: { kind: 'builtin', id: 'toy-induction' },
  experiment: {
    pairs: [{ clean: ' cat river', corrupted: ' cat tea', answer: ' gold', wrong: ' king' }],
    metric: { name: 'logit_diff' },
    direction: 'denoising',
    options: { freezeLayerNorm: false, freezeAttention: false },
    prependBos: true,
  },
  view: { tab: 'circuit', family: 'head_out_all_pos', normalised: false, circuit: { n: 110, edge: 'input->a0.h2<v>', node: 'a0.h2' } },
};

const craft = (v: unknown) => `#v1.${bytesToBase64Url(deflateSync(new TextEncoder().encode(JSON.stringify(v))))}`;
const withCircuit = (circuit: unknown) => craft({ ...base, view: { ...base.view, circuit } });

describe('circuit permalinks', () => {
  it('carry the tab, N, edge and node', () => {
    const r = decodePermalink(encodePermalink(base));
    expect(r).toEqual({ ok: true, state: base });
  });

  it('open without the circuit part (older links)', () => {
    const { circuit: _c, ...view } = base.view;
    const r = decodePermalink(craft({ ...base, view }));
    expect(r.ok && r.state.view.circuit).toBeUndefined();
  });

  it.each([
    [{ n: 0 }, /view\.circuit\.n/],
    [{ n: 1.5 }, /view\.circuit\.n/],
    [{ n: 10, edge: 'a0.h2->a1.h0' }, /view\.circuit\.edge: must be an edge name/],
    [{ n: 10, edge: '<script>->logits' }, /view\.circuit\.edge: must be an edge name/],
    [{ n: 10, node: 'a0.h2<k>' }, /view\.circuit\.node: must be a node name/],
    [{ n: 10, extra: 1 }, /view\.circuit/],
  ])('refuse %j', (circuit, message) => {
    const r = decodePermalink(withCircuit(circuit));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });

  it('an edge is checked against the loaded model\'s layout', () => {
    // 1 layer, 1 head: senders input, a0.h0, m0; receivers a0.h0<q|k|v>, m0, logits.
    const scores = {
      metric: { clean: 1, corrupted: 0 }, senders: ['input', 'a0.h0', 'm0'], receivers: ['a0.h0<q>', 'a0.h0<k>', 'a0.h0<v>', 'm0', 'logits'],
      upstream: [1, 1, 1, 2, 3], edges: new Float64Array(15),
    };
    expect(findEdge(scores, 'a0.h0->m0')).toEqual({ sender: 1, receiver: 3 });
    expect(findEdge(scores, 'input->a0.h0<k>')).toEqual({ sender: 0, receiver: 1 });
    expect(findEdge(scores, 'm0->a0.h0<k>')).toBeNull(); // not upstream
    expect(findEdge(scores, 'a3.h0->logits')).toBeNull(); // no such layer
  });
});

describe('patch sets in permalinks', () => {
  const withSet = { ...base, patchSet: { cells: [{ family: 'head_out_all_pos' as const, index: [1, 0] }, { family: 'mlp_out' as const, index: [0, 6] }], onTop: true } };

  it('carry the cells and "attribute on top"', () => {
    expect(decodePermalink(encodePermalink(withSet))).toEqual({ ok: true, state: withSet });
  });

  it('open without a patch set (older links)', () => {
    const r = decodePermalink(craft(base));
    expect(r.ok && r.state.patchSet).toBeUndefined();
  });

  it.each([
    [{ cells: [], onTop: false }, /patchSet\.cells/],
    [{ cells: [{ family: 'heads', index: [0] }], onTop: false }, /patchSet\.cells\[0\]\.family/],
    [{ cells: [{ family: 'mlp_out', index: [0, -1] }], onTop: false }, /patchSet\.cells\[0\]\.index\[1\]/],
    [{ cells: [{ family: 'mlp_out', index: [0, 1.5] }], onTop: false }, /patchSet\.cells\[0\]\.index\[1\]/],
    [{ cells: [{ family: 'mlp_out', index: [0, 1] }, { family: 'mlp_out', index: [0, 1] }], onTop: true }, /patchSet\.cells: the same cell is listed twice/],
    [{ cells: Array.from({ length: 17 }, (_, i) => ({ family: 'mlp_out', index: [0, i] })), onTop: false }, /patchSet\.cells/],
    [{ cells: [{ family: 'mlp_out', index: [0, 1] }] }, /patchSet\.onTop/],
    [{ cells: [{ family: 'mlp_out', index: [0, 1], html: '<b>' }], onTop: false }, /patchSet\.cells\[0\]/],
  ])('refuse %j', (patchSet, message) => {
    const r = decodePermalink(craft({ ...base, patchSet }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });
});
