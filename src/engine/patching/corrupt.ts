// Corruption generators (issue 13, item 2): pairs files made from clean prompts, seeded and reproducible; every
// generated pair carries `meta` (generator, seed and what it changed) so the data says how it was made.
// Token-level edits use whole-word tokens (" word": a leading space and letters), so the edited text tokenises back
// to the same number of tokens and a corrupted prompt stays aligned with its clean prompt.
import { decode, encode, tokenString, VOCAB_SIZE } from '../model/tokenizer';
import { mulberry32 as seededRandom } from '../model/checkpoint'; // graph-free, so the page can parse and generate pairs
import type { PairRecord } from './dataset';

export type GeneratedPair = Omit<PairRecord, 'line'> & { meta: Record<string, unknown> };

export const GENERATORS = ['flip', 'abc', 'random', 'induction', 'noise'] as const;
export type Generator = (typeof GENERATORS)[number];

export class CorruptError extends Error {
  override readonly name = 'CorruptError';
}

/** Single-token words " abc" of GPT-2's vocabulary (letters only, 3+ letters), in id order. */
let wordTokens: number[] | undefined;
export function wordVocabulary(): number[] {
  wordTokens ??= Array.from({ length: VOCAB_SIZE - 1 }, (_, id) => id).filter((id) => /^ [a-z]{3,}$/.test(tokenString(id)));
  return wordTokens;
}

/** Single-token capitalised names " Abc" for IOI's third name. */
let nameTokens: number[] | undefined;
function capitalisedWords(): number[] {
  nameTokens ??= Array.from({ length: VOCAB_SIZE - 1 }, (_, id) => id).filter((id) => /^ [A-Z][a-z]{2,}$/.test(tokenString(id)));
  return nameTokens;
}

const pick = <T>(rng: () => number, list: readonly T[]): T => list[Math.floor(rng() * list.length)];

/** Each pair, then the same pair flipped (clean <-> corrupted, answer <-> wrong): name biases cancel in the mean. */
export function flipPairs(pairs: Omit<PairRecord, 'line'>[]): GeneratedPair[] {
  return pairs.flatMap((p, i) => {
    if (!p.wrong) throw new CorruptError(`Pair ${i + 1}: flipping needs a wrong answer (it becomes the flipped pair's answer).`);
    return [
      { clean: p.clean, corrupted: p.corrupted, answer: p.answer, wrong: p.wrong, meta: { generator: 'flip', source: i, flipped: false } },
      { clean: p.corrupted, corrupted: p.clean, answer: p.wrong, wrong: p.answer, meta: { generator: 'flip', source: i, flipped: true } },
    ];
  });
}

/**
 * IOI -> ABC: the subject's repeat (the last occurrence of the wrong answer's token, the subject S, in the clean
 * prompt) becomes a third name C that is not in the prompt, drawn from single-token capitalised words (or `names`).
 */
export function abcPairs(pairs: Omit<PairRecord, 'line'>[], seed: number, names?: string[]): GeneratedPair[] {
  const pool = names?.length ? names.map((n) => singleId(n, 'name')) : capitalisedWords();
  return pairs.map((p, i) => {
    const rng = seededRandom(seed * 1000003 + i);
    const ids = encode(p.clean);
    const s = singleId(p.wrong, `pair ${i + 1}'s wrong answer (the subject S)`);
    const at = ids.lastIndexOf(s);
    if (at < 0 || ids.indexOf(s) === at)
      throw new CorruptError(`Pair ${i + 1}: ABC needs the subject ${JSON.stringify(p.wrong)} twice in the clean prompt (IOI: "When A and B ..., S gave ... to" with S the wrong answer).`);
    for (let tries = 0; tries < 100; tries++) {
      const c = pick(rng, pool);
      if (ids.includes(c)) continue;
      const out = [...ids];
      out[at] = c;
      const corrupted = decode(out);
      if (encode(corrupted).length !== ids.length) continue;
      return { clean: p.clean, corrupted, answer: p.answer, wrong: p.wrong, meta: { generator: 'abc', seed, source: i, position: at, name: tokenString(c) } };
    }
    throw new CorruptError(`Pair ${i + 1}: no third name keeps the prompt's length.`);
  });
}

/**
 * Random replacement: the tokens at `positions` (token indices of the clean prompt, without <|endoftext|>) become
 * random whole-word tokens (from `words` when given), redrawn until the text tokenises back to the same length.
 */
