import { isGPT2Config, type ModelConfig } from '../../arch/config.js';
import { initWeights } from '../../arch/init.js';
import { numel, paramLayout, type ParamSpec } from '../../arch/layout.js';
import { initLoraWeights, loraLayout, type LoraSpec, resolveLora } from '../../arch/lora.js';
import { ModelConfigError, NonFiniteLossError, ShapeError } from '../../errors.js';
import type {
  CoreInfo,
  AdapterInit,
  CoreInit,
  CoreMemory,
  DecodeSession,
  ForwardOptions,
  ForwardResult,
  LabeledBatch,
  LossResult,
  NamedTensors,
  OptimizerResult,
  OptimizerState,
  OptimizerStep,
  TokenBatch,
  TrainStepResult,
  TransformerCore,
} from '../types.js';
import { noBaseToShare, withAdapterWeights } from '../adapter-share.js';
import { clipCoefficient, composeTrainStep } from '../training.js';
import { ADAMW_DEFAULTS } from '../types.js';
import { coreDisposeGuard, type DisposeGuard, validateBatch, validateLabeledBatch } from '../validation.js';
import { trunkInput } from './batch.js';
import { TfjsDecodeSession } from './decode.js';
import { gpt2Trunk } from './gpt2.js';
import { headLoss, shiftTargets } from './head.js';
import { llamaTrunk } from './llama.js';
import { trunkLora } from './lora.js';
import { adamwUpdate, globalNorm } from './optimizer.js';
import { type TfjsBackendName, initTfjsBackend, tf, useBackend } from './runtime.js';
import { SharedBase } from './sharedBase.js';
import type { ParamTensors, TfjsTrunk } from './trunk.js';

export interface TfjsCoreOptions {
  backend: TfjsBackendName;
  weights?: NamedTensors;
  seed?: number;
  /** LoRA adapters over a frozen base (`weights`); see TransformerCore.lora. */
  lora?: CoreInit['lora'];
}

const INFO: Record<TfjsBackendName, CoreInfo> = {
  cpu: { implementation: 'tfjs', backend: 'tfjs-cpu', device: 'cpu' },
  wasm: { implementation: 'tfjs', backend: 'tfjs-wasm', device: 'wasm' },
  tensorflow: { implementation: 'tfjs', backend: 'tfjs-node-gpu', device: 'cuda' },
};

/**
 * Build a tfjs core on `backend` with `weights`, or a seeded init (GPT-2 or the Llama family). With `lora`, those
 * weights are the frozen base and the core trains the adapters (options.lora.weights, or PEFT's seeded init).
 */
export async function createTfjsCore(config: ModelConfig, options: TfjsCoreOptions): Promise<TfjsCore> {
  await initTfjsBackend(options.backend);
  const seed = options.seed ?? 0;
  const lora = options.lora && checkedLora(config, options.lora.spec);
  const core = new TfjsCore(config, options.backend, lora);
  try {
    const weights = options.weights ?? initWeights(config, seed);
    if (lora) {
      await core.setBaseWeights(weights);
      await core.setWeights(options.lora!.weights ?? initLoraWeights(config, lora, seed));
    } else {
      await core.setWeights(weights);
    }
  } catch (e) {
    core.dispose();
    throw e;
  }
  return core;
}

/** Re-validated: a hand-made spec with an unknown target would otherwise adapt nothing, silently. */
function checkedLora(config: ModelConfig, given: LoraSpec): LoraSpec {
  return resolveLora(config, { r: given.r, alpha: given.alpha, targets: [...given.targets] as [string, ...string[]] }, 'lora.spec');
}

/** A set of device tensors: their layout specs, and which of them live transposed on the device. */
interface Layout {
  readonly specs: readonly ParamSpec[];
  readonly transposed: ReadonlySet<string>;
}

/**
 * GPT-2 or a Llama-family model on tfjs-core with a hand-written backward pass: the architecture's trunk
 * (gpt2.ts, llama.ts) behind one class that owns the head, the gradients, AdamW and decoding. tfjs has one active
 * backend per process, so every async entry point re-activates this core's backend first.
 *
 * With LoRA, `params` holds the adapters (the trainable set: gradients, moments, get/setWeights) and `base` the
 * frozen base, which withAdapter shares with further LoRA cores (sharedBase.ts); the trunk sees both. Adapters live
 * on the device as A^T [in, r] and B^T [r, out] (see lora.ts).
 */
