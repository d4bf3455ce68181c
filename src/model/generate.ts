import type { DecodeSession, TransformerCore } from '../backend/types.js';
import { archDims } from '../arch/config.js';
import { ShapeError } from '../errors.js';
import { type PreparedPrompts, preparePrompts } from './prompts.js';
import { type SamplingOptions, TokenSampler } from './sampling.js';

export interface GeneratedToken {
  /** Row of the prompt batch. */
  row: number;
  token: number;
  /** 0 for the first new token of the call. */
  step: number;
  /** True when the token came from `forceTokens` instead of the sampler. */
  forced?: boolean;
}

export interface GPT2GenerateOptions extends SamplingOptions {
  /** Upper bound on new tokens per row. */
  maxNewTokens: number;
  /** 1 = real, 0 = pad. Rows must then be equally long and LEFT-padded. Without it, rows may differ in length. */
  attentionMask?: number[][];
  /** A row stops once its new tokens end with one of these; the matched sequence is not returned. */
  stopSequences?: number[][];
  /** A row stops when it produces this id, or one of these ids (not returned). Default: the model's EOS ids; `null` disables. */
  eosTokenId?: number | readonly number[] | null;
  /** Id written into padding slots and into rows that have stopped (masked, so any valid id works). Default: the model's pad id. */
  padTokenId?: number;
  /** Incremental KV-cache decoding (default). `false` re-runs the whole sequence every step (reference path). */
  useCache?: boolean;
  /** Called for every sampled token of a still-running row, before stop trimming (eos and stop tokens included). */
  onToken?: (token: GeneratedToken) => void;
  /**
   * Ends a row when it returns true (its tokens are kept as they are), for stops that are not
   * fixed id sequences, e.g. text a tokenizer may split in several ways. Asked after each new
   * token that neither was eos nor completed a stop sequence.
   */
  shouldStop?: (row: number, tokens: readonly number[]) => boolean;
  /**
   * Tokens to write into a row instead of sampling, e.g. a calculator's result. Asked after each
   * sampled token of a row that is still running, with the row's new tokens so far. The ids it
   * returns replace sampling for that row on its next steps, one per step, while the other rows
   * keep sampling, so the batch stays rectangular. They are fed through the cache (or the
   * full sequence) as if sampled, count against `maxNewTokens`, reach `onToken` with
   * `forced: true`, and end the row on eos or a stop like sampled ones. Not asked again until they
   * are all written.
   */
  forceTokens?: (row: number, tokens: readonly number[]) => readonly number[] | undefined;
}

export interface GenerateDefaults {
  /** Default stop ids; empty when the model has no EOS. */
  eosIds: readonly number[];
  padId: number;
}

/** Per-row decoding state: new tokens so far and whether the row has stopped. */
class RowState {
  readonly tokens: number[] = [];
  done = false;

  constructor(
    private readonly eos: ReadonlySet<number>,
    private readonly stops: readonly (readonly number[])[],
    private readonly shouldStop: (() => boolean) | undefined,
  ) {}

  push(token: number): void {
    if (this.eos.has(token)) {
      this.done = true;
      return;
    }
    this.tokens.push(token);
    for (const stop of this.stops) {
      if (endsWith(this.tokens, stop)) {
        this.tokens.length -= stop.length;
        this.done = true;
        return;
      }
    }
    if (this.shouldStop?.()) this.done = true;
  }
}

function endsWith(seq: readonly number[], suffix: readonly number[]): boolean {
  if (suffix.length > seq.length) return false;
  const off = seq.length - suffix.length;
  return suffix.every((id, i) => seq[off + i] === id);
}

/**
 * Autoregressive generation on any TransformerCore. Prompts are left-padded into
 * one batch (HF semantics); rows that have stopped keep receiving the pad token
 * so the batch stays rectangular. Returns only the new ids of each row.
 */
