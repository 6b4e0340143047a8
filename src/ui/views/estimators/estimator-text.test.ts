import { describe, expect, it } from 'vitest';
import { estimatorView, verificationLine } from './estimator-text';

describe('estimatorView', () => {
  it('keeps "attribution" for plain AtP and names the others, magnitudes on a sequential scale', () => {
    expect(estimatorView('atp')).toEqual({ valueName: 'attribution', sequential: false, label: 'AtP' });
    expect(estimatorView('atp-star')).toEqual({ valueName: 'AtP* estimate, magnitude', sequential: true, label: 'AtP*' });
    expect(estimatorView('graddrop').sequential).toBe(true);
    expect(estimatorView('qk-fix')).toEqual({ valueName: 'AtP, QK fix estimate', sequential: false, label: 'AtP, QK fix' });
    expect(estimatorView('ig-inputs', 8).valueName).toBe('IG (inputs), 8 steps estimate');
  });
});

describe('verificationLine', () => {
  const cells = [
    { estimate: 2, exact: 1.5, top: true },
    { estimate: -1, exact: 0.5, top: true },
    { estimate: 0.1, exact: 0.2, top: false },
    { estimate: 0, exact: -0.4, top: false },
  ];
  it('says how the top K held, with the recall of the true top K when a full sweep exists', () => {
    expect(verificationLine({ family: 'q', method: 'atp', k: 2, recall: 0.5, cells })).toBe(
      'top 2 by |AtP|: estimate vs exact, mean |estimate − exact| 1.00, sign right 1/2; mean |exact| 1.00 vs 0.300 for 2 random others; recall of the true top 2: 0.500',
    );
    expect(verificationLine({ family: 'q', method: 'atp-star', k: 2, cells }, 2)).toBe(
      'top 2 by |AtP*|: estimate vs exact, mean ||estimate| − |exact|| 1.00 (magnitudes); mean |exact| 2.00 vs 0.600 for 2 random others; recall of the true top K: needs every cell patched',
    );
  });
});