export function randomPairs(pairs: Omit<PairRecord, 'line'>[], seed: number, positions: number[], words?: string[]): GeneratedPair[] {
  const pool = words?.length ? words.map((w) => singleId(w, 'word')) : wordVocabulary();
  return pairs.map((p, i) => {
    const rng = seededRandom(seed * 1000003 + i);
    const ids = encode(p.clean);
    const bad = positions.filter((q) => q < 0 || q >= ids.length);
    if (bad.length) throw new CorruptError(`Pair ${i + 1}: positions ${bad.join(', ')} are outside the clean prompt's ${ids.length} tokens (0..${ids.length - 1}, without <|endoftext|>).`);
    for (let tries = 0; tries < 100; tries++) {
      const out = [...ids];
      for (const q of positions) out[q] = pick(rng, pool);
      const corrupted = decode(out);
      if (encode(corrupted).length !== ids.length || out.every((t, k) => t === ids[k])) continue;
      return { clean: p.clean, corrupted, answer: p.answer, wrong: p.wrong, meta: { generator: 'random', seed, source: i, positions, tokens: positions.map((q) => tokenString(out[q])) } };
    }
    throw new CorruptError(`Pair ${i + 1}: no replacement keeps the prompt's length; choose other positions or words.`);
  });
}

export type InductionVariant = 'BB' | 'AB' | 'BA' | 'BC';
export const INDUCTION_VARIANTS: readonly InductionVariant[] = ['BB', 'AB', 'BA', 'BC'];

/**
 * Induction pairs: clean = A A' where A is `length` random whole-word tokens and A' is A without its last token;
 * the answer is A's last token (what an induction head predicts). Corrupted (same length): BB = B B', AB = A B',
 * BA = B A', BC = B C' (B, C other random sequences); the wrong answer is the corrupted prompt's own repeat
 * target (B's or C's last token; A's for BA, where the second half repeats A).
 */
export function inductionPairs(count: number, length: number, seed: number, variant: InductionVariant): GeneratedPair[] {
  if (length < 2) throw new CorruptError('Induction sequences need at least 2 tokens.');
  const pool = wordVocabulary();
  // Words whose text tokenises back to themselves, so the prompts keep their lengths.
  const stable = pool.filter((id) => { const e = encode(tokenString(id)); return e.length === 1 && e[0] === id; });
  return Array.from({ length: count }, (_, i) => {
    const rng = seededRandom(seed * 1000003 + i);
    const seq = () => Array.from({ length }, () => pick(rng, stable));
    const [A, B, C] = [seq(), seq(), seq()];
    const half = (x: number[]) => x.slice(0, -1);
    const [first, second] = { BB: [B, B], AB: [A, B], BA: [B, A], BC: [B, C] }[variant];
    const wrongTok = second[length - 1] === A[length - 1] ? B[length - 1] : second[length - 1];
    return {
      clean: decode([...A, ...half(A)]),
      corrupted: decode([...first, ...half(second)]),
      answer: tokenString(A[length - 1]),
      wrong: tokenString(wrongTok === A[length - 1] ? C[length - 1] : wrongTok),
      meta: { generator: 'induction', seed, index: i, variant, length },
    };
  });
}

function singleId(text: string, what: string): number {
  const ids = encode(text);
  if (ids.length !== 1) throw new CorruptError(`The ${what} ${JSON.stringify(text)} is ${ids.length} tokens; it must be one.`);
  return ids[0];
}

/** One JSON object per line: the pairs file format that --pairs reads. */
export function toJsonl(pairs: GeneratedPair[]): string {
  return pairs.map((p) => JSON.stringify({ clean: p.clean, corrupted: p.corrupted, answer: p.answer, wrong: p.wrong, ...(p.positions ? { positions: p.positions } : {}), ...(p.noise ? { noise: p.noise } : {}), meta: p.meta })).join('\n') + '\n';
}

/**
 * Gaussian noise on the embeddings (ROME's corruption): each pair's corrupted run is its clean prompt with
 * N(0, std^2) noise added to the token embeddings at `positions` (token indices of the clean prompt, without
 * <|endoftext|>). Each pair gets its own seed, (seed, index), so the record alone determines its noise.
 */
export function noisePairs(pairs: Omit<PairRecord, 'line'>[], seed: number, positions: number[], std: number): GeneratedPair[] {
  if (!(std > 0) || !Number.isFinite(std)) throw new CorruptError(`The noise standard deviation must be a positive number, not ${std}.`);
  return pairs.map((p, i) => {
    const n = encode(p.clean).length;
    const bad = positions.filter((q) => q < 0 || q >= n);
    if (bad.length) throw new CorruptError(`Pair ${i + 1}: positions ${bad.join(', ')} are outside the clean prompt's ${n} tokens (0..${n - 1}, without <|endoftext|>).`);
    const noise = { positions, std, seed: seed * 1000003 + i };
    return { clean: p.clean, corrupted: p.clean, answer: p.answer, wrong: p.wrong, noise, meta: { generator: 'noise', seed, source: i } };
  });
}

/** Standard deviation of the token-embedding entries (wte), float64: ROME's noise is 3 x this. */
export function embeddingStd(wte: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < wte.length; i++) mean += wte[i] / wte.length;
  let v = 0;
  for (let i = 0; i < wte.length; i++) v += (wte[i] - mean) ** 2;
  return Math.sqrt(v / (wte.length - 1));
}
