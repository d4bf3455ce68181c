import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../src/arch/config.js';
import type { NamedTensors } from '../src/arch/tensors.js';
import { NonFiniteLossError } from '../src/errors.js';
import { GPT2 } from '../src/model/gpt2.js';
import { Tokenizer, TrimmedVocab } from '../src/tokenizer/index.js';
import { collate, encodePairs, planEpoch } from '../src/train/examples.js';
import { warmupCosineLr } from '../src/train/schedule.js';
import { train, type TrainOptions } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';

const pairs = Array.from({ length: 24 }, (_, i) => ({
  prompt: `Problem: add ${i % 7} and ${i % 5}\n`,
  completion: `${i % 7} plus ${i % 5} is ${(i % 7) + (i % 5)}`.repeat(1 + (i % 3)),
  problemId: `p${i}`,
}));
const tokenizer = new Tokenizer(TrimmedVocab.fromCorpus(pairs.flatMap((p) => [p.prompt, p.completion])));
const config = parseGPT2Config({ vocab_size: tokenizer.vocabSize, n_positions: 64, n_embd: 32, n_layer: 1, n_head: 2, eos_token_id: tokenizer.eosId, bos_token_id: tokenizer.eosId });
const examples = encodePairs(tokenizer, pairs, { maxLength: 64 });

/** The trainer takes a GPT2 (the model students hold), never a raw core. */
function model(seed = 0): Promise<GPT2> {
  return GPT2.create(config, { seed });
}

const opts: TrainOptions = { batchSize: 4, gradAccumSteps: 2, maxSteps: 10, lr: 5e-3, warmupSteps: 2, seed: 7, bucketWindow: 2 };

function sameTensors(a: NamedTensors, b: NamedTensors): boolean {
  for (const [name, t] of a) {
    const u = b.get(name)!;
    for (let i = 0; i < t.data.length; i++) if (!Object.is(t.data[i], u.data[i])) return false;
  }
  return a.size === b.size;
}