export class TfjsCore implements TransformerCore {
  readonly info: CoreInfo;
  readonly lora?: LoraSpec;
  /** The trainable tensors: every parameter, or the adapters of a LoRA core. */
  private readonly trainable: Layout;
  private readonly baseLayout: Layout;
  private readonly trunk: TfjsTrunk;
  private params: ParamTensors = new Map();
  /** A LoRA core's base weights, never updated, maybe shared with other cores; null on a plain core (its base is `params`). */
  private base: SharedBase | null = null;
  private grads: Map<string, tf.Tensor> | null = null;
  private moments: { m: Map<string, tf.Tensor>; v: Map<string, tf.Tensor> } | null = null;
  private step = 0;
  private readonly sessions = new Set<TfjsDecodeSession>();
  private readonly guard: DisposeGuard;
  /**
   * A plain core's head weight transposed [C, V], cached between weight updates: every head matmul wants this layout
   * (see matMul2d). A LoRA core's head is frozen, so its SharedBase caches it once for every core over that base.
   */
  private wteTransposed: tf.Tensor2D | null = null;

  constructor(
    readonly config: ModelConfig,
    private readonly backend: TfjsBackendName,
    lora?: LoraSpec,
  ) {
    this.info = INFO[backend];
    this.guard = coreDisposeGuard(this.info);
    const adapters = lora && trunkLora(config, lora);
    this.trunk = isGPT2Config(config) ? gpt2Trunk(config, adapters) : llamaTrunk(config, adapters);
    this.baseLayout = { specs: paramLayout(config), transposed: this.trunk.storedTransposed };
    if (lora) {
      this.lora = lora;
      const specs = loraLayout(config, lora);
      this.trainable = { specs, transposed: new Set(specs.map((s) => s.name)) };
    } else {
      this.trainable = this.baseLayout;
    }
  }

  /** What the trunk reads: the parameters, plus the frozen base of a LoRA core. Rebuilt per call (params change). */
  private trunkParams(): ParamTensors {
    return this.base ? new Map([...this.base.tensors, ...this.params]) : this.params;
  }

  private async ready(): Promise<void> {
    this.guard.check();
    await useBackend(this.backend);
  }

  async forward(batch: TokenBatch, options: ForwardOptions = {}): Promise<ForwardResult> {
    await this.ready();
    validateBatch(this.config, batch);
    const { batchSize: B, seqLen: T } = batch;
    const [logits, ...hidden] = tf.tidy(() => {
      const out = this.trunk.forward(this.trunkParams(), trunkInput(batch), { hiddenStates: options.outputHiddenStates });
      const l = tf.reshape(tf.matMul(out.hidden, this.headT()), [B, T, this.config.vocab_size]);
      return [l, ...(out.hiddenStates ?? [])];
    });
    const result: ForwardResult = {
      logits: { shape: logits!.shape, data: async () => (await logits!.data()) as Float32Array, dispose: () => logits!.dispose() },
    };
    if (options.outputHiddenStates) {
      result.hiddenStates = await Promise.all(hidden.map(async (h) => (await h.data()) as Float32Array));
      tf.dispose(hidden);
    }
    return result;
  }

  async loss(batch: LabeledBatch): Promise<LossResult> {
    await this.ready();
    validateLabeledBatch(this.config, batch);
    const { rows, targets } = shiftTargets(batch.labels, batch.batchSize, batch.seqLen);
    if (rows.length === 0) return { loss: Number.NaN, tokens: 0 };
    const sum = tf.tidy(() => {
      const out = this.trunk.forward(this.trunkParams(), trunkInput(batch), {});
      return headLoss(out.hidden, this.headW(), this.headT(), rows, targets).lossSum;
    });
    const [s] = await sum.data();
    sum.dispose();
    return { loss: s! / rows.length, tokens: rows.length };
  }

  async accumulateGradients(batch: LabeledBatch, scale = 1): Promise<LossResult> {
    await this.ready();
    validateLabeledBatch(this.config, batch);
    const { rows, targets } = shiftTargets(batch.labels, batch.batchSize, batch.seqLen);
    if (rows.length === 0) return { loss: Number.NaN, tokens: 0 };
    const names = this.trainable.specs.map((s) => s.name);
    const old = this.grads;
    const [lossSum, ...next] = tf.tidy(() => {
      const input = trunkInput(batch);
      const params = this.trunkParams();
      const out = this.trunk.forward(params, input, { save: true });
      const head = headLoss(out.hidden, this.headW(), this.headT(), rows, targets, scale / rows.length, !this.lora);
      const g = this.trunk.backward(params, input, out.saved!, head.dHidden!);
      if (head.dWteT) {
        const h = this.trunk.headName; // tied: the head's gradient adds into the embedding's
        const dHead = tf.transpose(head.dWteT);
        g.set(h, g.has(h) ? tf.add(g.get(h)!, dHead) : dHead);
      }
      const summed = names.map((n) => (old ? tf.add(old.get(n)!, g.get(n)!) : g.get(n)!));
      return [head.lossSum, ...summed];
    });
    if (old) tf.dispose([...old.values()]);
    this.grads = new Map(names.map((n, i) => [n, next[i]!]));
    const [s] = await lossSum!.data();
    lossSum!.dispose();
    return { loss: s! / rows.length, tokens: rows.length };
  }

