import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelConfig, parseGPT2Config } from '../../src/arch/config.js';
import { initWeights } from '../../src/arch/init.js';
import { numel, paramLayout } from '../../src/arch/layout.js';
import { initLoraWeights, loraLayout, type LoraSpec, resolveLora } from '../../src/arch/lora.js';
import type { DecodeSession, LabeledBatch, NamedTensors, OptimizerStep, TokenBatch, TransformerCore } from '../../src/backend/types.js';
import { ModelConfigError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { maxAbsDiff } from './fixtures.js';
import { describeLoraParity, loadLoraFixture, type LoraParitySpec } from './lora.js';
import { hasModernFixtures } from './modern.js';

// TransformerCore.withAdapter (a second LoRA core over one frozen base in memory), one suite for every core that has
// it: the PEFT fixture through such a core, with its first core alive and with it disposed; training and decoding
// either core leaves the other untouched and matches a standalone core; dispose in either order; what memory()
// reports; the refusal on a plain core.

export interface SharedBaseSpec extends LoraParitySpec {
  /** What memory().bytes reports for a fresh LoRA core's own buffers (no base, no step run yet) of `floats` adapter floats. */
  ownBytes(floats: number): number;
  /** Live allocations of the implementation (tfjs: numTensors), to see the base freed with its last core; optional. */
  liveCount?(): number;
}

/** Adapters with B != 0 (PEFT's init has B = 0, which would make every adapter the base and hide a mix-up). */
export function liveAdapter(config: ModelConfig, spec: LoraSpec, seed: number): NamedTensors {
  const w = initLoraWeights(config, spec, seed);
  const rng = new Rng(seed + 1);
  for (const [name, t] of w) if (name.includes('lora_B')) t.data.forEach((_, i) => (t.data[i] = 0.2 * rng.normal()));
  return w;
}

function randomBatch(config: ModelConfig, seed: number, B: number, T: number): LabeledBatch {
  const rng = new Rng(seed);
  const inputIds = Int32Array.from({ length: B * T }, () => rng.int(config.vocab_size));
  const labels = Int32Array.from(inputIds, (id, i) => (i % T === 3 ? -100 : id));
  return { batchSize: B, seqLen: T, inputIds, labels };
}

interface Case {
  what: string;
  load(): Promise<{ config: ModelConfig; base: NamedTensors; spec: LoraSpec; batch: LabeledBatch }>;
}

const tinyGpt2 = parseGPT2Config({ vocab_size: 64, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 4 });
const CASES: Case[] = [
  ...(hasModernFixtures
    ? [{ what: 'the PEFT fixture model (llama, r 4 on every projection)', load: async () => {
        const fx = await loadLoraFixture();
        return { config: fx.base.config, base: fx.base.weights, spec: fx.spec, batch: fx.base.batch };
      } }]
    : []),
  { what: 'GPT-2 (Conv1D), c_attn and c_fc at r 3', load: async () => ({
      config: tinyGpt2,
      base: initWeights(tinyGpt2, 11),
      spec: resolveLora(tinyGpt2, { r: 3, alpha: 6, targets: ['c_attn', 'c_fc'] }),
      batch: randomBatch(tinyGpt2, 12, 2, 12),
    }) },
];

const STEP: OptimizerStep = { lr: 1e-2, weightDecay: 0.1, maxGradNorm: 1.0 };

async function logitsOf(core: TransformerCore, batch: TokenBatch): Promise<Float32Array> {
  const { logits } = await core.forward(batch);
  const data = await logits.data();
  logits.dispose();
  return data;
}

/** Greedy tokens and each step's logits from an open session, `steps` steps, positions continuing the prompt's. */
async function greedySteps(session: DecodeSession, V: number, steps: number, at: number): Promise<{ tokens: number[][]; logits: Float32Array[] }> {
  const tokens: number[][] = [];
  const logits: Float32Array[] = [session.lastLogits.slice()];
  for (let k = 0; k < steps; k++) {
    const next = argmaxRows(session.lastLogits, V);
    tokens.push([...next]);
    logits.push((await session.step(next, new Int32Array(next.length).fill(at + k))).slice());
  }
  return { tokens, logits };
}

function argmaxRows(logits: Float32Array, V: number): Int32Array {
  const out = new Int32Array(logits.length / V);
  for (let b = 0; b < out.length; b++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[b * V + v]! > logits[b * V + best]!) best = v;
    out[b] = best;
  }
  return out;
}

