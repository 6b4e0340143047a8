// Pure model behind <CircuitGraph>: node names and positions, the top-N edges by |attribution|, edge widths and
// paths, and a node's incoming and outgoing edges. Names follow the engine's edges (EAP-IG): senders `input`,
// `a{l}.h{h}`, `m{l}`; receivers `a{l}.h{h}<q|k|v>`, `m{l}`, `logits`. Tested apart from React.
import { scaleLinear } from 'd3';

/** Edge scores with their layout, as the worker sends them. */
export interface CircuitData {
  senders: readonly string[];
  receivers: readonly string[];
  /** Per receiver: how many senders (a prefix of `senders`) feed it. */
  upstream: readonly number[];
  /** [sender][receiver], row-major. */
  scores: ArrayLike<number>;
}

export type NodeKind = 'input' | 'head' | 'mlp' | 'logits';
export type Channel = 'q' | 'k' | 'v';

export interface NodeRef {
  /** Graph node: `input`, `a{l}.h{h}`, `m{l}`, `logits` (a receiver without its <q|k|v>). */
  id: string;
  kind: NodeKind;
  /** -1 for input, nLayers for logits. */
  layer: number;
  head?: number;
  channel?: Channel;
}

export class CircuitNameError extends Error {}

/** A sender or receiver name as a graph node (and, for a head's input, its channel). */
export function nodeOf(name: string, nLayers: number): NodeRef {
  if (name === 'input') return { id: 'input', kind: 'input', layer: -1 };
  if (name === 'logits') return { id: 'logits', kind: 'logits', layer: nLayers };
  let m = name.match(/^a(\d+)\.h(\d+)(?:<([qkv])>)?$/);
  if (m) return { id: `a${m[1]}.h${m[2]}`, kind: 'head', layer: +m[1], head: +m[2], ...(m[3] ? { channel: m[3] as Channel } : {}) };
  m = name.match(/^m(\d+)$/);
  if (m) return { id: name, kind: 'mlp', layer: +m[1] };
  throw new CircuitNameError(`"${name}" is not a node name (input, a{layer}.h{head}, m{layer}, logits).`);
}

/** Layers and heads of the layout (counted from its names). */
export function layoutSize(data: Pick<CircuitData, 'senders'>): { nLayers: number; nHeads: number } {
  const nLayers = data.senders.filter((s) => /^m\d+$/.test(s)).length;
  const nHeads = data.senders.filter((s) => /^a0\.h\d+$/.test(s)).length;
  return { nLayers, nHeads };
}

export interface GraphEdge {
  /** `a0.h2->a1.h0<k>` */
  name: string;
  sender: number;
  receiver: number;
  from: string;
  to: string;
  channel: Channel | null;
  value: number;
}

/**
 * The TransformerLens hook an edge's receiver reads (`a1.h0<k>` -> blocks.1.hook_k_input, `m1` -> blocks.1.hook_mlp_in,
 * `logits` -> ln_final.hook_scale) or a node sends from (`a1.h0` -> blocks.1.attn.hook_result, `m1` ->
 * blocks.1.hook_mlp_out, `input` -> hook_embed): where a metric on an internal activation asks "upstream of me?".
 */
export function edgeNodeHook(name: string, as: 'receiver' | 'sender'): string {
  if (name === 'input') return 'hook_embed';
  if (name === 'logits') return 'ln_final.hook_scale';
  let m = name.match(/^a(\d+)\.h\d+(?:<([qkv])>)?$/);
  if (m) return as === 'receiver' && m[2] ? `blocks.${m[1]}.hook_${m[2]}_input` : `blocks.${m[1]}.attn.hook_result`;
  m = name.match(/^m(\d+)$/);
  if (m) return as === 'receiver' ? `blocks.${m[1]}.hook_mlp_in` : `blocks.${m[1]}.hook_mlp_out`;
  throw new CircuitNameError(`"${name}" is not a node name (input, a{layer}.h{head}, m{layer}, logits).`);
}

