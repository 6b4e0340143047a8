// Presets that teach: each sets up a classic experiment and says in one line what to look for.
import type { ExperimentSpec, PromptPair } from '../engine/patching/types';
import type { PermalinkState } from '../state/permalink';
import { BUILTIN_MODELS, type BuiltinModel, type PresetKind } from '../state/models';
import { IOI_CIRCUIT, TOY_CIRCUIT } from '../engine/train/toy';
import { IOI_TEMPLATES, ioiSentence } from '../engine/train/ioi-data';

/** 'When {A} and {B} went to the {PLACE}, {S} gave the {OBJECT} to' */
const TOY_IOI_TEMPLATE = IOI_TEMPLATES.indexOf('When {A} and {B} went to the {PLACE}, {S} gave the {OBJECT} to');
if (TOY_IOI_TEMPLATE < 0) throw new Error('presets: the toy IOI preset\'s template is not one the model was trained on');

export interface Preset {
  id: string;
  label: string;
  /** 'gpt2': for GPT-2-family models; 'toy' / 'toy-ioi': for the bundled toy induction / IOI model. */
  kind: PresetKind;
  lookFor: string;
  spec: ExperimentSpec;
  view: Pick<PermalinkState['view'], 'tab' | 'family'>;
  /** Circuit presets: the edges that "Look for" names, which exact path patching finds (presets.test.ts checks). */
  edges?: readonly string[];
}

const base = {
  metric: { name: 'logit_diff' as const },
  direction: 'denoising' as const,
  options: { freezeLayerNorm: false, freezeAttention: false },
  prependBos: true,
};

// TransformerLens's Exploratory_Analysis_Demo / Main_Demo IOI set: four sentence templates, each used with the
// names in both orders; the corrupted prompt of each pair is its neighbour (the other name as subject), so the
// answer (indirect object) and wrong answer (subject) swap.
const IOI_FORMATS = [
  'When John and Mary went to the shops,{} gave the bag to',
  'When Tom and James went to the park,{} gave the ball to',
  'When Dan and Sid went to the shops,{} gave an apple to',
  'After Martin and Amy went to the park,{} gave a drink to',
];
const IOI_NAMES: [string, string][] = [[' Mary', ' John'], [' Tom', ' James'], [' Dan', ' Sid'], [' Martin', ' Amy']];

export function ioiPairs(): PromptPair[] {
  const pairs: PromptPair[] = [];
  IOI_FORMATS.forEach((format, i) => {
    const [a, b] = IOI_NAMES[i];
    // prompts = [format(b), format(a)], answers = [(a, b), (b, a)]: the subject is the wrong answer.
    const withSubject = (s: string) => format.replace('{}', s);
    pairs.push({ clean: withSubject(b), corrupted: withSubject(a), answer: a, wrong: b });
    pairs.push({ clean: withSubject(a), corrupted: withSubject(b), answer: b, wrong: a });
  });
  return pairs;
}

/**
 * Repeated sequence: the words once, then again up to the cue. The answer is the word after the cue's first
 * occurrence; the corrupted prompt replaces that word in the first half, so only induction can tell them apart.
 */
export function repeatedPair(words: string[], cueIndex: number, replacement: string): PromptPair {
  const text = (ws: string[]) => ws.map((w) => ` ${w}`).join('');
  const prefix = words.slice(0, cueIndex + 1);
  const answer = words[cueIndex + 1];
  const corruptedWords = words.map((w, i) => (i === cueIndex + 1 ? replacement : w));
  return {
    clean: text([...words, ...prefix]),
    corrupted: text([...corruptedWords, ...prefix]),
    answer: ` ${answer}`,
    wrong: ` ${replacement}`,
  };
}

/**
 * IOI pairs in the toy IOI model's own template (all pairs the same length): the corrupted prompt repeats the other
 * name, so the indirect object and the subject swap; both name orders (ABBA, BABA) occur.
 */
