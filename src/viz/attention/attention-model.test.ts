import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Labelled } from '../../engine/patching/types';
import { AttentionGrid } from './AttentionGrid';
import { causalMask, headName, rankHeads } from './attention-model';

/** [layer=2, head=2, query_pos=3, key_pos=3], every entry 0 except the ones given as 'l,h,q,k': value. */
function pattern(entries: Record<string, number>): Labelled {
  const data = new Float64Array(2 * 2 * 3 * 3);
  for (const [k, v] of Object.entries(entries)) {
    const [l, h, q, kk] = k.split(',').map(Number);
    data[((l * 2 + h) * 3 + q) * 3 + kk] = v;
  }
  return { axes: ['layer', 'head', 'query_pos', 'key_pos'], shape: [2, 2, 3, 3], data };
}

describe('rankHeads', () => {
  it('orders heads by max |attribution| and keeps the signed value and where it is', () => {
    const r = rankHeads(pattern({ '1,0,2,1': -0.9, '0,1,1,0': 0.5, '0,1,2,2': 0.2, '1,1,0,0': 0.05 }));
    expect(r.map(headName)).toEqual(['L1H0', 'L0H1', 'L1H1', 'L0H0']);
    expect(r[0]).toEqual({ layer: 1, head: 0, maxAbs: 0.9, value: -0.9, queryPos: 2, keyPos: 1 });
    expect(r[3].maxAbs).toBe(0);
  });

  it('ignores the causally masked upper triangle and NaN entries', () => {
    const r = rankHeads(pattern({ '0,0,0,2': 99, '0,0,1,1': NaN, '0,0,2,0': 0.3 }));
    expect(r[0]).toMatchObject({ layer: 0, head: 0, maxAbs: 0.3 });
  });

  it('puts heads with no finite value last', () => {
    const p = pattern({ '1,1,0,0': 0.1 });
    p.data.fill(NaN, 0, 9); // L0H0 all NaN
    const r = rankHeads(p);
    expect(r.at(-1)).toMatchObject({ layer: 0, head: 0 });
    expect(r.at(-1)!.maxAbs).toBeNaN();
  });

  it('refuses other layouts', () => {
    expect(() => rankHeads({ axes: ['layer', 'head'], shape: [1, 1], data: new Float64Array(1) })).toThrow(/expected axes/);
  });

  it('masks key_pos > query_pos', () => {
    expect(causalMask(2, 1)).toBe(false);
    expect(causalMask(2, 2)).toBe(false);
    expect(causalMask(1, 2)).toBe(true);
  });
});

describe('<AttentionGrid>', () => {
  const data = pattern({ '1,0,2,1': -0.9, '0,1,1,0': 0.5 });
  const tokens = ['<|endoftext|>', '·Mary', '·John'];

  it('shows the top-ranked head by default, lower triangle only, tokens on both axes', () => {
    const html = renderToStaticMarkup(createElement(AttentionGrid, { data, options: { tokens } }));
    expect(html).toContain('L1H0 attention pattern attribution');
    expect((html.match(/data-testid="heatmap.cell"/g) ?? []).length).toBe(6); // 3 * 4 / 2
    expect(html).toContain('aria-label="blocks.1.attn.hook_pattern head 0 query_pos 2 (·John) key_pos 1 (·Mary): attribution -0.9');
    expect((html.match(/data-testid="attention.head"/g) ?? []).length).toBe(4);
    expect(html).toMatch(/aria-pressed="true" data-testid="attention.head" data-layer="1" data-head="0"/);
  });

  it('shows the head it is given', () => {
    const html = renderToStaticMarkup(createElement(AttentionGrid, { data, head: { layer: 0, head: 1 } }));
    expect(html).toContain('L0H1 attention pattern attribution');
    expect(html).toMatch(/aria-pressed="true" data-testid="attention.head" data-layer="0" data-head="1"/);
  });
});
