/**
 * CausalLM with LoRA adapters on the production cores (tfjs-cpu, native CPU), end to end through files: the PEFT
 * fixture adapter over the llama fixture gives PEFT's logits and loss; merge() gives them too; the saved adapter and
 * the saved merged checkpoint load back to the same logits; a trained step moves the adapter alone and is what is
 * saved; a GPT-2 adapter (Conv1D, fan_in_fan_out) merges and reloads the same. A core without LoRA is skipped with the
 * reason (selectBackend refuses it). The same paths on the float64 reference core are in model-lora-adapter.test.ts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loraLayout } from '../src/arch/lora.js';
import type { NamedTensors } from '../src/arch/tensors.js';
import { selectBackend } from '../src/backend/select.js';
import type { BackendPreference, BackendReport } from '../src/backend/types.js';
import { BackendUnavailableError } from '../src/errors.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { CausalLM } from '../src/model/causal-lm.js';
import { GPT2 } from '../src/model/gpt2.js';
import { encodePair } from '../src/train/examples.js';
import { train } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { FIXTURE_DIR, fixtureBatchJson, hasFixtures, maxAbsDiff } from './helpers/fixtures.js';
import { hasModernFixtures, loadModernFixture, MODERN_DIR, modelLastFourReal } from './helpers/modern.js';

const tmp = mkdtempSync(join(tmpdir(), 'lora-e2e-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const LLAMA = join(MODERN_DIR, 'llama');
const ADAPTER = join(MODERN_DIR, 'llama-lora');
const TINY = {
  llama: { model_type: 'llama', vocab_size: 16, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 8 },
  gpt2: { vocab_size: 16, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 2 },
} as const;

/** The backend for `pref` when its core has LoRA for `arch`, else why not (the reason the suite is skipped). */
async function loraBackend(pref: BackendPreference, arch: keyof typeof TINY): Promise<{ report?: BackendReport; reason: string }> {
  let report: BackendReport;
  try {
    report = await selectBackend(pref);
  } catch (err) {
    return { reason: `${pref} is unavailable: ${(err as Error).message.split('\n')[0]}` };
  }
  try {
    (await CausalLM.create(TINY[arch], { lora: { r: 2, alpha: 2 }, backend: report })).dispose();
    return { report, reason: '' };
  } catch (err) {
    if (err instanceof BackendUnavailableError && /LoRA adapters are not supported/.test(err.message)) return { reason: `the ${report.backend} core has no LoRA yet` };
    throw err;
  }
}

const last4 = (model: CausalLM): Promise<Float32Array> => modelLastFourReal(model, 'llama');

async function allLogits(model: CausalLM, ids: number[][], mask?: number[][]): Promise<Float32Array> {
  const logits = await model.forward(ids, mask ? { attentionMask: mask } : {});
  const data = await logits.data();
  logits.dispose();
  return data;
}

const sameTensors = (a: NamedTensors, b: NamedTensors): boolean => a.size === b.size && [...a].every(([k, t]) => b.has(k) && maxAbsDiff(t.data, b.get(k)!.data) === 0);