export function toyIoiPairs(): PromptPair[] {
  const cases: [string, string, string, string][] = [
    ['Mary', 'John', 'store', 'drink'], ['Tom', 'James', 'park', 'ball'], ['Alice', 'Bob', 'school', 'book'], ['Sarah', 'David', 'office', 'ring'],
  ];
  const t = TOY_IOI_TEMPLATE;
  return cases.flatMap(([a, b, place, object]) => [true, false].map((ioFirst) => ({
    clean: ioiSentence(t, a, b, ioFirst, place, object).prompt,
    corrupted: ioiSentence(t, b, a, !ioFirst, place, object).prompt,
    answer: ` ${a}`,
    wrong: ` ${b}`,
  })));
}

// Every word is one GPT-2 token with its leading space; the toy model's words come from its vocab_subset.json.
const TOY_WORDS = ['cat', 'river', 'gold', 'king', 'bread', 'moon', 'chair', 'snow', 'lion', 'boat'];
const GPT2_WORDS = ['violin', 'crater', 'saddle', 'mirror', 'thunder', 'basket', 'velvet', 'pepper', 'glacier', 'harbor', 'lantern', 'candle'];

export const PRESETS: readonly Preset[] = [
  {
    id: 'toy-induction',
    label: 'Induction (repeated words)',
    kind: 'toy',
    lookFor:
      `The answer is only predictable by copying from the first half. In head output, the induction head `
      + `${TOY_CIRCUIT.induction} comes first (every layer-1 head prefix-matches; ${TOY_CIRCUIT.induction} most), with the `
      + `previous-token head ${TOY_CIRCUIT.previousToken} in layer 0; ${TOY_CIRCUIT.currentToken}, which attends to the current token, ranks second because `
      + 'the corruption changes the copied word itself.',
    spec: { ...base, pairs: [repeatedPair(TOY_WORDS, 4, 'tea')] },
    view: { tab: 'heads', family: 'head_out_all_pos' },
  },
  {
    id: 'toy-ioi',
    label: 'IOI (toy names, 8 pairs)',
    kind: 'toy-ioi',
    lookFor:
      `Only the repeated name (S2) differs between clean and corrupted. Head ${IOI_CIRCUIT.subject} attends from the last `
      + 'position to S2, as GPT-2\'s S-inhibition heads do, and carries nearly all of the difference; in the residual '
      + 'view the difference sits at S2 until that layer, then at the end.',
    spec: { ...base, pairs: toyIoiPairs() },
    view: { tab: 'heads', family: 'head_out_all_pos' },
  },
  {
    id: 'ioi',
    label: 'IOI (8 pairs)',
    kind: 'gpt2',
    lookFor:
      'Name movers 9.9, 9.6, 10.0 carry the answer at the final position; S-inhibition heads 7.3, 7.9, 8.6, 8.10 '
      + 'feed them; the residual stream moves from the S2 name to the end around layers 7-8.',
    spec: { ...base, pairs: ioiPairs() },
    view: { tab: 'residual', family: 'resid_pre' },
  },
  {
    id: 'factual',
    label: 'Factual recall (Eiffel Tower)',
    kind: 'gpt2',
    lookFor:
      'Early MLPs at the subject\'s last token (" Tower") store the fact; later attention moves it to the final '
      + 'position. Compare attribution and activation patching for mlp_out: big activations are where they disagree.',
    spec: {
      ...base,
      pairs: [{
        clean: 'The Eiffel Tower is located in the city of',
        corrupted: 'The Colosseum is located in the city of',
        answer: ' Paris',
        wrong: ' Rome',
      }],
    },
    view: { tab: 'residual', family: 'mlp_out' },
  },
  {
    id: 'gpt2-induction',
    label: 'Induction (repeated tokens)',
    kind: 'gpt2',
    lookFor:
      'Induction heads 5.5, 5.8, 5.9, 6.9 attend from the repeated " pepper" to the token after its first '
      + 'occurrence; previous-token heads (2.2, 4.11) prepare that in the first half.',
    spec: { ...base, pairs: [repeatedPair(GPT2_WORDS, 7, 'marble')] },
    view: { tab: 'heads', family: 'head_out_all_pos' },
  },
];

