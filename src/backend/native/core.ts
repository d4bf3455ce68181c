import { archDims, type ModelConfig } from '../../arch/config.js';
import { nativeLayoutTable, numel } from '../../arch/layout.js';
import { initWeights, initWeightStream } from '../../arch/init.js';
import { initLoraWeights, loraLayout, type LoraSpec, resolveLora } from '../../arch/lora.js';
import { BackendUnavailableError, ModelConfigError, ShapeError } from '../../errors.js';
import {
  type CoreInfo,
  type AdapterInit,
  type CoreInit,
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
import { noBaseToShare, withAdapterWeights } from '../adapter-share.js';
import { composeTrainStep } from '../training.js';
import { coreDisposeGuard, type DisposeGuard, validateBatch, validateDecodeLength, validateLabeledBatch } from '../validation.js';
import { overChunks } from '../microbatch.js';
import { adamwArgs, CallQueue, hostLogits } from './common.js';
import { NativeDecodeSession } from './decode.js';
import { type CoreAddon, type CoreBuffers, hasFeature, type NativePrecision, PRECISION_CODE, type RawCore, type RawCoreConfig } from './rawCore.js';
import { FlatLayout } from './tensors.js';

export interface NativeCoreOptions extends CoreInit {
  /** Matmul precision; the CPU addon has only `fp32` (the default). */
  precision?: NativePrecision;
}

/**
 * CoreInit.activationBudgetBytes by default. Qwen3-0.6B at 4 x 512 then holds two rows' activations (1.8 GB) instead
 * of four (3.6 GB). Smaller chunks cost speed (each product repacks its weight for fewer rows: one row a chunk made
 * that case's LoRA step 7.6% slower), hence 2 GiB. Only where the addon can estimate its plan (the CPU addon:
 * estimateBytes); the CUDA addon never splits.
 */
export const DEFAULT_ACTIVATION_BUDGET = 2 * 2 ** 30;

/** The addons' view of a model (and of its LoRA adapters): the shape in the addons' names and the layout tables. */
export function rawCoreConfig(config: ModelConfig, lora?: LoraSpec): RawCoreConfig {
  const d = archDims(config);
  return {
    arch: d.arch,
    vocab: d.vocab,
    maxT: d.maxPositions,
    C: d.hidden,
    L: d.layers,
    NH: d.heads,
    NKV: d.kvHeads,
    HD: d.headDim,
    F: d.inner,
    eps: d.eps,
    ropeTheta: d.ropeTheta,
    qkNorm: d.qkNorm,
    qkvBias: d.qkvBias,
    oBias: d.oBias,
    tied: d.tied,
    tensors: nativeLayoutTable(config),
    lora: lora
      ? { r: lora.r, alpha: lora.alpha, tensors: loraLayout(config, lora).map((s) => ({ role: s.role, layer: s.layer, numel: numel(s.shape), decay: s.decay })) }
      : null,
  };
}

/**
 * The most rows (at least 1) of a B x T batch whose activations fit `budget` bytes, by the addon's own plan: what a
 * NativeCore's loss and training calls run per micro-batch.
 */
export function microBatchRows(estimate: NonNullable<CoreAddon['estimateBytes']>, raw: RawCoreConfig, B: number, T: number, budget: number): number {
  // estimateBytes counts buffers + activations + head chunk; at 1 x 1 it is (almost) the buffers alone.
  const fixed = estimate(raw, 1, 1);
  let rows = 1;
  while (rows < B && estimate(raw, rows + 1, T) - fixed <= budget) rows++;
  return rows;
}

/** How each addon's core is named to users: backend id, and the core and addon in error messages. */
const DEVICE_NAMES = {
  cpu: { backend: 'native-cpu', core: 'native CPU core', addon: 'native addon' },
  cuda: { backend: 'native-cuda', core: 'CUDA core', addon: 'CUDA addon' },
} as const;

/**
 * A transformer (GPT-2 or the Llama family) on a native addon: the C++ CPU core (native/src; explicit kernels,
 * OpenMP) or the CUDA core (native/cuda; the same kernel list on one NVIDIA GPU). Both addons implement RawCore
 * (rawCore.ts) over one contiguous buffer per parameter-shaped tensor in paramLayout order, so this one class drives
 * either. With `lora` (CPU addon: feature `lora`) the trainable buffers hold the adapters of loraLayout and the
 * base is frozen in the addon's `base` buffer, which withAdapter (CPU addon: feature `loraShare`) shares with further
 * LoRA cores: the addon holds it by reference count (native/src/core.h SharedBase), so no JS object has to outlive
 * its core for the base to stay alive.
 */
export class NativeCore implements TransformerCore {
  readonly info: CoreInfo;
  readonly precision: NativePrecision;
  readonly lora?: LoraSpec;
  /** The base weights' layout (paramLayout). */
  private readonly baseLayout: FlatLayout;
  /** The trainable buffers' layout: the base's, or the adapters' (loraLayout) on a LoRA core. */
  private readonly layout: FlatLayout;
  private readonly raw: RawCore;
  private readonly rawConfig: RawCoreConfig;
  private readonly offsetWrites: boolean;
  private readonly queue = new CallQueue();
  private readonly sessions = new Set<NativeDecodeSession>();
  private readonly guard: DisposeGuard;
  private optStep = 0;
  /** Rows per micro-batch for a B x T loss call, by `${B}x${T}` (microbatch.ts). */
  private readonly chunkRows = new Map<string, number>();
  /**
   * A second LoRA core over this core's base (TransformerCore.withAdapter); only where the addon has `loraShare`
   * (absent on the CUDA core, which has no LoRA, and on an addon built before it: callers refuse then).
   */
  readonly withAdapter?: (init: AdapterInit) => Promise<NativeCore>;

  private constructor(
    readonly config: ModelConfig,
    private readonly addon: CoreAddon,
    precision: NativePrecision,
    lora: LoraSpec | undefined,
    private readonly activationBudget: number,
    /** The raw core whose base this one shares (withAdapter). */
    shareBaseOf?: RawCore,
  ) {
    const names = DEVICE_NAMES[addon.device];
    this.info = { implementation: 'native', backend: names.backend, device: addon.device };
    this.guard = coreDisposeGuard(this.info);
    this.precision = precision;
    if (lora && !hasFeature(addon, 'lora')) {
      throw new BackendUnavailableError(
        names.backend,
        `LoRA adapters are not implemented in the ${names.core}; train them on the native CPU core or tfjs (selectBackend('cpu')), or fine-tune without lora`,
      );
    }
    if (lora) this.lora = lora;
    this.baseLayout = FlatLayout.of(config);
    this.layout = lora ? new FlatLayout(loraLayout(config, lora)) : this.baseLayout;
    this.offsetWrites = hasFeature(addon, 'offsetWrites');
    this.rawConfig = rawCoreConfig(config, lora);
    try {
      const raw = this.rawConfig;
      this.raw = shareBaseOf ? new addon.GptCore(raw, PRECISION_CODE[precision], shareBaseOf) : new addon.GptCore(raw, PRECISION_CODE[precision]);
    } catch (cause) {
      throw new BackendUnavailableError(names.backend, `could not create the ${names.core}: ${(cause as Error).message}`, { cause });
    }
    if (this.raw.numParams() !== this.layout.total) {
      this.raw.dispose();
      throw new BackendUnavailableError(names.backend, `${names.addon} parameter count differs from src/arch/${lora ? 'lora' : 'layout'}.ts; rebuild it`);
    }
    if (hasFeature(addon, 'loraShare')) this.withAdapter = (init) => this.adapterCore(init);
  }

  /** withAdapter: a LoRA core on the same addon reading this core's base buffer, with its own adapters. */
  private async adapterCore(init: AdapterInit): Promise<NativeCore> {
    this.guard.check();
    if (!this.lora) throw noBaseToShare();
    const given = init.lora.spec;
    const lora = resolveLora(this.config, { r: given.r, alpha: given.alpha, targets: [...given.targets] as [string, ...string[]] }, 'lora.spec');
    // In this core's queue: after whatever this core still has to do (its base is written by then).
    const core = await this.queue.run(() => new NativeCore(this.config, this.addon, this.precision, lora, this.activationBudget, this.live()));
    return withAdapterWeights(core, this.config, lora, init);
  }

  /**
   * A core on `addon` with `weights`, or a fresh init from `seed`; with `lora`, adapters over that frozen base
   * (`lora.weights`, or PEFT's init from `seed`: B = 0, so the outputs start as the base's).
   */
  static async create(config: ModelConfig, addon: CoreAddon, init: NativeCoreOptions = {}): Promise<NativeCore> {
    const seed = init.seed ?? 0;
    const budget = init.activationBudgetBytes ?? DEFAULT_ACTIVATION_BUDGET;
    if (!(budget > 0)) throw new ShapeError(`activationBudgetBytes must be a positive number of bytes (Infinity: never split a batch), got ${budget}`);
    const core = new NativeCore(config, addon, init.precision ?? 'fp32', init.lora?.spec, budget);
    try {
      const baseBuffer = init.lora ? 'base' : 'params';
      if (init.weights) {
        const weights = init.weights;
        await core.queue.run(() => core.write(baseBuffer, core.baseLayout, weights, init.lora ? 'base weights' : 'setWeights'));
      } else {
        await core.queue.run(() => core.writeInit(baseBuffer, seed));
      }
      if (init.lora) await core.setWeights(init.lora.weights ?? initLoraWeights(config, init.lora.spec, seed));
    } catch (e) {
      core.dispose();
      throw e;
    }
    return core;
  }

  /**
   * Writes `tensors` (checked against `layout` first) into the addon's `buffer`: one tensor at a time where the
   * addon writes at offsets (no second whole-model copy in memory, which at 0.6B parameters is 2.4 GB), else packed.
   */
  private write(buffer: 'params' | 'base', layout: FlatLayout, tensors: NamedTensors, what: string): void {
    const raw = this.live();
    if (!this.offsetWrites) {
      raw.writeBuffers({ [buffer]: layout.pack(tensors, what) } as Partial<CoreBuffers>);
      return;
    }
    layout.select(tensors, what).forEach((t, i) => raw.writeBuffers({ [buffer]: t.data } as Partial<CoreBuffers>, layout.offsets[i]));
  }

  /**
   * The seeded init (initWeights) into `buffer`, generated and written one tensor at a time where the addon writes
   * at offsets, so the process never holds a whole JS copy of the model beside the core's (the creation peak of a
   * 0.6B model was that copy: 2.2 GiB).
   */
  private writeInit(buffer: 'params' | 'base', seed: number): void {
    if (!this.offsetWrites) {
      this.write(buffer, this.baseLayout, initWeights(this.config, seed), 'init weights');
      return;
    }
    const raw = this.live();
    let i = 0;
    for (const [name, t] of initWeightStream(this.config, seed)) {
      // initWeightStream walks paramLayout, as baseLayout does; a mismatch is a bug in arch/, not bad input.
      if (this.baseLayout.specs[i]?.name !== name) throw new Error(`initWeightStream and paramLayout disagree at ${name}`);
      raw.writeBuffers({ [buffer]: t.data } as Partial<CoreBuffers>, this.baseLayout.offsets[i]);
      i++;
    }
  }

  private live(): RawCore {
    this.guard.check();
    return this.raw;
  }

  async forward(batch: TokenBatch, options: ForwardOptions = {}): Promise<ForwardResult> {
    validateBatch(this.config, batch);
    const { batchSize: B, seqLen: T } = batch;
    const V = this.config.vocab_size;
    const logits = new Float32Array(B * T * V);
    const hidden = await this.queue.run(() =>
      this.live().forward(batch.inputIds, batch.attentionMask ?? null, batch.positionIds ?? null, B, T, logits, !!options.outputHiddenStates),
    );
    const result: ForwardResult = { logits: hostLogits([B, T, V], logits) };
    if (hidden) result.hiddenStates = hidden;
    return result;
  }

  private async runLoss(batch: LabeledBatch, backward: boolean, scale: number): Promise<LossResult> {
    validateLabeledBatch(this.config, batch);
    const rows = this.rowsPerChunk(batch.batchSize, batch.seqLen);
    // One queue task for every chunk, so no other call lands between the chunks of one batch.
    return this.queue.run(() =>
      overChunks(batch, rows, async (c, share) =>
        this.live().loss(c.inputIds, c.attentionMask ?? null, c.positionIds ?? null, c.batchSize, c.seqLen, c.labels, backward, scale * share),
      ),
    );
  }

  /** The most rows of a B x T batch whose activations fit activationBudget (at least 1; B where nothing is known). */
  private rowsPerChunk(B: number, T: number): number {
    const estimate = this.addon.estimateBytes;
    if (B === 1 || !Number.isFinite(this.activationBudget) || !estimate) return B;
    const key = `${B}x${T}`;
    let rows = this.chunkRows.get(key);
    if (rows === undefined) {
      rows = microBatchRows(estimate, this.rawConfig, B, T, this.activationBudget);
      this.chunkRows.set(key, rows);
    }
    return rows;
  }

  loss(batch: LabeledBatch): Promise<LossResult> {
    return this.runLoss(batch, false, 1);
  }

  accumulateGradients(batch: LabeledBatch, scale = 1): Promise<LossResult> {
    return this.runLoss(batch, true, scale);
  }

  getGradients(): Promise<NamedTensors> {
    return this.queue.run(() => {
      const grads = new Float32Array(this.layout.total);
      this.live().readBuffers({ grads });
      return this.layout.unpack(grads);
    });
  }

  zeroGradients(): void {
    this.live().zeroGrads();
  }

  applyOptimizer(step: OptimizerStep): Promise<OptimizerResult> {
    return this.queue.run(async () => {
      const raw = this.live();
      const gradNorm = raw.gradNorm();
      const t = this.optStep + 1;
      const args = adamwArgs(gradNorm, step, t, () => raw.zeroGrads());
      await raw.adamw(...args);
      this.optStep = t;
      return { gradNorm, clipCoef: args[5], step: t };
    });
  }

  trainStep(batch: LabeledBatch, step: OptimizerStep): Promise<TrainStepResult> {
    return composeTrainStep(this, batch, step, () => this.optStep + 1);
  }

  getOptimizerState(): Promise<OptimizerState> {
    return this.queue.run(() => {
      const m = new Float32Array(this.layout.total);
      const v = new Float32Array(this.layout.total);
      this.live().readBuffers({ m, v });
      return { step: this.optStep, m: this.layout.unpack(m), v: this.layout.unpack(v) };
    });
  }

  async setOptimizerState(state: OptimizerState): Promise<void> {
    if (!Number.isInteger(state.step) || state.step < 0) throw new ShapeError(`optimizer state: step ${state.step} is not a non-negative integer`);
    const m = this.layout.pack(state.m, 'optimizer state m');
    const v = this.layout.pack(state.v, 'optimizer state v');
    await this.queue.run(() => {
      this.live().writeBuffers({ m, v });
      this.optStep = state.step;
    });
  }

  /** The trainable weights: every base weight, or on a LoRA core the adapters alone. */
  getWeights(): Promise<NamedTensors> {
    return this.queue.run(() => {
      const params = new Float32Array(this.layout.total);
      this.live().readBuffers({ params });
      return this.layout.unpack(params);
    });
  }

  /** The frozen base of a LoRA core (never merged with the adapters); a plain core's weights. */
  getBaseWeights(): Promise<NamedTensors> {
    if (!this.lora) return this.getWeights();
    return this.queue.run(() => {
      const base = new Float32Array(this.baseLayout.total);
      this.live().readBuffers({ base });
      return this.baseLayout.unpack(base);
    });
  }

  /** Sets the trainable weights (on a LoRA core: every adapter tensor of loraLayout). */
  async setWeights(weights: NamedTensors): Promise<void> {
    this.layout.select(weights, 'setWeights');
    await this.queue.run(() => this.write('params', this.layout, weights, 'setWeights'));
  }

  async startDecode(prompt: TokenBatch, options: { maxLength: number }): Promise<DecodeSession> {
    validateBatch(this.config, prompt, 'decode prompt');
    const maxLength = options.maxLength;
    validateDecodeLength(maxLength, prompt.seqLen);
    const { batchSize: B, seqLen: T } = prompt;
    const logits = new Float32Array(B * this.config.vocab_size);
    const id = await this.queue.run(() =>
      this.live().decodeStart(prompt.inputIds, prompt.attentionMask ?? null, prompt.positionIds ?? null, B, T, maxLength, logits),
    );
    this.guard.check(); // disposed while the prompt ran: its session went with the core
    const session = new NativeDecodeSession(this.raw, this.queue, this.config, { id, batchSize: B, length: T, maxLength, logits }, (s) =>
      this.sessions.delete(s),
    );
    this.sessions.add(session);
    return session;
  }

  /**
   * Bytes held by this core: weights, grads, AdamW state, activations and every open KV cache; a base shared by
   * withAdapter counts in one of its cores only (the longest-lived one still alive), so the figures add up.
   */
  memory(): CoreMemory {
    return { bytes: this.guard.isDisposed ? 0 : this.raw.bytes() };
  }

  dispose(): void {
    if (!this.guard.dispose()) return;
    for (const s of [...this.sessions]) s.dispose();
    this.raw.dispose();
  }
}
