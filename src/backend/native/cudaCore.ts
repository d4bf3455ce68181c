import { type GPT2Config, innerDim } from '../../arch/config.js';
import { initWeights } from '../../arch/init.js';
import { BackendUnavailableError, ShapeError } from '../../errors.js';
import {
  type CoreInfo,
  type CoreMemory,
  type DecodeSession,
  type ForwardOptions,
  type ForwardResult,
  type LabeledBatch,
  type LossResult,
  type NamedTensors,
  type OptimizerResult,
  type OptimizerState,
  type OptimizerStep,
  type TokenBatch,
  type TrainStepResult,
  type TransformerCore,
} from '../types.js';
import { composeTrainStep } from '../training.js';
import { checkBatch, checkLabeledBatch } from './batch.js';
import { adamwArgs, CallQueue, checkDecodeLength, hostLogits } from './common.js';
import { CUDA_PRECISION_CODE, type CudaAddon, type CudaPrecision, type RawCudaGpt } from './cudaAddon.js';
import { CudaDecodeSession } from './cudaDecode.js';
import { FlatLayout } from './tensors.js';

export type { CudaPrecision } from './cudaAddon.js';

export interface NativeCudaCoreOptions {
  weights?: NamedTensors;
  seed?: number;
  precision?: CudaPrecision;
}

/** GPT-2 on one NVIDIA GPU (native/cuda): the CUDA twin of NativeCore, same kernel list and buffer layout. */
export class NativeCudaCore implements TransformerCore {
  readonly info: CoreInfo = { implementation: 'native', backend: 'native-cuda', device: 'cuda' };
  readonly precision: CudaPrecision;
  private readonly layout: FlatLayout;
  private readonly raw: RawCudaGpt;
  private readonly queue = new CallQueue();
  private readonly sessions = new Set<CudaDecodeSession>();
  private optStep = 0;
  private disposed = false;

  private constructor(
    readonly config: GPT2Config,
    addon: CudaAddon,
    precision: CudaPrecision,
  ) {
    this.precision = precision;
    this.layout = new FlatLayout(config);
    try {
      this.raw = new addon.CudaGpt(
        {
          vocab: config.vocab_size,
          maxT: config.n_positions,
          C: config.n_embd,
          L: config.n_layer,
          NH: config.n_head,
          F: innerDim(config),
          eps: config.layer_norm_epsilon,
        },
        CUDA_PRECISION_CODE[precision],
      );
    } catch (cause) {
      throw new BackendUnavailableError('native-cuda', `could not create the CUDA core: ${(cause as Error).message}`, { cause });
    }
    if (this.raw.numParams() !== this.layout.total) {
      this.raw.dispose();
      throw new BackendUnavailableError('native-cuda', 'CUDA addon parameter count differs from src/arch/layout.ts; rebuild it');
    }
  }

  static async create(config: GPT2Config, addon: CudaAddon, init: NativeCudaCoreOptions = {}): Promise<NativeCudaCore> {
    const core = new NativeCudaCore(config, addon, init.precision ?? 'fp32');
    await core.setWeights(init.weights ?? initWeights(config, init.seed ?? 0));
    return core;
  }

  private live(): RawCudaGpt {
    if (this.disposed) throw new BackendUnavailableError('native-cuda', 'this CUDA core was disposed');
    return this.raw;
  }

  async forward(batch: TokenBatch, options: ForwardOptions = {}): Promise<ForwardResult> {
    checkBatch(batch, this.config);
    const { batchSize: B, seqLen: T } = batch;
    const V = this.config.vocab_size;
    const nHidden = options.outputHiddenStates ? this.config.n_layer + 1 : 0;
    const out = await this.queue.run(() =>
      this.live().forward(batch.inputIds, B, T, batch.attentionMask ?? null, batch.positionIds ?? null, true, nHidden, B * T * V, this.config.n_embd),
    );
    const result: ForwardResult = { logits: hostLogits([B, T, V], out.logits) };
    if (out.hidden) result.hiddenStates = out.hidden;
    return result;
  }

