// Inputs that run but cannot show anything (issue 14 item 6): identical prompts patch nothing, and an answer equal to
// the wrong answer makes the logit difference 0 whatever is patched. Both used to run silently to all-zero maps.
// Pure, tested apart from React.
import { encode } from '../../engine/model/tokenizer';
import type { ExperimentSpec } from '../../engine/patching/types';

export interface PairWarning {
  pair: number;
  kind: 'same-prompts' | 'same-answers';
  message: string;
}

export function pairWarnings(spec: ExperimentSpec): PairWarning[] {
  const out: PairWarning[] = [];
  const n = spec.pairs.length;
  spec.pairs.forEach((p, i) => {
    const which = n > 1 ? `Pair ${i + 1}: the` : 'The';
    if (p.clean !== '' && p.clean === p.corrupted) {
      out.push({ pair: i, kind: 'same-prompts', message: `${which} clean and corrupted prompts are identical, so every patch changes nothing and every value is 0.` });
    }
    if (spec.metric.name === 'logit_diff' && p.answer !== '' && sameTokens(p.answer, p.wrong)) {
      out.push({ pair: i, kind: 'same-answers', message: `${which} answer and wrong answer are the same token, so the logit difference is 0 on every run and every value is 0.` });
    }
  });
  return out;
}

function sameTokens(a: string, b: string): boolean {
  const x = encode(a);
  const y = encode(b);
  return x.length === y.length && x.every((t, i) => t === y[i]);
}