const floats = (tensors: Iterable<{ shape: readonly number[] }>): number => [...tensors].reduce((n, t) => n + numel(t.shape), 0);

export function describeSharedBase(title: string, skip: boolean, spec: SharedBaseSpec): void {
  describe.skipIf(skip)(title, () => {
    // The fixture's parity suite run on a core made by withAdapter from a first core with another (live) adapter:
    // the first core alive throughout, then disposed before the second is used at all.
    for (const disposeFirst of [false, true]) {
      describe(disposeFirst ? 'a second core whose first core was disposed' : 'a second core beside its first', () => {
        const firsts: TransformerCore[] = [];
        afterAll(() => firsts.forEach((c) => c.dispose()));
        describeLoraParity(`withAdapter with the PEFT adapter matches PEFT${disposeFirst ? ' (first core disposed)' : ''}`, skip, {
          makeCore: spec.makeCore,
          makeLoraCore: async (config, base, lspec, adapter) => {
            const first = await spec.makeLoraCore(config, base, lspec, liveAdapter(config, lspec, 40));
            const second = await first.withAdapter!({ lora: { spec: lspec, weights: adapter } });
            if (disposeFirst) first.dispose();
            else firsts.push(first);
            return second;
          },
        });
      });
    }

    describe.each(CASES)('$what', ({ load }) => {
      let c: Awaited<ReturnType<Case['load']>>;
      beforeAll(async () => {
        c = await load();
      });

      it('training one core leaves the other core and the shared base bit-identical; each trains as it would alone', async () => {
        const { config, base, spec: lspec, batch } = c;
        const [a1, a2] = [liveAdapter(config, lspec, 1), liveAdapter(config, lspec, 2)];
        const first = await spec.makeLoraCore(config, base, lspec, a1);
        const second = await first.withAdapter!({ lora: { spec: lspec, weights: a2 } });
        const alone1 = await spec.makeLoraCore(config, base, lspec, a1);
        const alone2 = await spec.makeLoraCore(config, base, lspec, a2);
        try {
          const expectBase = async (): Promise<void> => {
            for (const core of [first, second]) {
              const b = await core.getBaseWeights!();
              expect([...b.keys()].sort()).toEqual(paramLayout(config).map((p) => p.name).sort());
              for (const [name, t] of b) expect(t.data, `${name} frozen`).toEqual(base.get(name)!.data);
            }
          };
          const w1 = await first.getWeights();
          for (let i = 0; i < 3; i++) {
            const [r, ra] = [await second.trainStep(batch, STEP), await alone2.trainStep(batch, STEP)];
            expect(r.loss).toBe(ra.loss);
            expect(r.gradNorm).toBe(ra.gradNorm);
          }
          const w2 = await second.getWeights();
          expect(w2).toEqual(await alone2.getWeights());
          for (const [name, t] of w2) expect(maxAbsDiff(t.data, a2.get(name)!.data), `${name} trained`).toBeGreaterThan(0);
          expect(await first.getWeights()).toEqual(w1);
          expect((await first.getOptimizerState()).step).toBe(0);
          await expectBase();

          for (let i = 0; i < 3; i++) {
            await first.trainStep(batch, STEP);
            await alone1.trainStep(batch, STEP);
          }
          expect(await first.getWeights()).toEqual(await alone1.getWeights());
          expect(await second.getWeights()).toEqual(w2);
          expect((await second.getOptimizerState()).step).toBe(3);
          await expectBase();

          // Interleaved, with gradients of both cores pending at once.
          await first.accumulateGradients(batch);
          await second.accumulateGradients(batch, 0.5);
          await alone1.accumulateGradients(batch);
          await alone2.accumulateGradients(batch, 0.5);
          expect(await first.getGradients()).toEqual(await alone1.getGradients());
          expect(await second.getGradients()).toEqual(await alone2.getGradients());
          for (const core of [first, second, alone1, alone2]) await core.applyOptimizer(STEP);
          expect(await first.getWeights()).toEqual(await alone1.getWeights());
          expect(await second.getWeights()).toEqual(await alone2.getWeights());
          expect(await first.getOptimizerState()).toEqual(await alone1.getOptimizerState());
          expect(await second.getOptimizerState()).toEqual(await alone2.getOptimizerState());
          expect(await logitsOf(second, batch)).toEqual(await logitsOf(alone2, batch));
          await expectBase();
        } finally {
          for (const core of [second, first, alone1, alone2]) core.dispose();
        }
      });

      it('decoding on both cores interleaved gives the tokens and logits of each alone', async () => {
        const { config, base, spec: lspec, batch } = c;
        const V = config.vocab_size;
        const P = 5;
        const prompt: TokenBatch = {
          batchSize: 2,
          seqLen: P,
          inputIds: Int32Array.from({ length: 2 * P }, (_, i) => batch.inputIds[Math.floor(i / P) * batch.seqLen + (i % P)]!),
        };
        const steps = 4;
        const first = await spec.makeLoraCore(config, base, lspec, liveAdapter(config, lspec, 3));
        const second = await first.withAdapter!({ lora: { spec: lspec, weights: liveAdapter(config, lspec, 4) } });
        try {
          const alone = async (core: TransformerCore) => {
            const s = await core.startDecode(prompt, { maxLength: P + steps });
            const out = await greedySteps(s, V, steps, P);
            s.dispose();
            return out;
          };
          const [ref1, ref2] = [await alone(first), await alone(second)];
          // The two adapters decode differently (else a mix-up would pass unseen).
          expect(maxAbsDiff(ref1.logits[0]!, ref2.logits[0]!)).toBeGreaterThan(1e-3);
          const [s1, s2] = [await first.startDecode(prompt, { maxLength: P + steps }), await second.startDecode(prompt, { maxLength: P + steps })];
          const got1 = { tokens: [] as number[][], logits: [s1.lastLogits.slice()] };
          const got2 = { tokens: [] as number[][], logits: [s2.lastLogits.slice()] };
          for (let k = 0; k < steps; k++) {
            for (const [s, got] of [[s1, got1], [s2, got2]] as const) {
              const next = argmaxRows(s.lastLogits, V);
              got.tokens.push([...next]);
              got.logits.push((await s.step(next, new Int32Array(2).fill(P + k))).slice());
            }
          }
          s1.dispose();
          s2.dispose();
          expect(got1.tokens).toEqual(ref1.tokens);
          expect(got2.tokens).toEqual(ref2.tokens);
          got1.logits.forEach((l, k) => expect(maxAbsDiff(l, ref1.logits[k]!), `first, step ${k}`).toBeLessThan(1e-6));
          got2.logits.forEach((l, k) => expect(maxAbsDiff(l, ref2.logits[k]!), `second, step ${k}`).toBeLessThan(1e-6));
        } finally {
          second.dispose();
          first.dispose();
        }
      });

      for (const order of ['first', 'second'] as const) {
        it(`disposing the ${order} core first leaves the other working (forward, decode, training, a further withAdapter); the base goes with the last`, async () => {
          const { config, base, spec: lspec, batch } = c;
          const live0 = spec.liveCount?.();
          const [a1, a2, a3] = [liveAdapter(config, lspec, 5), liveAdapter(config, lspec, 6), liveAdapter(config, lspec, 7)];
          const first = await spec.makeLoraCore(config, base, lspec, a1);
          const second = await first.withAdapter!({ lora: { spec: lspec, weights: a2 } });
          const [gone, kept]: [TransformerCore, TransformerCore] = order === 'first' ? [first, second] : [second, first];
          const keptAdapter = order === 'first' ? a2 : a1;
          const ref = await spec.makeLoraCore(config, base, lspec, keptAdapter);
          try {
            const want = await logitsOf(ref, batch);
            const session = await kept.startDecode(batch, { maxLength: batch.seqLen + 1 });
            const refSession = await ref.startDecode(batch, { maxLength: batch.seqLen + 1 });
            gone.dispose();
            await expect(gone.loss(batch)).rejects.toThrow(/core was disposed/);
            expect(await logitsOf(kept, batch)).toEqual(want);
            const next = argmaxRows(session.lastLogits, config.vocab_size);
            const stepPos = new Int32Array(batch.batchSize).fill(batch.seqLen);
            expect(maxAbsDiff(await session.step(next, stepPos), await refSession.step(next, stepPos))).toBeLessThan(1e-6);
            session.dispose();
            refSession.dispose();
            const [r, rr] = [await kept.trainStep(batch, STEP), await ref.trainStep(batch, STEP)];
            expect(r.loss).toBe(rr.loss);
            expect(await kept.getWeights()).toEqual(await ref.getWeights());
            // A further core over the base, made from the one left; then that one goes too.
            const third = await kept.withAdapter!({ lora: { spec: lspec, weights: a3 } });
            const ref3 = await spec.makeLoraCore(config, base, lspec, a3);
            const want3 = await logitsOf(ref3, batch);
            ref3.dispose();
            expect(await logitsOf(third, batch)).toEqual(want3);
            kept.dispose();
            expect(await logitsOf(third, batch)).toEqual(want3);
            const b = await third.getBaseWeights!();
            for (const [name, t] of b) expect(t.data, name).toEqual(base.get(name)!.data);
            third.dispose();
          } finally {
            for (const core of [first, second, ref]) core.dispose();
          }
          if (live0 !== undefined) expect(spec.liveCount!(), 'every tensor, the base included, freed').toBe(live0);
        });
      }

      it("memory() of a core made by withAdapter leaves the shared base out; the base's last holder reports it", async () => {
        const { config, base, spec: lspec } = c;
        const nBase = floats(paramLayout(config));
        const nLora = floats(loraLayout(config, lspec));
        const narrow = resolveLora(config, { r: 1, alpha: 2, targets: [lspec.targets[0]!] });
        const nNarrow = floats(loraLayout(config, narrow));
        const first = await spec.makeLoraCore(config, base, lspec, liveAdapter(config, lspec, 8));
        const own = spec.ownBytes(nLora);
        expect(first.memory().bytes).toBe(4 * nBase + own);
        const second = await first.withAdapter!({ lora: { spec: lspec }, seed: 3 });
        const third = await first.withAdapter!({ lora: { spec: narrow }, seed: 4 }); // another rank and target set
        try {
          expect(third.lora).toEqual(narrow);
          expect(first.memory().bytes).toBe(4 * nBase + own);
          expect(second.memory().bytes).toBe(own);
          expect(third.memory().bytes).toBe(spec.ownBytes(nNarrow));
          expect(own).toBeLessThan(0.5 * 4 * nBase);
          first.dispose();
          // The longest-lived holder left reports the base now: the figures still add up to what is held.
          expect(second.memory().bytes).toBe(4 * nBase + own);
          expect(third.memory().bytes).toBe(spec.ownBytes(nNarrow));
          second.dispose();
          expect(third.memory().bytes).toBe(4 * nBase + spec.ownBytes(nNarrow));
          // PEFT's init from the seed: B = 0, so the narrow adapter's outputs are the base's.
          const plain = await spec.makeCore(config, base);
          expect(await logitsOf(third, c.batch)).toEqual(await logitsOf(plain, c.batch));
          plain.dispose();
        } finally {
          for (const core of [first, second, third]) core.dispose();
        }
      });

      it('withAdapter on a plain core throws ModelConfigError; a bad adapter is refused and leaks nothing', async () => {
        const { config, base, spec: lspec } = c;
        const plain = await spec.makeCore(config, base);
        const first = await spec.makeLoraCore(config, base, lspec, liveAdapter(config, lspec, 9));
        try {
          const live0 = spec.liveCount?.();
          const err = await plain.withAdapter!({ lora: { spec: lspec } }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(ModelConfigError);
          expect((err as Error).message).toMatch(/withAdapter: this core has no LoRA adapters/);
          const bad = liveAdapter(config, lspec, 10);
          const missing = [...bad.keys()][1]!;
          bad.delete(missing);
          await expect(first.withAdapter!({ lora: { spec: lspec, weights: bad } })).rejects.toThrow(missing);
          if (live0 !== undefined) expect(spec.liveCount!()).toBe(live0);
          expect(first.memory().bytes).toBe(4 * floats(paramLayout(config)) + spec.ownBytes(floats(loraLayout(config, lspec))));
        } finally {
          plain.dispose();
          first.dispose();
        }
      });
    });
  });
}
