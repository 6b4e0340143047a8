import { describe, expect, it } from 'vitest';
import { edgeLayout } from '../../engine/patching/edges';
import type { GPT2Config } from '../../engine/model/types';
import {
  curveSteps, edgeLabel, edgeNodeHook, edgePath, incident, layoutNodes, layoutSize, nodeCircuit, nodeOf, rankedEdges, rankedNodes,
  widthScale, withoutNotUpstream, type CircuitData,
} from './circuit-model';

// A hand-written layout of a 1-layer, 1-head model: senders input, a0.h0, m0; receivers a0.h0<q|k|v>, m0, logits.
const tiny = (scores: number[][]): CircuitData => {
  const senders = ['input', 'a0.h0', 'm0'];
  const receivers = ['a0.h0<q>', 'a0.h0<k>', 'a0.h0<v>', 'm0', 'logits'];
  const flat = new Float64Array(senders.length * receivers.length);
  scores.forEach((row, s) => row.forEach((v, r) => { flat[s * receivers.length + r] = v; }));
  return { senders, receivers, upstream: [1, 1, 1, 2, 3], scores: flat };
};

describe('circuit model', () => {
  it('names nodes and channels', () => {
    expect(nodeOf('a3.h11<k>', 12)).toEqual({ id: 'a3.h11', kind: 'head', layer: 3, head: 11, channel: 'k' });
    expect(nodeOf('m0', 2)).toEqual({ id: 'm0', kind: 'mlp', layer: 0 });
    expect(nodeOf('logits', 2).layer).toBe(2);
    expect(nodeOf('input', 2).layer).toBe(-1);
    expect(() => nodeOf('a0h1', 2)).toThrow(/not a node name/);
  });

  it('reads every name of the engine layout of GPT-2 Small', () => {
    const cfg = { nLayers: 12, nHeads: 12 } as GPT2Config;
    const l = edgeLayout(cfg);
    for (const n of [...l.senders, ...l.receivers]) expect(() => nodeOf(n, 12)).not.toThrow();
    expect(layoutSize(l)).toEqual({ nLayers: 12, nHeads: 12 });
  });

  it('ranks only real edges by |value| and names them', () => {
    const d = tiny([[0.1, -0.5, 0.2, 0.05, 0.3], [0, 0, 0, -0.7, 0.01], [0, 0, 0, 0, 0.4]]);
    const r = rankedEdges(d);
    // 3 (q,k,v from input) + 2 (m0 from input, a0.h0) + 3 (logits from all) = 8 edges
    expect(r.length).toBe(8);
    expect(r.map((e) => e.name).slice(0, 3)).toEqual(['a0.h0->m0', 'input->a0.h0<k>', 'm0->logits']);
    expect(r[1]).toMatchObject({ from: 'input', to: 'a0.h0', channel: 'k', value: -0.5 });
    expect(r[0].channel).toBeNull();
    expect(edgeLabel(r[1], (v) => v.toFixed(3))).toBe('edge input->a0.h0<k>: -0.500');
  });

  it('ranks nodes by the sum of their outgoing edges; a node circuit keeps their edges and the input edges', () => {
    const d = tiny([[0.1, -0.5, 0.2, 0.05, 0.3], [0, 0, 0, -0.7, 0.01], [0, 0, 0, 0, 0.4]]);
    const n = rankedNodes(d);
    expect(n.map((x) => x.id)).toEqual(['a0.h0', 'm0']);
    expect(n[0].value).toBeCloseTo(-0.69, 12);
    const c = nodeCircuit(d, [2]);
    // input feeds all 5 receivers; m0 feeds logits only
    expect(c.length).toBe(6);
    expect(c).toContainEqual({ sender: 2, receiver: 4 });
    expect(c).not.toContainEqual({ sender: 1, receiver: 3 });
  });

  it('curve steps start at the empty circuit and end at every edge', () => {
    expect(curveSteps(8)).toEqual([0, 1, 3, 8]);
    expect(curveSteps(32000)).toEqual([0, 1, 3, 10, 30, 100, 300, 32000]);
  });

  it('lays out input at the bottom, logits at the top, a layer in a row', () => {
    const { nodes, height } = layoutNodes(2, 3, { width: 400, rowHeight: 100, margin: 20 });
    expect(height).toBe(340);
    const y = (id: string) => nodes.get(id)!.y;
    expect(y('input')).toBeGreaterThan(y('a0.h0'));
    expect(y('a0.h0')).toBeGreaterThan(y('a1.h0'));
    expect(y('m1')).toBeGreaterThan(y('logits'));
    expect(y('a0.h0')).toBe(y('a0.h2'));
    expect(nodes.get('a0.h0')!.x).toBeLessThan(nodes.get('a0.h2')!.x);
    expect(nodes.get('a0.h2')!.x).toBeLessThan(nodes.get('m0')!.x);
    expect(nodes.size).toBe(2 + 2 * 4);
  });

  it('scales widths by magnitude and draws edges into their channel', () => {
    const d = tiny([[0.1, -0.5, 0.2, 0.05, 0.3], [0, 0, 0, -0.7, 0.01], [0, 0, 0, 0, 0.4]]);
    const w = widthScale(rankedEdges(d), 1, 8);
    expect(w(-0.7)).toBe(8);
    expect(w(0)).toBe(1);
    expect(w(0.35)).toBeCloseTo(4.5, 12);
    expect(edgePath({ x: 10, y: 100 }, { x: 50, y: 0 }, 'q')).toBe('M10,100 C10,55 46,45 46,0');
    expect(edgePath({ x: 10, y: 100 }, { x: 50, y: 0 }, null)).toMatch(/ 50,0$/);
  });

  it('lists a node\'s incoming and outgoing edges sorted by |value|', () => {
    const edges = rankedEdges(tiny([[0.1, -0.5, 0.2, 0.05, 0.3], [0, 0, 0, -0.7, 0.01], [0, 0, 0, 0, 0.4]]));
    const { incoming, outgoing } = incident(edges, 'a0.h0');
    expect(incoming.map((e) => e.name)).toEqual(['input->a0.h0<k>', 'input->a0.h0<v>', 'input->a0.h0<q>']);
    expect(outgoing.map((e) => e.name)).toEqual(['a0.h0->m0', 'a0.h0->logits']);
  });
});

