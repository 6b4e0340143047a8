import { describe, expect, it } from 'vitest';
import { panelMaxAbs } from './shared-scale';

// head_out-like panel (large), q and k panels 500x smaller, and two slices of one family.
const panels = [
  { group: 'head_out_all_pos', values: [2, -5, 1] },
  { group: 'q', values: [0.01, -0.002] },
  { group: 'k', values: [NaN, 0.004, -0.003] },
  { group: 'head_out', values: [0.5, -0.25] },
  { group: 'head_out', values: [Infinity, -0.75, 0.1] },
];

describe('panelMaxAbs', () => {
  it('per-panel: each panel its own finite max |value|', () => {
    expect(panelMaxAbs(panels, 'per-panel')).toEqual([5, 0.01, 0.004, 0.5, 0.75]);
  });
  it('shared: one domain for every panel, the largest', () => {
    expect(panelMaxAbs(panels, 'shared')).toEqual([5, 5, 5, 5, 5]);
  });
  it('auto: panels of one family share, families keep their own', () => {
    expect(panelMaxAbs(panels, 'auto')).toEqual([5, 0.01, 0.004, 0.75, 0.75]);
  });
  it('all-NaN panels get 0 (a flat scale), not NaN', () => {
    expect(panelMaxAbs([{ group: 'a', values: [NaN, NaN] }], 'shared')).toEqual([0]);
  });
});
