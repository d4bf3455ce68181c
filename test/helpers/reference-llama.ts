import { archDims, type ModelConfig } from '../../src/arch/config.js';
import { initWeights } from '../../src/arch/init.js';
import { initLoraWeights, type LoraSpec } from '../../src/arch/lora.js';
import type { BackendReport, CoreInfo, DecodeSession, ForwardResult, NamedTensors, TokenBatch, TransformerCore } from '../../src/backend/types.js';
import { llamaReference, toFloat64 } from './llamaReference.js';

/**
 * The float64 Llama-family forward of llamaReference.ts (as HF computes it) behind the TransformerCore interface,
 * inference only: the model layer's tests (loading, generation, saving) run on it where no production core runs
 * these models. Slow and simple on purpose; its logits are checked against the HF fixture before anything else relies
 * on it. Decoding re-runs the whole sequence. With `lora` it runs PEFT's unmerged forward over a frozen base:
 * getWeights / setWeights then cover the adapter tensors, getBaseWeights the base (the adapter tests run on it).
 */
export class ReferenceLlamaCore implements TransformerCore {
  readonly info: CoreInfo = { implementation: 'tfjs', backend: 'reference-f64', device: 'cpu' };
  private weights: NamedTensors;
  private adapters: NamedTensors | undefined;
  readonly lora?: LoraSpec;

  constructor(
    readonly config: ModelConfig,
    weights: NamedTensors,
    lora?: { spec: LoraSpec; weights: NamedTensors },
  ) {
    if (archDims(config).arch !== 'llama') throw new Error('the reference core runs the Llama family only');
    this.weights = copy(weights);
    if (lora) {
      this.lora = lora.spec;
      this.adapters = copy(lora.weights);
    }
  }

  async forward(batch: TokenBatch): Promise<ForwardResult> {
    const { batchSize: B, seqLen: T } = batch;
    const out = this.logits(batch);
    return { logits: { shape: [B, T, archDims(this.config).vocab], data: async () => out, dispose: () => {} } };
  }

  async startDecode(prompt: TokenBatch): Promise<DecodeSession> {
    const { batchSize: B, seqLen: T } = prompt;
    const V = archDims(this.config).vocab;
    const rows = (a: ArrayLike<number>): number[][] => Array.from({ length: B }, (_, b) => Array.from(a).slice(b * T, (b + 1) * T));
    const ids = rows(prompt.inputIds);
    const mask = prompt.attentionMask ? rows(prompt.attentionMask) : ids.map((r) => r.map(() => 1));
    const pos = prompt.positionIds ? rows(prompt.positionIds) : ids.map((r) => r.map((_, t) => t));
    const last = (): Float32Array => {
      const len = ids[0]!.length;
      const all = this.logits({ batchSize: B, seqLen: len, inputIds: Int32Array.from(ids.flat()), attentionMask: Uint8Array.from(mask.flat()), positionIds: Int32Array.from(pos.flat()) });
      const out = new Float32Array(B * V);
      for (let b = 0; b < B; b++) out.set(all.subarray(((b + 1) * len - 1) * V, (b + 1) * len * V), b * V);
      return out;
    };
    const session = {
      batchSize: B,
      length: T,
      lastLogits: last(),
      async step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array> {
        for (let b = 0; b < B; b++) {
          ids[b]!.push(tokens[b]!);
          mask[b]!.push(1);
          pos[b]!.push(positions[b]!);
        }
        session.length++;
        session.lastLogits = last();
        return session.lastLogits;
      },
      dispose() {},
    };
    return session;
  }

  /** Logits [B * T * V] of the batch. */
  private logits(batch: TokenBatch): Float32Array {
    const adapters = this.lora && this.adapters ? { spec: this.lora, weights: toFloat64(this.adapters) } : undefined;
    return Float32Array.from(llamaReference(this.config, toFloat64(this.weights), batch, adapters).logits);
  }

  async getWeights(): Promise<NamedTensors> {
    return copy(this.adapters ?? this.weights);
  }
  async getBaseWeights(): Promise<NamedTensors> {
    return copy(this.weights);
  }
  async setWeights(weights: NamedTensors): Promise<void> {
    if (this.adapters) this.adapters = copy(weights);
    else this.weights = copy(weights);
  }
  memory() {
    return { bytes: [...this.weights.values()].reduce((n, t) => n + t.data.byteLength, 0) };
  }
  dispose(): void {}

  loss(): never {
    return inferenceOnly();
  }
  accumulateGradients(): never {
    return inferenceOnly();
  }
  getGradients(): never {
    return inferenceOnly();
  }
  zeroGradients(): never {
    return inferenceOnly();
  }
  applyOptimizer(): never {
    return inferenceOnly();
  }
  trainStep(): never {
    return inferenceOnly();
  }
  getOptimizerState(): never {
    return inferenceOnly();
  }
  setOptimizerState(): never {
    return inferenceOnly();
  }
}

function inferenceOnly(): never {
  throw new Error('the reference Llama core is inference only');
}

function copy(weights: NamedTensors): NamedTensors {
  return new Map([...weights].map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.data) }]));
}

/** A BackendReport whose cores are reference cores (weights given, or the seeded init). */
export const referenceBackend: BackendReport = {
  backend: 'reference-f64',
  implementation: 'tfjs',
  device: 'cpu',
  versions: {},
  skipped: [],
  summary: 'float64 JS reference of the Llama family (tests only)',
  createCore: async (config, init) =>
    new ReferenceLlamaCore(
      config,
      init?.weights ?? initWeights(config, init?.seed ?? 0),
      init?.lora ? { spec: init.lora.spec, weights: init.lora.weights ?? initLoraWeights(config, init.lora.spec, init.seed ?? 0) } : undefined,
    ),
};