  async getGradients(): Promise<NamedTensors> {
    await this.ready();
    return this.download(this.grads);
  }

  zeroGradients(): void {
    if (this.grads) tf.dispose([...this.grads.values()]);
    this.grads = null;
  }

  async applyOptimizer(opt: OptimizerStep): Promise<OptimizerResult> {
    await this.ready();
    if (!this.grads) this.grads = this.zerosLikeParams();
    const norm = await globalNorm(this.grads.values());
    if (!Number.isFinite(norm)) {
      this.zeroGradients();
      throw new NonFiniteLossError(this.step + 1, norm, 'gradient norm');
    }
    await this.ready(); // another core may have switched the tfjs backend while we awaited the norm
    const clipCoef = clipCoefficient(norm, opt.maxGradNorm ?? ADAMW_DEFAULTS.maxGradNorm);
    if (!this.moments) this.moments = { m: this.zerosLikeParams(), v: this.zerosLikeParams() };
    const t = this.step + 1;
    for (const spec of this.trainable.specs) {
      const n = spec.name;
      const [p, m, v] = [this.params.get(n)!, this.moments.m.get(n)!, this.moments.v.get(n)!];
      const next = adamwUpdate(spec, p, this.grads.get(n)!, m, v, t, clipCoef, opt);
      this.params.set(n, next.p);
      this.moments.m.set(n, next.m);
      this.moments.v.set(n, next.v);
      tf.dispose([p, m, v]);
    }
    this.step = t;
    if (!this.lora) this.dropHeadT(); // a LoRA core's head is frozen
    this.zeroGradients();
    return { gradNorm: norm, clipCoef, step: t };
  }

  trainStep(batch: LabeledBatch, opt: OptimizerStep): Promise<TrainStepResult> {
    return composeTrainStep(this, batch, opt, () => this.step + 1);
  }

  async getOptimizerState(): Promise<OptimizerState> {
    await this.ready();
    return { step: this.step, m: await this.download(this.moments?.m ?? null), v: await this.download(this.moments?.v ?? null) };
  }

  async setOptimizerState(state: OptimizerState): Promise<void> {
    await this.ready();
    if (!Number.isInteger(state.step) || state.step < 0) throw new ModelConfigError(`optimizer state: step ${state.step} is not a non-negative integer`);
    const m = this.upload(state.m, 'optimizer state m', this.trainable);
    const v = this.upload(state.v, 'optimizer state v', this.trainable);
    if (this.moments) tf.dispose([...this.moments.m.values(), ...this.moments.v.values()]);
    this.moments = { m, v };
    this.step = state.step;
  }

  async getWeights(): Promise<NamedTensors> {
    await this.ready();
    return this.download(this.params);
  }

  /** The trainable set: every parameter, or a LoRA core's adapters (by loraLayout name). */
  async setWeights(weights: NamedTensors): Promise<void> {
    await this.ready();
    const next = this.upload(weights, this.lora ? 'LoRA adapter weights' : 'weights', this.trainable);
    tf.dispose([...this.params.values()]);
    if (!this.lora) this.dropHeadT();
    this.params = next;
  }

  async getBaseWeights(): Promise<NamedTensors> {
    await this.ready();
    return this.base ? this.download(this.base.tensors, this.baseLayout) : this.download(this.params);
  }

  /** A LoRA core's frozen base (createTfjsCore sets it once); refused once another core shares it. */
  async setBaseWeights(weights: NamedTensors): Promise<void> {
    await this.ready();
    if (!this.lora) throw new ModelConfigError('setBaseWeights: this core has no LoRA adapters; use setWeights');
    if (this.base && this.base.users > 1) {
      throw new ModelConfigError(`setBaseWeights: the base is shared with ${this.base.users - 1} other core(s) made by withAdapter, so it is read-only`);
    }
    const next = new SharedBase(this.upload(weights, 'base weights', this.baseLayout), this.trunk.headName);
    this.base?.release(this);
    next.acquire(this);
    this.base = next;
  }

  /**
   * A second LoRA core over this core's frozen base (see TransformerCore.withAdapter): the base tensors and the
   * head's transposed copy are shared, not copied; the new core has its own adapters, gradients, AdamW state and
   * decode sessions, on the same tfjs backend.
   */
  async withAdapter(init: AdapterInit): Promise<TfjsCore> {
    await this.ready();
    if (!this.base) throw noBaseToShare();
    const lora = checkedLora(this.config, init.lora.spec);
    const core = new TfjsCore(this.config, this.backend, lora);
    core.base = this.base;
    this.base.acquire(core);
    return withAdapterWeights(core, this.config, lora, init);
  }