for (const pref of ['tfjs-cpu', 'native'] as const) {
  const llama = hasModernFixtures ? await loraBackend(pref, 'llama') : { reason: 'modern fixtures not found' };
  if (llama.reason) console.warn(`[model-lora] ${pref} llama skipped: ${llama.reason}`);

  describe.skipIf(!llama.report)(`LoRA end to end on ${pref}: the PEFT fixture over llama${llama.reason ? ` (skipped: ${llama.reason})` : ''}`, () => {
    const backend = llama.report!;
    const outputs = async (): Promise<Map<string, { data: unknown }>> => (await readSafetensors(join(ADAPTER, 'outputs.safetensors'))).tensors;

    it('load(llama, { adapter }) gives PEFT\'s logits (5e-5) and loss (3e-5); merge() the same logits', async () => {
      const fx = await loadModernFixture('llama');
      const model = await CausalLM.load(LLAMA, { adapter: ADAPTER, backend });
      const merged = await model.merge();
      try {
        const ref = (await outputs()).get('logits_last4_real')!.data as Float32Array;
        const adapted = await last4(model);
        expect(maxAbsDiff(adapted, ref)).toBeLessThan(5e-5);
        const { loss } = await model.training.loss(fx.batch);
        expect(Math.abs(loss - ((await outputs()).get('loss')!.data as Float32Array)[0]!)).toBeLessThan(3e-5);
        expect(merged.lora).toBeUndefined();
        expect(merged.info.backend).toBe(model.info.backend);
        expect(maxAbsDiff(await last4(merged), ref)).toBeLessThan(5e-5);
        expect(maxAbsDiff(await last4(merged), adapted)).toBeLessThan(5e-5);
      } finally {
        model.dispose();
        merged.dispose();
      }
    });

    it('save adapter -> load: the same logits; save merged -> load as a plain model: the merged logits', async () => {
      const model = await CausalLM.load(LLAMA, { adapter: ADAPTER, backend });
      const merged = await model.merge();
      const adapterDir = join(tmp, `${pref}-adapter`);
      const mergedDir = join(tmp, `${pref}-merged`);
      try {
        await model.save(adapterDir);
        await merged.save(mergedDir);
        expect(readFileSync(join(adapterDir, 'adapter_model.safetensors')).equals(readFileSync(join(ADAPTER, 'adapter_model.safetensors')))).toBe(true);
        const again = await CausalLM.load(LLAMA, { adapter: adapterDir, backend });
        const plain = await CausalLM.load(mergedDir, { backend });
        try {
          expect(maxAbsDiff(await last4(again), await last4(model))).toBeLessThanOrEqual(1e-6);
          expect(plain.lora).toBeUndefined();
          expect(maxAbsDiff(await last4(plain), await last4(merged))).toBeLessThanOrEqual(1e-6);
        } finally {
          again.dispose();
          plain.dispose();
        }
      } finally {
        model.dispose();
        merged.dispose();
      }
    });

    it('a training step moves the adapter alone; the saved adapter is the trained one', async () => {
      const fx = await loadModernFixture('llama');
      const model = await CausalLM.load(LLAMA, { lora: { r: 4, alpha: 8 }, backend, seed: 1 });
      const dir = join(tmp, `${pref}-trained`);
      try {
        const before = await model.training.getWeights();
        expect([...before.keys()]).toEqual(loraLayout(model.config, model.lora!).map((t) => t.name));
        await model.training.trainStep(fx.batch, { lr: 1e-2 });
        const after = await model.training.getWeights();
        expect(sameTensors(before, after)).toBe(false);
        await model.save(dir);
        const again = await CausalLM.load(dir, { backend });
        try {
          expect(sameTensors(await again.training.getWeights(), after)).toBe(true);
          expect(maxAbsDiff(await last4(again), await last4(model))).toBeLessThanOrEqual(1e-6);
        } finally {
          again.dispose();
        }
      } finally {
        model.dispose();
      }
    });
    it('the docs/students.md recipe: train() a fresh adapter, save it, load it alone, merge, save the merged model', async () => {
      const model = await CausalLM.load(LLAMA, { lora: { r: 4, alpha: 8 }, backend });
      const out = join(tmp, `${pref}-recipe`);
      try {
        const tok = model.tokenizer!;
        const pairs = [
          { prompt: 'Q: 2 + 3 =', completion: ' 5' },
          { prompt: 'Q: 4 + 4 =', completion: ' 8' },
          { prompt: 'Q: 1 + 6 =', completion: ' 7' },
        ];
        const examples = pairs.map((p) => encodePair(tok, p, { maxLength: 64 }));
        const before = await model.training.getWeights();
        const result = await train(model, examples, { batchSize: 2, maxSteps: 3, lr: 1e-2 });
        expect(result.steps).toBe(3);
        expect(result.losses.every(Number.isFinite)).toBe(true);
        expect(sameTensors(await model.training.getWeights(), before)).toBe(false);
        await model.save(join(out, 'adapter'));
        const alone = await CausalLM.load(join(out, 'adapter'), { backend });
        const merged = await alone.merge();
        await merged.save(join(out, 'merged'));
        const plain = await CausalLM.load(join(out, 'merged'), { backend });
        try {
          const trained = await last4(model);
          expect(maxAbsDiff(await last4(alone), trained)).toBeLessThanOrEqual(1e-6);
          expect(maxAbsDiff(await last4(plain), trained)).toBeLessThan(5e-5);
        } finally {
          alone.dispose();
          merged.dispose();
          plain.dispose();
        }
      } finally {
        model.dispose();
      }
    });
    it('training checkpoints of a LoRA model hold the adapter alone and resume to the uninterrupted run', async () => {
      const fresh = (): Promise<CausalLM> => CausalLM.load(LLAMA, { lora: { r: 4, alpha: 8 }, backend, seed: 2 });
      const pairs = ['Q: 2 + 3 =|5', 'Q: 4 + 4 =|8', 'Q: 1 + 6 =|7', 'Q: 9 - 2 =|7'].map((t) => ({ prompt: t.split('|')[0]!, completion: ` ${t.split('|')[1]}` }));
      const whole = await fresh();
      const examples = pairs.map((p) => encodePair(whole.tokenizer!, p, { maxLength: 64 }));
      const options = { batchSize: 2, maxSteps: 4, lr: 1e-2 };
      const dir = join(tmp, `${pref}-ckpt`);
      try {
        const uninterrupted = await train(whole, examples, options);
        const first = await fresh();
        await train(first, examples, { ...options, checkpoint: { dir, every: 2 }, stopAfterSteps: 2 });
        first.dispose();
        const weightsFile = readdirSync(dir).find((f) => f.startsWith('weights-'))!;
        const saved = (await readSafetensors(join(dir, weightsFile))).tensors;
        expect([...saved.keys()].sort()).toEqual(loraLayout(whole.config, whole.lora!).map((t) => t.name).sort());
        const resumed = await fresh();
        try {
          const rest = await train(resumed, examples, { ...options, checkpoint: { dir, every: 2 } });
          expect(rest.resumedFromStep).toBe(2);
          expect(rest.losses).toEqual(uninterrupted.losses);
          expect(sameTensors(await resumed.training.getWeights(), await whole.training.getWeights())).toBe(true);
        } finally {
          resumed.dispose();
        }
      } finally {
        whole.dispose();
      }
    });
  });

  const gpt2 = hasFixtures ? await loraBackend(pref, 'gpt2') : { reason: 'GPT-2 fixtures not found' };
  if (gpt2.reason) console.warn(`[model-lora] ${pref} gpt2 skipped: ${gpt2.reason}`);

  describe.skipIf(!gpt2.report)(`LoRA end to end on ${pref}: GPT-2 (Conv1D weights [in, out])${gpt2.reason ? ` (skipped: ${gpt2.reason})` : ''}`, () => {
    const backend = gpt2.report!;

    it('an adapter on c_attn, c_proj and c_fc: merged and unmerged logits agree (5e-5), and it reloads to the same logits', async () => {
      const model = await GPT2.load(FIXTURE_DIR, { lora: { r: 4, alpha: 8 }, backend });
      const dir = join(tmp, `${pref}-gpt2`);
      try {
        // B = 0 at init would hide a transposed merge: random adapters instead.
        const rng = new Rng(5);
        const adapters: NamedTensors = new Map(
          [...(await model.training.getWeights())].map(([name, t]) => [name, { shape: t.shape, data: t.data.map(() => 0.05 * (2 * rng.next() - 1)) }]),
        );
        await model.training.setWeights(adapters);
        const b = fixtureBatchJson();
        const unmerged = await allLogits(model, b.input_ids, b.attention_mask);
        const merged = await model.merge();
        try {
          expect(merged).toBeInstanceOf(GPT2);
          expect(maxAbsDiff(await allLogits(merged, b.input_ids, b.attention_mask), unmerged)).toBeLessThan(5e-5);
        } finally {
          merged.dispose();
        }
        await model.save(dir);
        expect(JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'))).toMatchObject({ fan_in_fan_out: true, target_modules: ['c_attn', 'c_fc', 'c_proj'] });
        const again = await GPT2.load(dir, { backend });
        try {
          expect(maxAbsDiff(await allLogits(again, b.input_ids, b.attention_mask), unmerged)).toBeLessThanOrEqual(1e-6);
        } finally {
          again.dispose();
        }
      } finally {
        model.dispose();
      }
    });
  });
}
