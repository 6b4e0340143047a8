// Synthetic data for the toy induction model: BOS, then a random segment A of L tokens, then A again.
// The first copy of A is unpredictable (uniform over the subset); the second copy is predictable only by looking
// back for the current token's earlier occurrence and copying the token after it, i.e. with an induction circuit.
// L varies between sequences so that no fixed positional offset solves the task (a head attending to pos - L + 1
// would otherwise do it without a previous-token head).

import { mulberry32 } from '../model/checkpoint';
import { BOS_TOKEN, encode } from '../model/tokenizer';

// Common English words, each a single GPT-2 token with its leading space, so a prompt a user types from them
// ("the cat sat") is tokenized as the model saw in training.
const WORDS = `
cat dog bird fish horse cow pig sheep goat duck chicken mouse rat rabbit bear wolf fox lion tiger deer snake frog
bee ant spider whale shark monkey eagle owl apple banana orange lemon grape cherry peach pear bread cheese butter
milk egg rice corn bean potato tomato onion carrot salt sugar honey cake pie soup meat coffee tea juice wine beer
water red blue green yellow black white brown pink purple gray silver gold table chair bed door window wall floor
roof desk lamp clock phone book paper pen pencil box bag bottle cup glass plate bowl knife fork spoon key lock ring
coin card map flag ball toy game rope chain wheel car bus train plane boat ship truck bike road bridge street river
lake sea ocean island mountain hill valley forest tree flower grass leaf rock stone sand snow rain wind storm cloud
sun moon star sky fire ice house home room kitchen garden farm park school church hospital hotel bank shop store
market office library museum station airport city town village castle tower prison king queen prince doctor nurse
teacher student farmer soldier police judge lawyer artist singer driver pilot captain chef baker writer player
coach man woman boy girl child baby mother father sister brother friend family uncle aunt head hand foot arm leg
eye ear nose mouth face hair heart blood bone skin tooth music song dance movie story poem letter message picture
photo painting camera radio computer screen machine engine money price gift prize job work plan idea dream hope
love fear anger joy peace war day night morning evening week month year summer winter spring autumn happy sad
angry quiet loud fast slow big small tall short long old young new hot cold warm dark bright soft hard heavy light
rich poor clean dirty run walk jump swim fly sing read write draw cook eat drink sleep play build open close push
pull throw catch iron steel wood silk cotton plastic metal copper north south east west left right top bottom
inside outside one two three four five six seven eight nine ten hundred thousand`;

/** The training vocabulary: the ids of ` word` for each word above that is one token, in list order, unique. */
export function toyVocabSubset(): number[] {
  const ids: number[] = [];
  for (const word of WORDS.trim().split(/\s+/)) {
    const t = encode(' ' + word);
    if (t.length === 1 && !ids.includes(t[0])) ids.push(t[0]);
  }
  return ids;
}

export interface RepeatSpec {
  /** Sequences per batch. */
  batch: number;
  /** Shortest and longest segment length L; a sequence is BOS + A + A, 2L + 1 tokens. */
  minHalf: number;
  maxHalf: number;
}

/** One sequence per row, BOS first; `half` is its L. */
export interface RepeatedSequence {
  tokens: number[];
  half: number;
}

/** A seeded stream of repeated random sequences over `subset`; same seed, same sequences. */
export function repeatedSequences(subset: readonly number[], seed: number): (half: number) => RepeatedSequence {
  const rng = mulberry32(seed);
  return (half) => {
    const a = Array.from({ length: half }, () => subset[Math.floor(rng() * subset.length)]);
    return { tokens: [BOS_TOKEN, ...a, ...a], half };
  };
}

/**
 * A batch laid out for the training graph: tokens [batch, pos] padded (with BOS, never read by a loss row: attention
 * is causal), and the rows whose next token is scored. Every batch holds the same multiset of L values
 * (`halfLengths`, shuffled), so the row count `rows.length` is the same each step and one graph serves the run.
 */
export interface TrainBatch {
  batch: number;
  pos: number;
  /** [batch * pos], row-major. */
  tokens: number[];
  /** Flat indices b * pos + t of the positions that predict a token: t = 0 .. 2L - 1 of each sequence. */
  rows: number[];
  /** The token each row predicts: tokens[b][t + 1]. */
  targets: number[];
}

/** The L of each sequence of a batch: evenly spread over [minHalf, maxHalf]. */
export function halfLengths(spec: RepeatSpec): number[] {
  const { batch, minHalf, maxHalf } = spec;
  if (batch === 1) return [maxHalf];
  return Array.from({ length: batch }, (_, i) => Math.round(minHalf + ((maxHalf - minHalf) * i) / (batch - 1)));
}

/** Rows per batch for `spec` (the N of the training graph). */
export function rowsPerBatch(spec: RepeatSpec): number {
  return halfLengths(spec).reduce((n, l) => n + 2 * l, 0);
}

/** A seeded stream of training batches. */
export function trainBatches(subset: readonly number[], spec: RepeatSpec, seed: number): () => TrainBatch {
  const next = repeatedSequences(subset, seed);
  const shuffleRng = mulberry32(seed ^ 0x5eed);
  const pos = 2 * spec.maxHalf + 1;
  return () => {
    const lengths = halfLengths(spec);
    for (let i = lengths.length - 1; i > 0; i--) {
      const j = Math.floor(shuffleRng() * (i + 1));
      [lengths[i], lengths[j]] = [lengths[j], lengths[i]];
    }
    const tokens: number[] = [];
    const rows: number[] = [];
    const targets: number[] = [];
    lengths.forEach((half, b) => {
      const seq = next(half).tokens;
      for (let t = 0; t < 2 * half; t++) {
        rows.push(b * pos + t);
        targets.push(seq[t + 1]);
      }
      tokens.push(...seq, ...new Array(pos - seq.length).fill(BOS_TOKEN));
    });
    return { batch: spec.batch, pos, tokens, rows, targets };
  };
}