describe('trainer', () => {
  it('schedules warmup then cosine decay', () => {
    const s = { peak: 1, warmupSteps: 4, totalSteps: 20, minRatio: 0.1 };
    expect(warmupCosineLr(0, s)).toBeCloseTo(0.25);
    expect(warmupCosineLr(3, s)).toBeCloseTo(1);
    expect(warmupCosineLr(4, s)).toBeCloseTo(1);
    expect(warmupCosineLr(20, s)).toBeCloseTo(0.1);
    expect(warmupCosineLr(12, s)).toBeCloseTo(0.55);
  });

  it('pads batches, masks padding, and buckets by length without losing examples', () => {
    const batch = collate([examples[0]!, examples[2]!], tokenizer.eosId);
    expect(batch.seqLen).toBe(Math.max(examples[0]!.ids.length, examples[2]!.ids.length));
    const n0 = examples[0]!.ids.length;
    expect(examples[2]!.ids.length).toBeGreaterThan(n0);
    expect(batch.attentionMask![n0 - 1]).toBe(1);
    expect(batch.attentionMask![n0]).toBe(0);
    expect(batch.labels[n0]).toBe(-100);
    expect(batch.inputIds[n0]).toBe(tokenizer.eosId);
    const plan = planEpoch(examples.map((e) => e.ids.length), 4, new Rng(1), 2);
    expect(plan.flat().sort((a, b) => a - b)).toEqual(examples.map((_, i) => i));
  });

  it('is deterministic and loss goes down', async () => {
    const a = await train(await model(), examples, opts);
    const b = await train(await model(), examples, opts);
    expect(a.losses).toEqual(b.losses);
    expect(a.losses).toHaveLength(10);
    expect(a.losses.at(-1)!).toBeLessThan(a.losses[0]!);
  });

  it('resumes exactly: the loss sequence after resume equals the uninterrupted run', async () => {
    const full = await model();
    const reference = await train(full, examples, { ...opts, checkpoint: { dir: await mkdtemp(join(tmpdir(), 'sd-ckpt-a-')), every: 4 } });

    const dir = await mkdtemp(join(tmpdir(), 'sd-ckpt-b-'));
    const first = await train(await model(), examples, { ...opts, checkpoint: { dir, every: 100 }, stopAfterSteps: 5 });
    expect(first.finished).toBe(false);
    expect(first.steps).toBe(5);
    expect((await readdir(dir)).sort()).toEqual(['optimizer-00000005.safetensors', 'trainer-state.json', 'weights-00000005.safetensors']);

    // A model initialised differently: everything must come from the checkpoint.
    const resumedModel = await model(99);
    const resumed = await train(resumedModel, examples, { ...opts, checkpoint: { dir, every: 100 } });
    expect(resumed.resumedFromStep).toBe(5);
    expect(resumed.losses).toEqual(reference.losses);
    expect(sameTensors(await resumedModel.training.getWeights(), await full.training.getWeights())).toBe(true);
  });

  it('refuses to resume a checkpoint written for other data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sd-ckpt-c-'));
    await train(await model(), examples, { ...opts, checkpoint: { dir, every: 100 }, stopAfterSteps: 2 });
    await expect(train(await model(), examples.slice(1), { ...opts, checkpoint: { dir, every: 100 } })).rejects.toThrow(/different data/);
  });

  it('stops on a non-finite loss with a clear error and leaves the weights untouched', async () => {
    const c = await model();
    const weights = await c.training.getWeights();
    const wte = weights.get('transformer.wte.weight')!;
    // Poison the embedding of a token every example contains: the forward pass turns NaN.
    const tokenId = examples[0]!.ids[0]!;
    wte.data.fill(NaN, tokenId * config.n_embd, (tokenId + 1) * config.n_embd);
    await c.training.setWeights(weights);
    const before = await c.training.getWeights();
    const err = await train(c, examples, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as NonFiniteLossError).step).toBe(1);
    expect((err as Error).message).toMatch(/weights are unchanged/);
    expect(sameTensors(await c.training.getWeights(), before)).toBe(true);
  });

  it('early-stops when the eval loss stops improving and restores the best weights', async () => {
    const c = await model();
    const events: string[] = [];
    const raw: object[] = [];
    const r = await train(c, examples.slice(0, 8), {
      ...opts, maxSteps: 60, lr: 3e-2, warmupSteps: 0,
      eval: { examples: examples.slice(8), every: 2, patience: 2 },
      onProgress: (e) => (events.push(e.type), raw.push(e)),
    });
    // One vocabulary across the API: progress events are discriminated by `type`, like the browser's SolveEvent.
    expect(raw.every((e) => 'type' in e && !('kind' in e))).toBe(true);
    expect(r.evals.length).toBeGreaterThan(0);
    expect(events).toContain('eval');
    if (r.stoppedEarly) {
      expect(events).toContain('early-stop');
      expect(r.steps).toBeLessThan(60);
    }
    expect(r.bestEvalLoss).toBe(Math.min(...r.evals.map((e) => e.loss)));
  });

  it('averages the weights of every `every`-th step from `from` on, and resumes the average exactly', async () => {
    const avgOpts: TrainOptions = { ...opts, average: { from: 4, every: 3 } };
    const dir = await mkdtemp(join(tmpdir(), 'sd-avg-'));
    // Stop at the averaged steps 4, 7 and 10 to read the live weights there; each call resumes from the checkpoint.
    const m = await model();
    const snaps: NamedTensors[] = [];
    for (const stop of [4, 3, 3]) {
      const r = await train(m, examples, { ...avgOpts, checkpoint: { dir, every: 100 }, stopAfterSteps: stop });
      if (!r.finished) snaps.push(await m.training.getWeights());
    }
    expect(snaps).toHaveLength(2);
    expect((await readdir(dir)).filter((f) => f.startsWith('average-'))).toEqual(['average-00000010.safetensors']);
    // The uninterrupted run ends with the mean of the weights after steps 4, 7 and 10.
    const plain = await model();
    await train(plain, examples, opts);
    const last = await plain.training.getWeights();
    const averaged = await model();
    await train(averaged, examples, avgOpts);
    const got = await averaged.training.getWeights();
    for (const [name, t] of got) {
      const parts = [snaps[0]!, snaps[1]!, last].map((w) => w.get(name)!.data);
      for (let i = 0; i < t.data.length; i += 97) expect(t.data[i]).toBeCloseTo((parts[0]![i]! + parts[1]![i]! + parts[2]![i]!) / 3, 6);
    }
    // Resumed three times, the same average as the uninterrupted run.
    expect(sameTensors(await m.training.getWeights(), got)).toBe(true);
    await expect(train(await model(), examples, { ...avgOpts, eval: { examples, every: 5 } })).rejects.toThrow(/restoreBest/);
  });
});
