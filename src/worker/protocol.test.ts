import { describe, expect, it } from 'vitest';
import { describeError, WorkerError } from './protocol';

describe('describeError', () => {
  it('names out-of-memory as such, whichever way it arrives', () => {
    expect(describeError(new WorkerError({ name: 'OutOfMemoryError', message: 'The GPU ran out of memory holding 500 MB of weights' })))
      .toBe('Out of memory: The GPU ran out of memory holding 500 MB of weights');
    expect(describeError(new WorkerError({ name: 'RangeError', message: 'Array buffer allocation failed' }))).toMatch(/^Out of memory: Array buffer allocation failed\. Try a smaller model/);
    expect(describeError(new WorkerError({ name: 'Error', message: 'Aborted(OOM)' }))).toMatch(/^Out of memory/);
  });

  it('passes other messages through, and says "Cancelled." for aborts', () => {
    expect(describeError(new WorkerError({ name: 'WeightsError', message: 'missing tensor wte.weight' }))).toBe('missing tensor wte.weight');
    expect(describeError(new DOMException('x', 'AbortError'))).toBe('Cancelled.');
    expect(describeError(new RangeError('Layer 9 is outside 0..1.'))).toBe('Layer 9 is outside 0..1.');
  });

  it('keeps ExperimentError issues', () => {
    const e = new WorkerError({ name: 'ExperimentError', message: 'm', issues: [{ field: 'answer', pair: 0, message: 'm' }] });
    expect(e.issues).toEqual([{ field: 'answer', pair: 0, message: 'm' }]);
  });
});
