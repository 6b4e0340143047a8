// Synthetic data for the toy induction model: BOS, then a random segment A of L tokens, then A again (optionally
// after P random tokens). The first copy of A is unpredictable (uniform over the subset); the second copy is
// predictable by looking back for the current token's earlier occurrence and copying the token after it, i.e. with
// an induction circuit. L varies between sequences so that no fixed positional offset solves the task (a head
// attending to pos - L + 1 would otherwise do it without a previous-token head).
//
// The committed model trains without a prefix (P = 0), as the issue describes the data. Measured: of three init
// seeds, two formed the previous-token + induction circuit and one (seed 0) a positional shortcut that finds the
// first copy from where the sequence starts (second-half loss 0.6, no previous-token or induction head); a random
// prefix (0..23, L 4..20) removes that shortcut but left four runs on the copy-any-earlier-token plateau after 8000
// steps. The prefix is kept as an option (train-toy.ts --max-prefix) for that experiment.

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
  /** Shortest and longest segment length L; a sequence is BOS + P + A + A, P + 2L + 1 tokens. */
  minHalf: number;
  maxHalf: number;
  /** Longest random prefix P; each sequence draws P uniformly from 0 .. maxPrefix. */
  maxPrefix: number;
}

/** One sequence, BOS first: BOS + P random tokens + A + A, with `prefix` = P and `half` = L. */
export interface RepeatedSequence {
  tokens: number[];
  half: number;
  prefix: number;
}

/** A seeded stream of repeated random sequences over `subset`; same seed, same sequences. */
export function repeatedSequences(subset: readonly number[], seed: number): (half: number, prefix?: number) => RepeatedSequence {
  const rng = mulberry32(seed);
  const draw = (n: number) => Array.from({ length: n }, () => subset[Math.floor(rng() * subset.length)]);
  return (half, prefix = 0) => {
    const p = draw(prefix);
    const a = draw(half);
    return { tokens: [BOS_TOKEN, ...p, ...a, ...a], half, prefix };
  };
}

/**
 * A batch laid out for the training graph: tokens [batch, pos] padded with BOS, and the rows scored. Every position
 * but the last is a row (so the row count, and the graph, is the same every step); a row's weight is 1/(number of
 * real targets in the batch) when it predicts a real token and 0 when it predicts padding, so the loss is the mean
 * over real targets.
 */
export interface TrainBatch {
  batch: number;
  pos: number;
  /** [batch * pos], row-major. */
  tokens: number[];
  /** Flat indices b * pos + t of the positions that predict a token. */
  rows: number[];
  /** The token each row predicts: tokens[b][t + 1]. */
  targets: number[];
  /** Each row's weight in the loss (sums to 1). */
  weights: number[];
}

/** The L of each sequence of a batch: evenly spread over [minHalf, maxHalf]. */
export function halfLengths(spec: RepeatSpec): number[] {
  const { batch, minHalf, maxHalf } = spec;
  if (batch === 1) return [maxHalf];
  return Array.from({ length: batch }, (_, i) => Math.round(minHalf + ((maxHalf - minHalf) * i) / (batch - 1)));
}

/** Tokens per sequence of a training batch (the pos of the training graph). */
export function sequenceLength(spec: RepeatSpec): number {
  return 2 * spec.maxHalf + spec.maxPrefix + 1;
}

/** A seeded stream of training batches. */
export function trainBatches(subset: readonly number[], spec: RepeatSpec, seed: number): () => TrainBatch {
  const next = repeatedSequences(subset, seed);
  const shuffleRng = mulberry32(seed ^ 0x5eed);
  const pos = sequenceLength(spec);
  return () => {
    const lengths = halfLengths(spec);
    for (let i = lengths.length - 1; i > 0; i--) {
      const j = Math.floor(shuffleRng() * (i + 1));
      [lengths[i], lengths[j]] = [lengths[j], lengths[i]];
    }
    const seqs = lengths.map((half) => next(half, Math.floor(shuffleRng() * (spec.maxPrefix + 1))).tokens);
    return layoutBatch(seqs, pos);
  };
}

/**
 * Sequences (BOS first) laid out as a TrainBatch: BOS-padded to `pos`; every position but the last is a row; a row
 * weighs 1/(real targets in the batch) when it predicts a token of its sequence and 0 when it predicts padding.
 */
export function layoutBatch(seqs: readonly number[][], pos: number): TrainBatch {
  const tokens: number[] = [];
  const rows: number[] = [];
  const targets: number[] = [];
  const real: boolean[] = [];
  seqs.forEach((seq, b) => {
    if (seq.length > pos) throw new Error(`layoutBatch: a sequence of ${seq.length} tokens exceeds ${pos}`);
    const padded = [...seq, ...new Array(pos - seq.length).fill(BOS_TOKEN)];
    tokens.push(...padded);
    for (let t = 0; t < pos - 1; t++) {
      rows.push(b * pos + t);
      targets.push(padded[t + 1]);
      real.push(t + 1 < seq.length);
    }
  });
  const count = real.filter(Boolean).length;
  return { batch: seqs.length, pos, tokens, rows, targets, weights: real.map((r) => (r ? 1 / count : 0)) };
}
