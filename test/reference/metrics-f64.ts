// Float64 reference metrics on logits [pos, d_vocab] (row-major). All but meanLogProb read the final position.

function row(logits: Float64Array, nPos: number, dVocab: number, pos: number): Float64Array {
  if (logits.length !== nPos * dVocab)
    throw new Error(`logits has ${logits.length} values, expected ${nPos}x${dVocab}`);
  if (!Number.isInteger(pos) || pos < 0 || pos >= nPos) throw new Error(`position ${pos} outside 0..${nPos - 1}`);
  return logits.subarray(pos * dVocab, (pos + 1) * dVocab);
}

function lastRow(logits: Float64Array, nPos: number, dVocab: number): Float64Array {
  return row(logits, nPos, dVocab, nPos - 1);
}

function token(r: Float64Array, tok: number): number {
  if (!Number.isInteger(tok) || tok < 0 || tok >= r.length) throw new Error(`token ${tok} outside 0..${r.length - 1}`);
  return r[tok];
}

/** log(sum(exp(xs))) with max subtraction. */
export function logSumExp(xs: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < xs.length; i++) max = Math.max(max, xs[i]);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += Math.exp(xs[i] - max);
  return max + Math.log(sum);
}

/** logit(answer) - logit(wrong) at the final position. */
export function logitDiff(logits: Float64Array, nPos: number, dVocab: number, answer: number, wrong: number): number {
  const r = lastRow(logits, nPos, dVocab);
  return token(r, answer) - token(r, wrong);
}

/** log softmax(logits[last])[answer]. */
export function logProb(logits: Float64Array, nPos: number, dVocab: number, answer: number): number {
  const r = lastRow(logits, nPos, dVocab);
  return token(r, answer) - logSumExp(r);
}

/** softmax(logits[last])[answer]. */
export function prob(logits: Float64Array, nPos: number, dVocab: number, answer: number): number {
  return Math.exp(logProb(logits, nPos, dVocab, answer));
}

/** logits[last, answer]. */
export function logit(logits: Float64Array, nPos: number, dVocab: number, answer: number): number {
  return token(lastRow(logits, nPos, dVocab), answer);
}

/** logit(answer) - logsumexp(logits[last, basket]) at the final position. */
export function answerVsBasket(
  logits: Float64Array,
  nPos: number,
  dVocab: number,
  answer: number,
  basket: number[],
): number {
  if (basket.length === 0) throw new Error('empty basket');
  const r = lastRow(logits, nPos, dVocab);
  return token(r, answer) - logSumExp(basket.map((b) => token(r, b)));
}

/** Mean over i of log softmax(logits[positions[i]])[targets[i]]. */
export function meanLogProb(
  logits: Float64Array,
  nPos: number,
  dVocab: number,
  positions: number[],
  targets: number[],
): number {
  if (positions.length === 0 || positions.length !== targets.length)
    throw new Error(`need as many targets (${targets.length}) as positions (${positions.length}), at least one`);
  let total = 0;
  for (let i = 0; i < positions.length; i++) {
    const r = row(logits, nPos, dVocab, positions[i]);
    total += token(r, targets[i]) - logSumExp(r);
  }
  return total / positions.length;
}

/**
 * KL(p_source || p_run) of the next-token distribution at `pos`: sum_v p_s(v) (log p_s(v) - log p_r(v)), with each
 * distribution the softmax of its own logits row (plain loops).
 */
export function klDivergence(sourceLogits: Float64Array, logits: Float64Array, nPos: number, dVocab: number, pos = nPos - 1): number {
  const s = row(sourceLogits, nPos, dVocab, pos);
  const r = row(logits, nPos, dVocab, pos);
  const [ls, lr] = [logSumExp(s), logSumExp(r)];
  let kl = 0;
  for (let v = 0; v < dVocab; v++) {
    const lps = s[v] - ls;
    kl += Math.exp(lps) * (lps - (r[v] - lr));
  }
  return kl;
}
