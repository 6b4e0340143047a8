import { describe, expect, it } from 'vitest';
import { exportTitleLines, titleBlockLayout } from './title-block';

const spec = {
  pairs: [{ clean: 'When Mary and John went', corrupted: 'When Mary and Mary went', answer: ' Mary', wrong: ' John' }],
  metric: { name: 'logit_diff' as const },
  direction: 'denoising' as const,
};

describe('exportTitleLines', () => {
  it('names the figure, model, metric, direction, estimator, prompts and answers', () => {
    const lines = exportTitleLines({ title: 'Residual stream (resid_pre)', model: 'builtin:toy-induction', spec, estimator: 'AtP', unit: 'logit diff' });
    expect(lines).toEqual([
      'Residual stream (resid_pre)',
      'model builtin:toy-induction · metric logit_diff (logit diff) · denoising · estimator AtP',
      'clean: "When Mary and John went"',
      'corrupted: "When Mary and Mary went"',
      'answer " Mary" vs wrong " John"',
    ]);
  });
  it('says which values the cells show and how many pairs there are', () => {
    const lines = exportTitleLines({
      title: 't', model: 'm', spec: { ...spec, pairs: [spec.pairs[0], spec.pairs[0], spec.pairs[0]] }, estimator: 'AtP', unit: 'u',
      values: 'activation patch (exact)',
    });
    expect(lines[1]).toMatch(/ · cells: activation patch \(exact\)$/);
    expect(lines[2]).toBe('clean (pair 1 of 3): "When Mary and John went"');
  });
  it('cuts long lines with an ellipsis and flattens newlines', () => {
    const long = { ...spec, pairs: [{ ...spec.pairs[0], clean: 'a\nb '.repeat(100) }] };
    const lines = exportTitleLines({ title: 't', model: 'm', spec: long, estimator: 'AtP', unit: 'u' }, 40);
    expect(Array.from(lines[2]).length).toBe(40);
    expect(lines[2].endsWith('…')).toBe(true);
    expect(lines[2]).not.toMatch(/\n/);
  });
});

describe('titleBlockLayout', () => {
  it('stacks the lines, title first and larger, and widens the SVG for a long line', () => {
    const b = titleBlockLayout(['Title', 'x'.repeat(100)], 300);
    expect(b.lines.map((l) => l.fontSize)).toEqual([13, 11]);
    expect(b.lines[0].y).toBeLessThan(b.lines[1].y);
    expect(b.height).toBeGreaterThan(b.lines[1].y);
    expect(b.width).toBeGreaterThanOrEqual(100 * 6.6);
  });
  it('keeps the chart width when the lines are short, and is empty for no lines', () => {
    expect(titleBlockLayout(['a'], 500).width).toBe(500);
    expect(titleBlockLayout([], 500).height).toBe(0);
  });
});
