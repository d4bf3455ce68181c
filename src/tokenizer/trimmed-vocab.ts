import { z } from 'zod';
import { ModelConfigError, ShapeError } from '../errors.js';
import { encodeGpt2, GPT2_EOS_ID, GPT2_VOCAB_SIZE } from './bpe.js';

/** On-disk form of a TrimmedVocab (saved beside a model as `trimmed_vocab.json`). */
export const TrimmedVocabJsonSchema = z
  .object({
    format: z.literal('socratic-distill/trimmed-vocab'),
    version: z.literal(1),
    /** Compact id i stands for GPT-2 id gpt2Ids[i]; strictly increasing, always contains 50256. */
    gpt2Ids: z.array(z.number().int().min(0).max(GPT2_VOCAB_SIZE - 1)).min(1),
    /** When true, compact id gpt2Ids.length is `<unk>`: every GPT-2 token outside the list maps to it. */
    unk: z.boolean(),
  })
  .superRefine((v, ctx) => {
    for (let i = 1; i < v.gpt2Ids.length; i++) {
      if (v.gpt2Ids[i]! <= v.gpt2Ids[i - 1]!) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['gpt2Ids', i], message: 'ids must be strictly increasing' });
        return;
      }
    }
    if (!v.gpt2Ids.includes(GPT2_EOS_ID)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['gpt2Ids'], message: `must contain the eos/pad id ${GPT2_EOS_ID}` });
    }
  });
export type TrimmedVocabJson = z.infer<typeof TrimmedVocabJsonSchema>;

/** A text, or GPT-2 ids that were already encoded. */
export type CorpusItem = string | readonly number[];

export interface TrimmedVocabOptions {
  /** Add an `<unk>` id that unseen GPT-2 tokens map to. Without it, unseen tokens throw ShapeError. Default false. */
  unk?: boolean;
  /** Keep only tokens seen at least this many times (the rest go to `<unk>`). Default 1; > 1 requires `unk`. */
  minCount?: number;
}

/**
 * A compact vocabulary: the GPT-2 tokens a corpus actually uses, renumbered
 * 0..n-1 in GPT-2 id order, so the embedding/output layer of a small student
 * shrinks from 50257 rows to n. Ids convert both ways with toCompact/toFull.
 */
export class TrimmedVocab {
  /** Compact id -> GPT-2 id (strictly increasing). */
  private readonly gpt2Ids: Int32Array;
  private readonly compactOf: Map<number, number>;
  /** Compact id of `<unk>`, when enabled: always the last id. */
  readonly unkId: number | undefined;
  /** Compact id of `<|endoftext|>` (GPT-2 50256), used as eos and pad. */
  readonly eosId: number;

  private constructor(gpt2Ids: readonly number[], unk: boolean) {
    this.gpt2Ids = Int32Array.from(gpt2Ids);
    this.compactOf = new Map(gpt2Ids.map((id, i) => [id, i]));
    this.unkId = unk ? gpt2Ids.length : undefined;
    this.eosId = this.compactOf.get(GPT2_EOS_ID)!;
  }

  /** Number of compact ids, `<unk>` included: use it as the model's vocab_size. */
  get size(): number {
    return this.gpt2Ids.length + (this.unkId === undefined ? 0 : 1);
  }

  static fromCorpus(corpus: Iterable<CorpusItem>, options: TrimmedVocabOptions = {}): TrimmedVocab {
    const minCount = options.minCount ?? 1;
    if (!Number.isInteger(minCount) || minCount < 1) throw new ShapeError(`minCount must be a positive integer, got ${minCount}`);
    if (minCount > 1 && !options.unk) throw new ShapeError('minCount > 1 drops tokens, so it needs { unk: true } to map them somewhere');
    const counts = new Map<number, number>();
    let index = 0;
    for (const item of corpus) {
      const ids = typeof item === 'string' ? encodeGpt2(item) : item;
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= GPT2_VOCAB_SIZE) {
          throw new ShapeError(`corpus item ${index}: ${id} is not a GPT-2 token id (0..${GPT2_VOCAB_SIZE - 1})`);
        }
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      index++;
    }
    const kept = [...counts].filter(([, n]) => n >= minCount).map(([id]) => id);
    if (!counts.has(GPT2_EOS_ID) || (counts.get(GPT2_EOS_ID) ?? 0) < minCount) kept.push(GPT2_EOS_ID);
    kept.sort((a, b) => a - b);
    return new TrimmedVocab(kept, options.unk ?? false);
  }

  static fromJSON(json: unknown, source = 'trimmed vocab'): TrimmedVocab {
    const r = TrimmedVocabJsonSchema.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new ModelConfigError(`${source}: invalid trimmed vocabulary at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
    }
    return new TrimmedVocab(r.data.gpt2Ids, r.data.unk);
  }

  toJSON(): TrimmedVocabJson {
    return { format: 'socratic-distill/trimmed-vocab', version: 1, gpt2Ids: Array.from(this.gpt2Ids), unk: this.unkId !== undefined };
  }

  /** True when the GPT-2 id has its own compact id (not `<unk>`). */
  has(gpt2Id: number): boolean {
    return this.compactOf.has(gpt2Id);
  }

  /** GPT-2 ids -> compact ids. Unseen ids become `<unk>`, or throw ShapeError when there is none. */
  toCompact(gpt2Ids: readonly number[]): number[] {
    return gpt2Ids.map((id, i) => {
      const c = this.compactOf.get(id);
      if (c !== undefined) return c;
      if (this.unkId !== undefined) return this.unkId;
      throw new ShapeError(
        `token ${id} at index ${i} is not in the trimmed vocabulary (${this.size} ids) and it has no <unk>; ` +
          'rebuild it from a corpus that contains this text or create it with { unk: true }',
      );
    });
  }

  /**
   * Compact ids -> GPT-2 ids. `<unk>` has no GPT-2 counterpart: it becomes `unkAs`
   * when given, otherwise it throws (Tokenizer.decode renders it as `<unk>` text instead).
   */
  toFull(compactIds: readonly number[], unkAs?: number): number[] {
    return compactIds.map((c, i) => {
      if (Number.isInteger(c) && c >= 0 && c < this.gpt2Ids.length) return this.gpt2Ids[c]!;
      if (c === this.unkId && this.unkId !== undefined) {
        if (unkAs !== undefined) return unkAs;
        throw new ShapeError(`compact id ${c} at index ${i} is <unk>, which has no GPT-2 id; pass unkAs to map it`);
      }
      throw new ShapeError(`compact id ${c} at index ${i} is outside the trimmed vocabulary (0..${this.size - 1})`);
    });
  }
}
