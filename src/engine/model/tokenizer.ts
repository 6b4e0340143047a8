// GPT-2's byte-level BPE tokenizer, offline and exact.
//
// gpt-tokenizer's r50k_base IS GPT-2's vocabulary (encoder.json + vocab.bpe: 50,256 merge ranks plus <|endoftext|>
// = 50256) and its pre-tokenizer regex is GPT-2's own. We use it for the BPE merges and the rank table, and do two
// things ourselves because gpt-tokenizer 4.0.0 gets them wrong:
//   - special tokens: with `allowedSpecial`, <|endoftext|> is only recognised at the start of the remaining text
//     (a sticky regex), so "a<|endoftext|>b" came out as 9 ordinary tokens. We split on it ourselves, as the Hugging
//     Face tokenizer (and so TransformerLens) does for its added token.
//   - decode: it feeds byte tokens to one shared TextDecoder in streaming mode, so a trailing partial UTF-8 sequence is
//     swallowed (decode([8582]) === "") and leaks into the next, unrelated decode call. We decode from the rank table's
//     bytes with a stateless decoder, which gives U+FFFD for broken sequences like Hugging Face's errors="replace".
//
// Plain ESM data modules, no node: imports: the same code runs under tsx/vitest and in a Vite browser bundle.

import { encode as bpeEncode } from 'gpt-tokenizer/encoding/r50k_base';
import bpeRanks from 'gpt-tokenizer/bpeRanks/r50k_base';

export const VOCAB_SIZE = 50257;

/**
 * <|endoftext|>. GPT-2 has no separate BOS token; TransformerLens's `to_tokens` prepends this one by default
 * (prepend_bos=True), and Patchwork's experiments do the same so positions and numbers match TransformerLens.
 */
export const BOS_TOKEN = 50256;
export const END_OF_TEXT = '<|endoftext|>';

export interface EncodeOptions {
  /** Prepend BOS_TOKEN, as TransformerLens's to_tokens does by default. Default false. */
  prependBos?: boolean;
}

/**
 * Text -> GPT-2 token ids. No BOS unless asked for. A literal "<|endoftext|>" in the text becomes the special token
 * 50256 (what the Hugging Face GPT-2 tokenizer does), so prompts can separate documents the way GPT-2 was trained.
 */
export function encode(text: string, options: EncodeOptions = {}): number[] {
  const ids: number[] = options.prependBos ? [BOS_TOKEN] : [];
  text.split(END_OF_TEXT).forEach((piece, i) => {
    if (i > 0) ids.push(BOS_TOKEN);
    // Each piece is free of <|endoftext|>, so gpt-tokenizer's default (throw on special tokens) never fires.
    if (piece) ids.push(...bpeEncode(piece));
  });
  return ids;
}

const utf8Encoder = new TextEncoder();
const endOfTextBytes = utf8Encoder.encode(END_OF_TEXT);

/** The raw bytes of one token. The rank table stores valid UTF-8 as strings and the rest as byte arrays. */
function tokenBytes(id: number): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
    throw new RangeError(`token id ${id} is outside GPT-2's vocabulary [0, ${VOCAB_SIZE})`);
  }
  if (id === BOS_TOKEN) return endOfTextBytes;
  const entry = bpeRanks[id];
  return typeof entry === 'string' ? utf8Encoder.encode(entry) : Uint8Array.from(entry);
}

// Not streaming, so no state survives between calls; ignoreBOM so a leading U+FEFF in the text round-trips.
const lenientUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Token ids -> text. Bytes are joined before decoding, so characters split across tokens come back whole. */
export function decode(ids: readonly number[]): string {
  const parts = ids.map(tokenBytes);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.length;
  }
  return lenientUtf8.decode(bytes);
}

/** The raw text of one token; a token holding part of a UTF-8 character decodes to U+FFFD. */
export function tokenString(id: number): string {
  return decode([id]);
}

// Whitespace made visible on token chips. '·' rather than '␣' because it is narrow and keeps chips word-sized; the
// cost is that a literal middle dot in the text looks the same (tokenString gives the unambiguous text).
const VISIBLE: Record<string, string> = { ' ': '·', '\n': '⏎', '\t': '⇥', '\r': '␍' };

/** Length of the UTF-8 sequence a lead byte starts, or 0 for a byte that cannot start one. */
function utf8SequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

const byteEscape = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/**
 * A token for a UI chip: spaces as '·', newline '⏎', tab '⇥', carriage return '␍', other control characters and
 * bytes that are not a whole UTF-8 character as '<0xE2>'. Whole characters inside a token are kept, so " \xF0\x9F"
 * shows as '·<0xF0><0x9F>' and the first token of "🙂" as '<0xF0><0x9F>'.
 */
export function displayToken(id: number): string {
  const bytes = tokenBytes(id);
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const n = utf8SequenceLength(bytes[i]);
    let ch: string | undefined;
    if (n > 0 && i + n <= bytes.length) {
      try {
        ch = strictUtf8.decode(bytes.subarray(i, i + n));
      } catch {
        ch = undefined; // bad continuation byte, overlong form or surrogate: escape the lead byte and move on
      }
    }
    if (ch === undefined || (ch < ' ' && !(ch in VISIBLE)) || ch === '\x7f') {
      out += byteEscape(bytes[i]);
      i += 1;
    } else {
      out += VISIBLE[ch] ?? ch;
      i += n;
    }
  }
  return out;
}

/** Ids and their chip labels, index for index. */
export function tokenize(text: string, options: EncodeOptions = {}): { ids: number[]; display: string[] } {
  const ids = encode(text, options);
  return { ids, display: ids.map(displayToken) };
}

export type SingleTokenResult =
  | { ok: true; id: number }
  | { ok: false; ids: number[]; display: string[]; message: string };

/**
 * Checks that an answer (e.g. " Mary") is exactly one token, since logit-difference metrics read one logit per answer.
 * The message names the pieces, and suggests the leading space that answers after a word almost always need.
 */
export function singleToken(text: string): SingleTokenResult {
  const { ids, display } = tokenize(text);
  if (ids.length === 1) return { ok: true, id: ids[0] };
  const pieces = ids.length > 0 ? ` (${display.join(' | ')})` : '';
  let message = `${JSON.stringify(text)} is ${ids.length} tokens${pieces}; the answer must be a single token`;
  const spaced = ' ' + text;
  if (text && !/^\s/.test(text) && encode(spaced).length === 1) {
    message += `; ${JSON.stringify(spaced)}, with a leading space, is one`;
  }
  return { ok: false, ids, display, message };
}