  async startDecode(prompt: TokenBatch, options: { maxLength: number }): Promise<DecodeSession> {
    await this.ready();
    validateBatch(this.config, prompt, 'decode prompt');
    const session = await TfjsDecodeSession.start(
      { config: this.config, trunk: this.trunk, params: () => this.trunkParams(), headT: () => this.headT(), ready: () => this.ready(), onDispose: (s) => this.sessions.delete(s) },
      prompt,
      options.maxLength,
    );
    this.sessions.add(session);
    return session;
  }

  memory(): CoreMemory {
    const all = [
      ...(this.wteTransposed ? [this.wteTransposed] : []),
      ...this.params.values(),
      ...(this.grads?.values() ?? []),
      ...(this.moments?.m.values() ?? []),
      ...(this.moments?.v.values() ?? []),
    ];
    let bytes = all.reduce((n, t) => n + t.size * 4, 0);
    // A shared base counts once, in its longest-lived core (sharedBase.ts), so the cores' figures add up.
    if (this.base?.countedBy(this)) bytes += this.base.bytes();
    for (const s of this.sessions) bytes += s.bytes();
    return { bytes, tensors: tf.memory().numTensors };
  }

  dispose(): void {
    if (!this.guard.dispose()) return;
    for (const s of [...this.sessions]) s.dispose();
    this.zeroGradients();
    this.dropHeadT();
    tf.dispose([...this.params.values()]);
    if (this.moments) tf.dispose([...this.moments.m.values(), ...this.moments.v.values()]);
    this.base?.release(this); // frees the base if no other core shares it
    this.params.clear();
    this.base = null;
    this.moments = null;
  }

  private headT(): tf.Tensor2D {
    if (this.base) return this.base.headT();
    if (!this.wteTransposed) this.wteTransposed = tf.keep(tf.transpose(this.headW()));
    return this.wteTransposed;
  }

  private dropHeadT(): void {
    this.wteTransposed?.dispose();
    this.wteTransposed = null;
  }

  /** The head's weight [V, C]: the token embedding when tied, lm_head.weight when not (frozen on a LoRA core). */
  private headW(): tf.Tensor2D {
    return this.base ? this.base.headW() : (this.params.get(this.trunk.headName) as tf.Tensor2D);
  }

  /** Zeros shaped like the trainable set (gradients, moments): never the frozen base. */
  private zerosLikeParams(): Map<string, tf.Tensor> {
    const { specs, transposed } = this.trainable;
    return new Map(specs.map((s) => [s.name, tf.zeros(transposed.has(s.name) ? [s.shape[1]!, s.shape[0]!] : [...s.shape])]));
  }

  /** Upload every tensor of `layout` from `src` (extra names such as lm_head.weight are ignored). */
  private upload(src: NamedTensors, what: string, layout: Layout): Map<string, tf.Tensor> {
    for (const spec of layout.specs) {
      const t = src.get(spec.name);
      if (!t) throw new ModelConfigError(`${what}: parameter ${spec.name} is missing`);
      const ok = t.shape.length === spec.shape.length && t.shape.every((d, i) => d === spec.shape[i]) && t.data.length === numel(spec.shape);
      if (!ok) throw new ShapeError(`${what}: ${spec.name} has shape [${t.shape}] (${t.data.length} values), expected [${spec.shape}]`);
    }
    // Copy: the cpu backend would otherwise alias the caller's array.
    return new Map(
      layout.specs.map((s) => {
        const t = tf.tensor(src.get(s.name)!.data.slice(), s.shape as number[], 'float32');
        if (!layout.transposed.has(s.name)) return [s.name, t];
        const device = tf.transpose(t);
        t.dispose();
        return [s.name, device];
      }),
    );
  }

  /** `src` (the trainable set by default) in HF's layout; zeros for tensors it lacks (no gradients yet). */
  private async download(src: Map<string, tf.Tensor> | null, layout: Layout = this.trainable): Promise<NamedTensors> {
    // Transpose back to HF's layout before the first await: another core may switch the tfjs backend during one.
    const host = layout.specs.map((s) => {
      const t = src?.get(s.name);
      return t && layout.transposed.has(s.name) ? { t: tf.transpose(t), temp: true } : { t, temp: false };
    });
    const out: NamedTensors = new Map();
    for (const [i, spec] of layout.specs.entries()) {
      const { t, temp } = host[i]!;
      const data = t ? ((await t.data()) as Float32Array).slice() : new Float32Array(numel(spec.shape));
      if (temp) t!.dispose();
      out.set(spec.name, { shape: [...spec.shape], data });
    }
    return out;
  }
}
