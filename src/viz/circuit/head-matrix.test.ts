import { describe, expect, it } from 'vitest';
import { headMatrix, headOutMatrix } from './head-matrix';
import type { CircuitData } from './circuit-model';

// 2 layers, 1 head, written out by hand: senders input, a0.h0, m0, a1.h0, m1.
const senders = ['input', 'a0.h0', 'm0', 'a1.h0', 'm1'];
const receivers = ['a0.h0<q>', 'a0.h0<k>', 'a0.h0<v>', 'm0', 'a1.h0<q>', 'a1.h0<k>', 'a1.h0<v>', 'm1', 'logits'];
const upstream = [1, 1, 1, 2, 3, 3, 3, 4, 5];
const scores = new Float64Array(senders.length * receivers.length);
const set = (s: string, r: string, v: number) => { scores[senders.indexOf(s) * receivers.length + receivers.indexOf(r)] = v; };
set('a0.h0', 'a1.h0<k>', 0.7);
set('a0.h0', 'a1.h0<q>', -0.2);
set('a0.h0', 'm0', 0.3);
set('a1.h0', 'logits', 1.5);
const data: CircuitData = { senders, receivers, upstream, scores };

describe('head matrices', () => {
  it('k: rows receive, columns send; only earlier layers feed later ones', () => {
    const m = headMatrix(data, 'k');
    expect(m.rowLabels).toEqual(['a0.h0', 'a1.h0']);
    expect(Array.from(m.data.data)).toEqual([NaN, NaN, 0.7, NaN]);
    expect(m.edgeAt(1, 0)).toBe('a0.h0->a1.h0<k>');
    expect(m.refAt(1, 0)).toEqual({ sender: 1, receiver: 5 });
    expect(m.edgeAt(0, 1)).toBeNull();
    expect(headMatrix(data, 'q').data.data[2]).toBe(-0.2);
  });

  it('heads to MLPs and logits: a head feeds its own layer\'s MLP and later ones, never an earlier one', () => {
    const m = headOutMatrix(data);
    expect(m.colLabels).toEqual(['m0', 'm1', 'logits']);
    expect(Array.from(m.data.data)).toEqual([0.3, 0, 0, NaN, 0, 1.5]);
    expect(m.edgeAt(1, 0)).toBeNull();
    expect(m.edgeAt(1, 2)).toBe('a1.h0->logits');
  });
});