/**
 * Issue 13: the edges into receivers that are not upstream of the metric (`blocked(hook)` true) cannot change it; their
 * scores become NaN, which rankedEdges and rankedNodes leave out. The count says how many edges that drops.
 */
export function withoutNotUpstream(data: CircuitData, blocked: (hook: string) => boolean): { data: CircuitData; dropped: number } {
  const R = data.receivers.length;
  const cols = data.receivers.map((r, i) => (blocked(edgeNodeHook(r, 'receiver')) ? i : -1)).filter((i) => i >= 0);
  if (!cols.length) return { data, dropped: 0 };
  const scores = Float64Array.from(data.scores as ArrayLike<number>);
  let dropped = 0;
  for (const c of cols) {
    for (let s = 0; s < data.upstream[c]; s++) scores[s * R + c] = NaN;
    dropped += data.upstream[c];
  }
  return { data: { ...data, scores }, dropped };
}

/** Every edge of the layout with a score, largest |score| first (ties keep layout order); NaN (not upstream) left out. */
export function rankedEdges(data: CircuitData): GraphEdge[] {
  const { nLayers } = layoutSize(data);
  const R = data.receivers.length;
  const out: GraphEdge[] = [];
  const recv = data.receivers.map((r) => nodeOf(r, nLayers));
  data.upstream.forEach((n, receiver) => {
    for (let sender = 0; sender < n; sender++) {
      const to = recv[receiver];
      if (Number.isNaN(data.scores[sender * R + receiver])) continue;
      out.push({
        name: `${data.senders[sender]}->${data.receivers[receiver]}`,
        sender,
        receiver,
        from: data.senders[sender],
        to: to.id,
        channel: to.channel ?? null,
        value: data.scores[sender * R + receiver],
      });
    }
  });
  return out.sort((a, b) => Math.abs(b.value) - Math.abs(a.value) || a.sender - b.sender || a.receiver - b.receiver);
}

/** The N the curve evaluates: 0, 1, 3, 10, 30, 100, 300 (those below `total`) and `total` (every edge). */
export function curveSteps(total: number, steps: readonly number[] = [1, 3, 10, 30, 100, 300]): number[] {
  return [0, ...steps.filter((n) => n < total), total];
}

export interface NodeScore {
  id: string;
  sender: number;
  /** Node attribution: the sum of the node's outgoing edge scores. */
  value: number;
}

/**
 * Heads and MLPs ranked by node attribution (sum of their outgoing edges), largest |value| first. NaN edges (not
 * upstream of the metric) are left out of the sums, and a node with no other edge is left out.
 */
export function rankedNodes(data: CircuitData): NodeScore[] {
  const R = data.receivers.length;
  const out: NodeScore[] = [];
  data.senders.forEach((id, sender) => {
    if (id === 'input') return;
    let v = 0;
    let any = false;
    data.upstream.forEach((n, receiver) => {
      const x = data.scores[sender * R + receiver];
      if (sender < n && !Number.isNaN(x)) {
        v += x;
        any = true;
      }
    });
    if (any) out.push({ id, sender, value: v });
  });
  return out.sort((a, b) => Math.abs(b.value) - Math.abs(a.value) || a.sender - b.sender);
}

/**
 * The nodes-only circuit of a set of senders: every edge out of them, plus every edge out of `input` (the
 * embeddings always reach their readers). Other heads and MLPs read as in the corrupted run.
 */
export function nodeCircuit(data: CircuitData, senders: Iterable<number>): { sender: number; receiver: number }[] {
  const keep = new Set(senders);
  keep.add(0);
  const out: { sender: number; receiver: number }[] = [];
  data.upstream.forEach((n, receiver) => {
    for (const s of keep) if (s < n) out.push({ sender: s, receiver });
  });
  return out;
}

export interface NodePos extends NodeRef {
  x: number;
  y: number;
}