describe('circuit model: edges not upstream of an internal-activation metric (issue 13)', () => {
  it('names the hook each receiver reads and each node sends from', () => {
    expect(edgeNodeHook('a1.h0<k>', 'receiver')).toBe('blocks.1.hook_k_input');
    expect(edgeNodeHook('a1.h0', 'sender')).toBe('blocks.1.attn.hook_result');
    expect(edgeNodeHook('m2', 'receiver')).toBe('blocks.2.hook_mlp_in');
    expect(edgeNodeHook('m2', 'sender')).toBe('blocks.2.hook_mlp_out');
    expect(edgeNodeHook('logits', 'receiver')).toBe('ln_final.hook_scale');
    expect(edgeNodeHook('input', 'sender')).toBe('hook_embed');
    expect(() => edgeNodeHook('a1', 'sender')).toThrow(/not a node name/);
  });

  it('drops the edges into blocked receivers from the ranking and from node sums', () => {
    // A metric on blocks.0.attn.hook_pattern: m0's input and the logits are after it; q, k, v of head 0 are before.
    const d = tiny([[0.1, -0.5, 0.2, 0.05, 0.3], [0, 0, 0, -0.7, 0.01], [0, 0, 0, 0, 0.4]]);
    const blocked = (hook: string) => hook === 'blocks.0.hook_mlp_in' || hook.startsWith('ln_final');
    const { data, dropped } = withoutNotUpstream(d, blocked);
    expect(dropped).toBe(2 + 3);
    const r = rankedEdges(data);
    expect(r.map((e) => e.name)).toEqual(['input->a0.h0<k>', 'input->a0.h0<v>', 'input->a0.h0<q>']);
    // a0.h0 and m0 send only into blocked receivers: no node score at all (not a score of 0).
    expect(rankedNodes(data)).toEqual([]);
    // The input is untouched.
    expect(d.scores[3]).toBe(0.05);
    expect(withoutNotUpstream(d, () => false).data).toBe(d);
  });
});
