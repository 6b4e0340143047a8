// Synthetic data for the toy IOI model (the stretch of issue #5): indirect-object sentences from fixed templates, as
// in Wang et al. 2022 ("Interpretability in the wild") and TransformerLens's IOI demos. Two names from a fixed list
// are introduced; the subject S is repeated; the sentence ends "... gave a drink to" and the answer is the other
// name, the indirect object IO. Both orders occur: ABBA ("When Mary and John ..., John gave ... to" -> Mary) and
// BABA ("When John and Mary ..., John gave ... to" -> Mary), so position alone never tells which name is IO.

import { mulberry32 } from '../model/checkpoint';
import { BOS_TOKEN, encode } from '../model/tokenizer';
import { layoutBatch, type TrainBatch } from './data';

/** Names, each one GPT-2 token with its leading space. */
export const IOI_NAMES = (
  'Mary John Tom James Dan Sid Martin Amy Alice Bob Sarah David Emma Paul Kate Mark Anna Peter Lisa Mike Jane Jack '
  + 'Rose Sam Max Ben Lucy Adam Eve Tim Joe Ann Ryan Chris Laura Steve Jim Kelly Carl Ruth Helen Fred Grace Henry '
  + 'Jason Amber Mia Leo'
).split(' ');

/** {A} and {B} are the first clause's names in order, {S} the repeated subject. */
export const IOI_TEMPLATES = [
  'Then, {A} and {B} went to the {PLACE}. {S} gave a {OBJECT} to',
  'When {A} and {B} got a {OBJECT} at the {PLACE}, {S} decided to give it to',
  'After {A} and {B} went to the {PLACE}, {S} gave a {OBJECT} to',
  'While {A} and {B} were working at the {PLACE}, {S} gave a {OBJECT} to',
  'Friends {A} and {B} found a {OBJECT} at the {PLACE}. {S} gave it to',
  'When {A} and {B} went to the {PLACE}, {S} gave the {OBJECT} to',
];
export const IOI_PLACES = ['store', 'park', 'school', 'hospital', 'office', 'restaurant', 'station', 'garden', 'house', 'beach'];
export const IOI_OBJECTS = ['ring', 'drink', 'bone', 'ball', 'computer', 'necklace', 'snack', 'bag', 'book', 'kiss'];

export interface IoiSentence {
  /** The prompt as text (no BOS), ending before the answer. */
  prompt: string;
  io: string;
  s: string;
  /** BOS + prompt tokens + the IO token. */
  tokens: number[];
}

/** One sentence: template `t`, names io and s (distinct), ABBA when `ioFirst`. */
export function ioiSentence(t: number, io: string, s: string, ioFirst: boolean, place: string, object: string): IoiSentence {
  const [a, b] = ioFirst ? [io, s] : [s, io];
  const prompt = IOI_TEMPLATES[t]
    .replace('{A}', a).replace('{B}', b).replace('{S}', s).replace('{PLACE}', place).replace('{OBJECT}', object);
  return { prompt, io: ` ${io}`, s: ` ${s}`, tokens: [BOS_TOKEN, ...encode(prompt), ...encode(` ${io}`)] };
}

/** A seeded stream of random sentences; same seed, same sentences. */
export function ioiSentences(seed: number): () => IoiSentence {
  const rng = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
  return () => {
    const io = pick(IOI_NAMES);
    let s = pick(IOI_NAMES);
    while (s === io) s = pick(IOI_NAMES);
    return ioiSentence(Math.floor(rng() * IOI_TEMPLATES.length), io, s, rng() < 0.5, pick(IOI_PLACES), pick(IOI_OBJECTS));
  };
}

/** Every token the data can contain (sorted): the model's training vocabulary. */
export function ioiVocabSubset(): number[] {
  const ids = new Set<number>();
  for (const t of IOI_TEMPLATES.keys()) {
    for (const place of IOI_PLACES) for (const object of IOI_OBJECTS) {
      ioiSentence(t, 'Mary', 'John', true, place, object).tokens.slice(1).forEach((id) => ids.add(id));
    }
  }
  for (const n of IOI_NAMES) encode(` ${n}`).forEach((id) => ids.add(id));
  return [...ids].sort((x, y) => x - y);
}

/** The longest sentence (tokens, with BOS and the answer). */
export function ioiMaxLength(): number {
  let max = 0;
  for (const t of IOI_TEMPLATES.keys()) {
    for (const place of IOI_PLACES) for (const object of IOI_OBJECTS) {
      max = Math.max(max, ioiSentence(t, 'Mary', 'John', true, place, object).tokens.length);
    }
  }
  return max;
}

/**
 * Training batches of `batch` sentences, BOS-padded to `pos`. Every token after BOS is a target, weighted as in
 * data.ts's TrainBatch (the mean over real targets; padding rows weigh 0).
 */
export function ioiBatches(batch: number, pos: number, seed: number): () => TrainBatch {
  const next = ioiSentences(seed);
  return () => layoutBatch(Array.from({ length: batch }, () => next().tokens), pos);
}