export interface LayoutOptions {
  width: number;
  /** Vertical distance between rows (input, each layer, logits). */
  rowHeight: number;
  margin: number;
}

/**
 * Nodes by layer: input at the bottom, logits at the top, each layer's heads in a row with its MLP at the right
 * end. Heads sit at the left half of a slot, the MLP a bit above the heads' row so head->own-MLP edges are visible.
 */
export function layoutNodes(nLayers: number, nHeads: number, o: LayoutOptions): { nodes: Map<string, NodePos>; height: number } {
  const height = o.margin * 2 + (nLayers + 1) * o.rowHeight;
  const y = (row: number) => height - o.margin - row * o.rowHeight;
  const slot = (o.width - 2 * o.margin) / (nHeads + 1);
  const nodes = new Map<string, NodePos>();
  nodes.set('input', { id: 'input', kind: 'input', layer: -1, x: o.width / 2, y: y(0) });
  for (let l = 0; l < nLayers; l++) {
    for (let h = 0; h < nHeads; h++) {
      nodes.set(`a${l}.h${h}`, { id: `a${l}.h${h}`, kind: 'head', layer: l, head: h, x: o.margin + slot * (h + 0.5), y: y(l + 1) + o.rowHeight * 0.18 });
    }
    nodes.set(`m${l}`, { id: `m${l}`, kind: 'mlp', layer: l, x: o.margin + slot * (nHeads + 0.5), y: y(l + 1) - o.rowHeight * 0.18 });
  }
  nodes.set('logits', { id: 'logits', kind: 'logits', layer: nLayers, x: o.width / 2, y: y(nLayers + 1) });
  return { nodes, height };
}

/** Stroke width by |value|: [minWidth, maxWidth] over [0, max |value| of the shown edges]. */
export function widthScale(edges: readonly GraphEdge[], minWidth = 1, maxWidth = 8): (v: number) => number {
  const m = edges.reduce((acc, e) => Math.max(acc, Number.isFinite(e.value) ? Math.abs(e.value) : 0), 0);
  const s = scaleLinear().domain([0, m || 1]).range([minWidth, maxWidth]).clamp(true);
  return (v: number) => s(Math.abs(v));
}

/** Where an edge lands on its receiver: q, k and v enter a head left, centre and right. */
export const CHANNEL_OFFSET: Record<Channel, number> = { q: -4, k: 0, v: 4 };
/** Dash pattern per channel (none for v, MLP and logits inputs). */
export const CHANNEL_DASH: Record<Channel, string | undefined> = { q: '2 3', k: '7 3', v: undefined };

/** A cubic curve from sender (above it) to receiver (below it), vertical at both ends. */
export function edgePath(from: { x: number; y: number }, to: { x: number; y: number }, channel: Channel | null): string {
  const tx = to.x + (channel ? CHANNEL_OFFSET[channel] : 0);
  const dy = Math.max(12, Math.abs(to.y - from.y) * 0.45);
  const f = (n: number) => Math.round(n * 10) / 10;
  return `M${f(from.x)},${f(from.y)} C${f(from.x)},${f(from.y - dy)} ${f(tx)},${f(to.y + dy)} ${f(tx)},${f(to.y)}`;
}

/** A node's incoming and outgoing edges among `edges`, each sorted by |value|, largest first. */
export function incident(edges: readonly GraphEdge[], node: string): { incoming: GraphEdge[]; outgoing: GraphEdge[] } {
  const by = (a: GraphEdge, b: GraphEdge) => Math.abs(b.value) - Math.abs(a.value);
  return {
    incoming: edges.filter((e) => e.to === node).sort(by),
    outgoing: edges.filter((e) => e.from === node).sort(by),
  };
}

/** The accessible name of an edge: `edge a0.h2->a1.h0<k>: 0.123`. */
export function edgeLabel(e: GraphEdge, format: (v: number) => string): string {
  return `edge ${e.name}: ${format(e.value)}`;
}