export async function generateTokens(
  core: TransformerCore,
  promptIds: number[][],
  options: GPT2GenerateOptions,
  defaults: GenerateDefaults,
): Promise<number[][]> {
  const { config } = core;
  const V = config.vocab_size;
  const sampler = new TokenSampler(options);
  const eosIds = options.eosTokenId === undefined ? defaults.eosIds : options.eosTokenId === null ? [] : [options.eosTokenId].flat();
  for (const id of eosIds) if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new ShapeError(`generate: eosTokenId ${id} is outside [0, ${V})`);
  const eos = new Set(eosIds);
  const padId = options.padTokenId ?? defaults.padId;
  if (!(Number.isInteger(padId) && padId >= 0 && padId < V)) throw new ShapeError(`generate: padTokenId ${padId} is outside [0, ${V})`);
  const stops = (options.stopSequences ?? []).map((s, i) => {
    if (!Array.isArray(s) || s.length === 0) throw new ShapeError(`generate: stopSequences[${i}] must be a non-empty array of ids`);
    return s;
  });
  const { batch, nextPositions } = preparePrompts(promptIds, options.attentionMask, {
    vocabSize: V,
    nPositions: archDims(config).maxPositions,
    maxNewTokens: options.maxNewTokens,
    padId,
  });
  const B = batch.batchSize;
  const { shouldStop } = options;
  const rows: RowState[] = Array.from({ length: B }, (_, b) => new RowState(eos, stops, shouldStop && (() => shouldStop(b, rows[b]!.tokens))));
  if (options.maxNewTokens === 0) return rows.map((r) => r.tokens);

  const { forceTokens } = options;
  // Per-row queue of tokens still to be forced; a row with a queue takes its next token from it.
  const pending: number[][] = rows.map(() => []);

  const stepper = options.useCache === false ? await FullSequenceStepper.start(core, batch) : await CachedStepper.start(core, batch, options.maxNewTokens);
  try {
    let logits = stepper.firstLogits;
    for (let step = 0; ; step++) {
      const next = new Int32Array(B).fill(padId);
      rows.forEach((row, b) => {
        if (row.done) return;
        const queue = pending[b]!;
        const forced = queue.length > 0;
        const token = forced ? queue.shift()! : sampler.pick(logits, b * V, V);
        options.onToken?.(forced ? { row: b, token, step, forced } : { row: b, token, step });
        row.push(token);
        next[b] = token;
        if (forced || row.done || !forceTokens) return;
        const ids = forceTokens(b, row.tokens);
        if (!ids) return;
        for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new ShapeError(`generate: forceTokens gave id ${id}, outside [0, ${V})`);
        queue.push(...ids);
      });
      if (step + 1 >= options.maxNewTokens || rows.every((r) => r.done)) break;
      logits = await stepper.step(next, nextPositions);
      for (let b = 0; b < B; b++) nextPositions[b]!++;
    }
  } finally {
    stepper.dispose();
  }
  return rows.map((r) => r.tokens);
}

interface Stepper {
  /** Next-token logits [B * V] after the prompt. */
  readonly firstLogits: Float32Array;
  step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array>;
  dispose(): void;
}

class CachedStepper implements Stepper {
  private constructor(private readonly session: DecodeSession) {}

  static async start(core: TransformerCore, batch: PreparedPrompts['batch'], maxNewTokens: number): Promise<CachedStepper> {
    return new CachedStepper(await core.startDecode(batch, { maxLength: batch.seqLen + maxNewTokens }));
  }
  get firstLogits(): Float32Array {
    return this.session.lastLogits;
  }
  step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array> {
    return this.session.step(tokens, positions);
  }
  dispose(): void {
    this.session.dispose();
  }
}

/** No cache: the growing sequence goes through forward() every step. Slow; the reference for the cached path. */
class FullSequenceStepper implements Stepper {
  firstLogits: Float32Array = new Float32Array(0);
  private ids: number[][];
  private mask: number[][];
  private positions: number[][];
  private readonly B: number;

  static async start(core: TransformerCore, batch: PreparedPrompts['batch']): Promise<FullSequenceStepper> {
    const s = new FullSequenceStepper(core, batch);
    s.firstLogits = await s.run();
    return s;
  }

  private constructor(
    private readonly core: TransformerCore,
    batch: PreparedPrompts['batch'],
  ) {
    const { batchSize: B, seqLen: T } = batch;
    this.B = B;
    const rows = <A extends ArrayLike<number>>(a: A): number[][] => Array.from({ length: B }, (_, b) => Array.from(a).slice(b * T, (b + 1) * T));
    this.ids = rows(batch.inputIds);
    this.mask = rows(batch.attentionMask);
    this.positions = rows(batch.positionIds);
  }

  /** Run the current sequences and return the logits of each row's last position. */
  async run(): Promise<Float32Array> {
    const { B } = this;
    const T = this.ids[0]!.length;
    const V = this.core.config.vocab_size;
    const { logits } = await this.core.forward({
      batchSize: B,
      seqLen: T,
      inputIds: Int32Array.from(this.ids.flat()),
      attentionMask: Uint8Array.from(this.mask.flat()),
      positionIds: Int32Array.from(this.positions.flat()),
    });
    try {
      const all = await logits.data();
      const out = new Float32Array(B * V);
      for (let b = 0; b < B; b++) out.set(all.subarray((b * T + T - 1) * V, (b * T + T) * V), b * V);
      return out;
    } finally {
      logits.dispose();
    }
  }

  async step(tokens: Int32Array, positions: Int32Array): Promise<Float32Array> {
    for (let b = 0; b < this.B; b++) {
      this.ids[b]!.push(tokens[b]!);
      this.mask[b]!.push(1);
      this.positions[b]!.push(positions[b]!);
    }
    return this.run();
  }

  dispose(): void {}
}