  private runLoss(batch: LabeledBatch, backward: boolean, scale: number): Promise<LossResult> {
    checkLabeledBatch(batch, this.config);
    const { batchSize: B, seqLen: T } = batch;
    return this.queue.run(() =>
      this.live().loss(batch.inputIds, B, T, batch.attentionMask ?? null, batch.positionIds ?? null, batch.labels, backward, scale),
    );
  }

  loss(batch: LabeledBatch): Promise<LossResult> {
    return this.runLoss(batch, false, 1);
  }

  accumulateGradients(batch: LabeledBatch, scale = 1): Promise<LossResult> {
    return this.runLoss(batch, true, scale);
  }

  getGradients(): Promise<NamedTensors> {
    return this.queue.run(() => this.layout.unpack(this.live().getGrads()));
  }

  zeroGradients(): void {
    this.live().zeroGrads();
  }

  applyOptimizer(step: OptimizerStep): Promise<OptimizerResult> {
    return this.queue.run(() => {
      const raw = this.live();
      const gradNorm = raw.gradNorm();
      const t = this.optStep + 1;
      const args = adamwArgs(gradNorm, step, t, () => raw.zeroGrads());
      raw.adamw(...args);
      const clipCoef = args[5];
      raw.zeroGrads();
      this.optStep = t;
      return { gradNorm, clipCoef, step: t };
    });
  }

  trainStep(batch: LabeledBatch, step: OptimizerStep): Promise<TrainStepResult> {
    return composeTrainStep(this, batch, step, () => this.optStep + 1);
  }

  getOptimizerState(): Promise<OptimizerState> {
    return this.queue.run(() => {
      const [m, v] = this.live().getAdam();
      return { step: this.optStep, m: this.layout.unpack(m), v: this.layout.unpack(v) };
    });
  }

  async setOptimizerState(state: OptimizerState): Promise<void> {
    if (!Number.isInteger(state.step) || state.step < 0) throw new ShapeError(`optimizer state: step ${state.step} is not a non-negative integer`);
    const m = this.layout.pack(state.m, 'optimizer state m');
    const v = this.layout.pack(state.v, 'optimizer state v');
    await this.queue.run(() => {
      this.live().setAdam(m, v);
      this.optStep = state.step;
    });
  }

  getWeights(): Promise<NamedTensors> {
    return this.queue.run(() => this.layout.unpack(this.live().getParams()));
  }

  async setWeights(weights: NamedTensors): Promise<void> {
    const flat = this.layout.pack(weights, 'setWeights');
    await this.queue.run(() => this.live().setParams(flat));
  }

  async startDecode(prompt: TokenBatch, options: { maxLength: number }): Promise<DecodeSession> {
    checkBatch(prompt, this.config, 'decode prompt');
    const maxLength = options.maxLength;
    checkDecodeLength(maxLength, prompt.seqLen);
    const raw = this.live();
    const { batchSize: B, seqLen: T } = prompt;
    const started = await this.queue.run(() =>
      raw.decodeStart(prompt.inputIds, B, T, prompt.attentionMask ?? null, prompt.positionIds ?? null, maxLength, this.config.vocab_size),
    );
    const session = new CudaDecodeSession(raw, this.queue, this.config, B, T, maxLength, started, (s) => this.sessions.delete(s));
    this.sessions.add(session);
    return session;
  }

  /** Device bytes held by this core: weights, grads, AdamW state, activations and every open KV cache. */
  memory(): CoreMemory {
    return { bytes: this.disposed ? 0 : this.raw.memoryBytes() };
  }

  dispose(): void {
    if (this.disposed) return;
    for (const s of [...this.sessions]) s.dispose();
    this.disposed = true;
    this.raw.dispose();
  }
}
