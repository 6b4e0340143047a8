// `patchwork inspect`: the views a researcher checks before trusting a patch (issue 14), at the metric position of
// the clean and the corrupted prompt: the top 5 next tokens, direct logit attribution of every head, MLP, the
// embeddings and the biases (summing to the logit difference, or to the target's logit for the other metrics), and
// the logit lens of the accumulated residual stream after each layer. Same options as attribute and patch.
import type { Command } from 'commander';
import { VOCAB_SIZE, tokenString } from '../engine/model/tokenizer';
import type { DirectLogitAttribution, TokenScore } from '../engine/patching';
import { checkFinite } from '../engine/patching/finite';
import { common, emit, header, setup, type CommonOpts } from './main';

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** Ids with their text (GPT-2's tokenizer; null for ids past its vocabulary), logits and probabilities. */
const scored = (list: TokenScore[]) =>
  list.map((t) => ({ id: t.id, text: t.id < VOCAB_SIZE ? tokenString(t.id) : null, logit: t.logit, prob: t.prob }));

const dlaJson = (d: DirectLogitAttribution) => ({
  heads: d.heads, mlps: d.mlps, embed: d.embed, attn_bias: d.attnBias, ln_final_bias: d.lnFinalBias, total: d.total,
});

async function inspect(o: CommonOpts) {
  const { engine, exp } = await setup(o);
  try {
    const t0 = performance.now();
    const r = await engine.inspect(exp, { k: 5 });
    log(`inspection (top 5, direct logit attribution, logit lens) in ${(performance.now() - t0).toFixed(0)} ms`);
    checkFinite('direct logit attribution', r.metric, (['clean', 'corrupted'] as const).flatMap((run) => [
      [`${run} heads`, r.dla[run].heads], [`${run} mlps`, r.dla[run].mlps],
    ] as [string, typeof r.dla.clean.heads][]));
    const { target, wrong } = r.direction[0];
    emit(o, {
      ...header(exp, r.metric),
      position: r.position,
      top5: { clean: scored(r.predictions.clean[0]), corrupted: scored(r.predictions.corrupted[0]) },
      dla: {
        // What the components sum to: heads + mlps + embed + attn_bias + ln_final_bias = total.
        sums_to: wrong === null ? 'logit(target)' : 'logit(target) - logit(wrong)',
        target,
        wrong,
        clean: dlaJson(r.dla.clean),
        corrupted: dlaJson(r.dla.corrupted),
      },
      logit_lens: { hooks: r.logitLens.hooks, clean: r.logitLens.clean.map(scored), corrupted: r.logitLens.corrupted.map(scored) },
    });
  } finally {
    await engine.dispose();
  }
}

export function inspectCommand(p: Command): Command {
  return common(p.command('inspect').description('top 5 next tokens, direct logit attribution and logit lens at the metric position, clean and corrupted'))
    .action((o) => inspect(o));
}
