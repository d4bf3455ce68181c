import { NonFiniteLossError } from '../errors.js';
import type { LabeledBatch, OptimizerStep, TrainStepResult, TransformerCore } from './types.js';

// Training-step arithmetic every TransformerCore implementation shares, so the cores cannot drift apart.

/** torch clip_grad_norm_ factor: maxGradNorm / (norm + 1e-6), at most 1; clipping is off for a non-positive or non-finite max. */
export function clipCoefficient(norm: number, maxGradNorm: number): number {
  if (!(maxGradNorm > 0) || !Number.isFinite(maxGradNorm)) return 1;
  return Math.min(1, maxGradNorm / (norm + 1e-6));
}

/**
 * zeroGradients, accumulateGradients(batch), applyOptimizer(step) — refusing to step on a non-finite loss
 * (gradients are cleared first). `nextStep` gives the 1-based optimizer step the error should name.
 */
export async function composeTrainStep(
  core: Pick<TransformerCore, 'zeroGradients' | 'accumulateGradients' | 'applyOptimizer'>,
  batch: LabeledBatch,
  step: OptimizerStep,
  nextStep: () => number,
): Promise<TrainStepResult> {
  core.zeroGradients();
  const lossResult = await core.accumulateGradients(batch, 1);
  if (!Number.isFinite(lossResult.loss)) {
    core.zeroGradients();
    throw new NonFiniteLossError(nextStep(), lossResult.loss);
  }
  const opt = await core.applyOptimizer(step);
  return { ...lossResult, ...opt };
}