/**
 * Key-side corruption: the first-half copy of the cue word (the token BEFORE the one to copy) changes, so the
 * induction head's key at the answer no longer matches its query; the answer is the word after the cue, the wrong
 * answer the one after that.
 */
export function keySidePair(words: string[], cueIndex: number, replacement: string): PromptPair {
  const text = (ws: string[]) => ws.map((w) => ` ${w}`).join('');
  const prefix = words.slice(0, cueIndex + 1);
  return {
    clean: text([...words, ...prefix]),
    corrupted: text([...words.map((w, i) => (i === cueIndex ? replacement : w)), ...prefix]),
    answer: ` ${words[cueIndex + 1]}`,
    wrong: ` ${words[cueIndex + 2]}`,
  };
}

const [PREV_L, PREV_H] = TOY_CIRCUIT.previousToken.split('.');
const [S_L, S_H] = IOI_CIRCUIT.subject.split('.');
const KEY_SIDE_EDGES = [`input->a${PREV_L}.h${PREV_H}<v>`, `a${PREV_L}.h${PREV_H}->m${PREV_L}`] as const;
const IOI_EDGES = [`m0->a${S_L}.h${S_H}<v>`, 'input->m0', `a${S_L}.h${S_H}->m2`] as const;

/** Presets for the Circuit tab (issue 11): composition on the toy models. */
export const CIRCUIT_PRESETS: readonly Preset[] = [
  {
    id: 'toy-induction-keys',
    label: 'Induction, key-side corruption (circuit)',
    kind: 'toy',
    lookFor:
      `The word before the copied one changes in the first half, so the change reaches the induction head's key through `
      + `the previous-token head: exact path patching finds ${KEY_SIDE_EDGES[0]} and ${KEY_SIDE_EDGES[1]} large, while `
      + 'edge attribution scores them near 0 (its gradient through the unchanged attention pattern vanishes). Raise N to '
      + 'every edge and click them to compare estimate and exact.',
    spec: { ...base, pairs: [keySidePair(TOY_WORDS, 4, 'tea')] },
    view: { tab: 'circuit', family: 'head_out_all_pos' },
    edges: KEY_SIDE_EDGES,
  },
  {
    id: 'toy-ioi-circuit',
    label: 'IOI circuit (toy names, 8 pairs)',
    kind: 'toy-ioi',
    lookFor:
      `The S-inhibition head ${IOI_CIRCUIT.subject} reads the repeated name through its value from MLP 0: exact path `
      + `patching finds ${IOI_EDGES[0]}, ${IOI_EDGES[1]} and ${IOI_EDGES[2]} among the largest edges (the first two `
      + 'far larger than their attribution), and the faithfulness curve shows how few edges carry the behaviour.',
    spec: { ...base, pairs: toyIoiPairs() },
    view: { tab: 'circuit', family: 'head_out_all_pos' },
    edges: IOI_EDGES,
  },
];

export function presetsFor(kind: PresetKind): Preset[] {
  return [...PRESETS, ...CIRCUIT_PRESETS].filter((p) => p.kind === kind);
}

export function presetById(id: string): Preset | undefined {
  return PRESETS.find((p) => p.id === id) ?? CIRCUIT_PRESETS.find((p) => p.id === id);
}

/** The built-in model a preset is made for (issue 14 item 6: presets bring their model): the first of its kind. */
export function presetModel(preset: Pick<Preset, 'kind'>): BuiltinModel {
  const m = BUILTIN_MODELS.find((b) => b.presets === preset.kind);
  if (!m) throw new Error(`No built-in model runs "${preset.kind}" presets.`);
  return m;
}
