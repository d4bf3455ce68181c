import { type GPT2Config, innerDim } from '../../arch/config.js';
import { initWeights } from '../../arch/init.js';
import { numel } from '../../arch/layout.js';
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
import type { NativeAddon, RawCore } from './addon.js';
import { checkBatch, checkLabeledBatch } from './batch.js';
import { adamwArgs, CallQueue, checkDecodeLength, hostLogits } from './common.js';
import { NativeDecodeSession } from './decode.js';
import { FlatLayout } from './tensors.js';

/** GPT-2 on the native C++ CPU core (native/src): explicit kernels, contiguous buffers, OpenMP. */
export class NativeCore implements TransformerCore {
  readonly info: CoreInfo = { implementation: 'native', backend: 'native-cpu', device: 'cpu' };
  private readonly layout: FlatLayout;
  private readonly raw: RawCore;
  private readonly queue = new CallQueue();
  private readonly sessions = new Set<NativeDecodeSession>();
  private optStep = 0;
  private disposed = false;

  private constructor(
    readonly config: GPT2Config,
    addon: NativeAddon,
  ) {
    this.layout = new FlatLayout(config);
    this.raw = new addon.NativeCore({
      V: config.vocab_size,
      maxT: config.n_positions,
      C: config.n_embd,
      L: config.n_layer,
      NH: config.n_head,
      F: innerDim(config),
      eps: config.layer_norm_epsilon,
    });
    const sizes = this.raw.paramSizes();
    const expected = this.layout.specs.map((s) => numel(s.shape));
    if (sizes.join(',') !== expected.join(',')) {
      this.raw.dispose();
      throw new BackendUnavailableError('native-cpu', 'native addon parameter layout differs from src/arch/layout.ts; rebuild the addon');
    }
  }

  static async create(
    config: GPT2Config,
    addon: NativeAddon,
    init: { weights?: NamedTensors; seed?: number } = {},
  ): Promise<NativeCore> {
    const core = new NativeCore(config, addon);
    await core.setWeights(init.weights ?? initWeights(config, init.seed ?? 0));
    return core;
  }

  private live(): RawCore {
    if (this.disposed) throw new BackendUnavailableError('native-cpu', 'this native core was disposed');
    return this.raw;
  }

  async forward(batch: TokenBatch, options: ForwardOptions = {}): Promise<ForwardResult> {
    checkBatch(batch, this.config);
    const { batchSize: B, seqLen: T } = batch;
    const logits = new Float32Array(B * T * this.config.vocab_size);
    const hidden = await this.queue.run(() =>
      this.live().forward(batch.inputIds, batch.attentionMask ?? null, batch.positionIds ?? null, B, T, logits, !!options.outputHiddenStates),
    );
    const result: ForwardResult = { logits: hostLogits([B, T, this.config.vocab_size], logits) };
    if (hidden) result.hiddenStates = hidden;
    return result;
  }

  private async runLoss(batch: LabeledBatch, backward: boolean, scale: number): Promise<LossResult> {
    checkLabeledBatch(batch, this.config);
    const { batchSize: B, seqLen: T } = batch;
    return this.queue.run(() =>
      this.live().loss(batch.inputIds, batch.attentionMask ?? null, batch.positionIds ?? null, B, T, batch.labels, backward, scale),
    );
  }

  loss(batch: LabeledBatch): Promise<LossResult> {
    return this.runLoss(batch, false, 1);
  }

  accumulateGradients(batch: LabeledBatch, scale = 1): Promise<LossResult> {
    return this.runLoss(batch, true, scale);
  }

  async getGradients(): Promise<NamedTensors> {
    return this.queue.run(() => this.readBuffer(1));
  }

  zeroGradients(): void {
    this.live().zeroGrads();
  }

  async applyOptimizer(step: OptimizerStep): Promise<OptimizerResult> {
    return this.queue.run(async () => {
      const raw = this.live();
      const gradNorm = Math.sqrt(raw.gradSqNorm());
      const t = this.optStep + 1;
      const args = adamwArgs(gradNorm, step, t, () => raw.zeroGrads());
      await raw.adamw(...args);
      const clipCoef = args[5];
      this.optStep = t;
      return { gradNorm, clipCoef, step: t };
    });
  }

  trainStep(batch: LabeledBatch, step: OptimizerStep): Promise<TrainStepResult> {
    return composeTrainStep(this, batch, step, () => this.optStep + 1);
  }

  async getOptimizerState(): Promise<OptimizerState> {
    return this.queue.run(() => ({ step: this.optStep, m: this.readBuffer(2), v: this.readBuffer(3) }));
  }

  async setOptimizerState(state: OptimizerState): Promise<void> {
    if (!Number.isInteger(state.step) || state.step < 0) throw new ShapeError(`optimizer state: step ${state.step} is not a non-negative integer`);
    const m = this.layout.pack(state.m, 'optimizer state m');
    const v = this.layout.pack(state.v, 'optimizer state v');
    await this.queue.run(() => {
      const raw = this.live();
      raw.setBuffer(2, m);
      raw.setBuffer(3, v);
      this.optStep = state.step;
    });
  }

  async getWeights(): Promise<NamedTensors> {
    return this.queue.run(() => this.readBuffer(0));
  }

  async setWeights(weights: NamedTensors): Promise<void> {
    const flat = this.layout.pack(weights, 'setWeights');
    await this.queue.run(() => this.live().setBuffer(0, flat));
  }

  private readBuffer(which: 0 | 1 | 2 | 3): NamedTensors {
    const flat = new Float32Array(this.layout.total);
    this.live().getBuffer(which, flat);
    return this.layout.unpack(flat);
  }

  async startDecode(prompt: TokenBatch, options: { maxLength: number }): Promise<DecodeSession> {
    checkBatch(prompt, this.config, 'decode prompt');
    const maxLength = options.maxLength;
    checkDecodeLength(maxLength, prompt.seqLen);
    const session = new NativeDecodeSession(this.live(), this.queue, this.config, prompt.batchSize, maxLength, (s) =>
      this.sessions.delete(s),
    );
    this.sessions.add(session);
    try {
      await session.prefill(prompt);
    } catch (e) {
      session.dispose();
      throw e;
    }
    return session;
  }

  memory(): CoreMemory {
    if (this.disposed) return { bytes: 0 };
    let bytes = this.raw.bytes();
    for (const s of this.sessions) bytes += s.bytes();
    return { bytes };
  }

  dispose(): void {
    if (this.disposed) return;
    for (const s of [...this.sessions]) s.dispose();
    this.disposed = true;
    this.raw.dispose();
  }
}
