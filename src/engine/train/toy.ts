// The toy models' shapes and held-out evaluation sets (docs/models/toy-induction.md, docs/models/toy-ioi.md).

import { TINY_GPT2_CONFIG } from '../model/checkpoint';
import type { GPT2Config } from '../model/types';
import type { EvalOptions } from './eval';

/** 2 layers, d_model 64, 4 heads of 16, d_mlp 256, GPT-2's vocabulary, 64 positions. */
export const TOY_CONFIG: GPT2Config = { ...TINY_GPT2_CONFIG, name: 'toy-induction', nCtx: 64 };

/** Where the committed checkpoint lives, relative to the repository root. */
export const TOY_MODEL_DIR = 'public/models/toy-induction';

/** Held-out evaluation: a data seed that training (data seed 1) never uses, one sequence per segment length L. */
export const TOY_EVAL: EvalOptions = { seed: 12345, halves: [8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 31] };

/**
 * The circuit the committed checkpoint formed, as TransformerLens "layer.head" labels, measured on TOY_EVAL
 * (test/toy-model.test.ts checks these are the top-scoring heads; the toy preset names them). `currentToken` attends
 * to its own position; it ranks second by head output on the toy preset (test/toy-circuits.test.ts).
 */
export const TOY_CIRCUIT = { previousToken: '0.2', induction: '1.0', currentToken: '0.1' } as const;

/** The IOI toy model (the stretch of issue #5): one layer more than the induction model, 32 positions. */
export const IOI_CONFIG: GPT2Config = { ...TINY_GPT2_CONFIG, name: 'toy-ioi', nLayers: 3, nCtx: 32 };

export const IOI_MODEL_DIR = 'public/models/toy-ioi';

/** Held-out IOI sentences come from this seed (training uses data seed 1). */
export const IOI_EVAL_SEED = 999;

/**
 * The IOI toy model's measured circuit: `subject` attends from the final position to the repeated name S2 (as
 * GPT-2's S-inhibition heads do) and carries almost all of the clean-corrupted difference on the IOI preset
 * (test/toy-ioi.test.ts).
 */
export const IOI_CIRCUIT = { subject: '1.0' } as const;
