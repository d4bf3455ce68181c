import type { ModelConfig } from '../arch/config.js';
import type { LoraSpec } from '../arch/lora.js';
import type { NamedTensors } from '../arch/tensors.js';
import type {
  CoreInfo,
  CoreMemory,
  LabeledBatch,
  LossResult,
  OptimizerResult,
  OptimizerState,
  OptimizerStep,
  TrainStepResult,
  TransformerCore,
} from '../backend/types.js';

/**
 * What the trainer, training checkpoints, the reproduce planner and tests need of a model's core: loss, gradient
 * accumulation, one clip + AdamW step, weights, optimizer state and memory. Reached as `model.training`, so nothing
 * outside src/model/ holds a TransformerCore (test/layering.test.ts checks that no `.core` is read elsewhere).
 * Decoding and forward stay on the model itself.
 */
export interface TrainingSurface {
  readonly config: ModelConfig;
  /** Which core runs the model (`tfjs-cpu`, `native-cpu`, ...). */
  readonly info: CoreInfo;
  /**
   * Set on a LoRA model: the base is frozen, and gradients, AdamW state, clipping and get/setWeights cover the adapter
   * tensors of loraLayout(config, lora) alone (named as in PEFT, without `base_model.model.`).
   */
  readonly lora?: LoraSpec;
  /** Forward + masked loss, no gradients. */
  loss(batch: LabeledBatch): Promise<LossResult>;
  /** Adds `scale` * d(mean loss)/d(params) into the gradient buffers (for accumulation). */
  accumulateGradients(batch: LabeledBatch, scale?: number): Promise<LossResult>;
  getGradients(): Promise<NamedTensors>;
  zeroGradients(): void;
  /** Clip, AdamW, then zero the gradients. Throws NonFiniteLossError (weights untouched) if the norm is not finite. */
  applyOptimizer(step: OptimizerStep): Promise<OptimizerResult>;
  /** zeroGradients + accumulateGradients + applyOptimizer. */
  trainStep(batch: LabeledBatch, step: OptimizerStep): Promise<TrainStepResult>;
  getOptimizerState(): Promise<OptimizerState>;
  setOptimizerState(state: OptimizerState): Promise<void>;
  getWeights(): Promise<NamedTensors>;
  /** The frozen base weights of a LoRA model (never merged, never trained); on a plain model the same as getWeights(). */
  getBaseWeights(): Promise<NamedTensors>;
  /** Every parameter of paramLayout(config) with the right shape (on a LoRA model: every adapter tensor). */
  setWeights(weights: NamedTensors): Promise<void>;
  memory(): CoreMemory;
}

/** The surface over one core; every call goes straight through (no copies, no state of its own). */
export function trainingSurface(core: TransformerCore): TrainingSurface {
  return {
    get config() {
      return core.config;
    },
    get info() {
      return core.info;
    },
    get lora() {
      return core.lora;
    },
    loss: (batch) => core.loss(batch),
    accumulateGradients: (batch, scale) => core.accumulateGradients(batch, scale),
    getGradients: () => core.getGradients(),
    zeroGradients: () => core.zeroGradients(),
    applyOptimizer: (step) => core.applyOptimizer(step),
    trainStep: (batch, step) => core.trainStep(batch, step),
    getOptimizerState: () => core.getOptimizerState(),
    setOptimizerState: (state) => core.setOptimizerState(state),
    getWeights: () => core.getWeights(),
    getBaseWeights: () => (core.getBaseWeights ? core.getBaseWeights() : core.getWeights()),
    setWeights: (weights) => core.setWeights(weights),
    memory: () => core.memory(),
  };
}
