/**
 * PEFT LoRA adapters at the model layer: adapter_config.json and adapter_model.safetensors in and out on the PEFT
 * fixture (../shared/fixtures/modern/llama-lora), refused PEFT features, adapters over the wrong base (a base path
 * that names another directory, shapes, layers, targets), and the adapter paths of CausalLM (load with `adapter` or
 * `lora`, save, merge, an adapter directory alone, files in memory) end to end on the float64 reference core of
 * test/helpers/reference-llama.ts, which computes LoRA unmerged (W x + scale B A x) as PEFT does. The same end to
 * end checks on the production cores are in model-lora.test.ts.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/arch/config.js';
import { initWeights } from '../src/arch/init.js';
import { loraLayout, resolveLora } from '../src/arch/lora.js';
import { ModelConfigError } from '../src/errors.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { adapterConfigJson, adapterSafetensors, adapterSpec, adapterWeights, parseAdapterConfig } from '../src/model/adapter.js';
import { readAdapterDir } from '../src/model/adapter-fs.js';
import { CausalLM } from '../src/model/causal-lm.js';
import { writeCheckpoint } from '../src/model/checkpoint-fs.js';
import { GPT2 } from '../src/model/gpt2.js';
import { asFloat, FIXTURE_DIR, hasFixtures, maxAbsDiff } from './helpers/fixtures.js';
import { hasModernFixtures, loadModernFixture, MODERN_DIR, modelLastFourReal } from './helpers/modern.js';
import { referenceBackend } from './helpers/reference-llama.js';

const tmp = mkdtempSync(join(tmpdir(), 'lora-adapter-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const LLAMA = join(MODERN_DIR, 'llama');
const QWEN3 = join(MODERN_DIR, 'qwen3');
const ADAPTER = join(MODERN_DIR, 'llama-lora');
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const fixtureConfigJson = (): Record<string, unknown> => readJson(join(ADAPTER, 'adapter_config.json'));
const backend = referenceBackend;

/** A copy of the fixture adapter in a fresh directory, its adapter_config.json edited. */
function adapterCopy(name: string, edit: (c: Record<string, unknown>) => Record<string, unknown> = (c) => c): string {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ADAPTER, 'adapter_model.safetensors'), join(dir, 'adapter_model.safetensors'));
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(edit(fixtureConfigJson()), null, 2));
  return dir;
}

/** A seeded random base with the llama fixture's config edited (other shapes, other layer counts). */
async function baseLike(name: string, edit: (c: Record<string, unknown>) => Record<string, unknown>): Promise<string> {
  const dir = join(tmp, name);
  const config = parseModelConfig(edit(readJson(join(LLAMA, 'config.json'))), name);
  await writeCheckpoint(dir, { config, weights: initWeights(config, 1) });
  return dir;
}

const last4 = (model: CausalLM): Promise<Float32Array> => modelLastFourReal(model, 'llama');
const fixtureLogits = async (): Promise<Float32Array> => (await readSafetensors(join(ADAPTER, 'outputs.safetensors'))).tensors.get('logits_last4_real')!.data as Float32Array;

describe.skipIf(!hasModernFixtures)('PEFT adapter files (no core)', () => {
  it('reads the fixture adapter: its config, and exactly its 28 tensors under loraLayout names', async () => {
    const fx = await loadModernFixture('llama');
    const read = await readAdapterDir(ADAPTER);
    expect(read.config).toEqual({ r: 4, alpha: 8, targets: ['k_proj', 'up_proj', 'gate_proj', 'o_proj', 'v_proj', 'q_proj', 'down_proj'], baseModel: '../llama' });
    const spec = adapterSpec(fx.config, read.config, read.configFile, LLAMA);
    expect(spec).toEqual({ r: 4, alpha: 8, targets: ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'] });
    const weights = adapterWeights(read.tensors, fx.config, spec, read.weightsFile, LLAMA);
    const file = (await readSafetensors(join(ADAPTER, 'adapter_model.safetensors'))).tensors;
    expect(weights.size).toBe(28);
    expect([...weights.keys()]).toEqual(loraLayout(fx.config, spec).map((t) => t.name));
    for (const [name, t] of weights) {
      const raw = file.get(`base_model.model.${name}`)!;
      expect(t.shape, name).toEqual(raw.shape);
      expect(maxAbsDiff(t.data, raw.data as Float32Array), name).toBe(0);
    }
  });

  it('writes adapter_model.safetensors byte for byte as PEFT did, and an adapter_config.json with PEFT\'s values', async () => {
    const fx = await loadModernFixture('llama');
    const read = await readAdapterDir(ADAPTER);
    const spec = adapterSpec(fx.config, read.config, read.configFile, LLAMA);
    const bytes = adapterSafetensors(fx.config, spec, adapterWeights(read.tensors, fx.config, spec, read.weightsFile, LLAMA));
    expect(Buffer.from(bytes).equals(readFileSync(join(ADAPTER, 'adapter_model.safetensors')))).toBe(true);

    const written = JSON.parse(adapterConfigJson(fx.config, spec, '/models/llama')) as Record<string, unknown>;
    const peft = fixtureConfigJson();
    expect(Object.keys(written)).toEqual(Object.keys(written).sort());
    for (const [key, value] of Object.entries(written)) {
      if (key === 'base_model_name_or_path') expect(value).toBe('/models/llama');
      else if (key === 'target_modules') expect(value).toEqual([...(peft.target_modules as string[])].sort());
      else expect(value, key).toEqual(peft[key]);
    }
    expect(parseAdapterConfig(written, 'written')).toEqual({ r: 4, alpha: 8, targets: spec.targets, baseModel: '/models/llama' });
    // GPT-2's Conv1D weights are [in, out]: PEFT's fan_in_fan_out.
    const gpt2 = parseModelConfig({ vocab_size: 10, n_positions: 8, n_embd: 4, n_layer: 1, n_head: 1 }, 'gpt2');
    expect(JSON.parse(adapterConfigJson(gpt2, resolveLora(gpt2, { r: 2, alpha: 2 }), null))).toMatchObject({ fan_in_fan_out: true, target_modules: ['c_attn', 'c_fc', 'c_proj'], base_model_name_or_path: null });
  });

  it.each([
    ['use_dora', true, /use_dora true: DoRA/],
    ['use_rslora', true, /use_rslora true: rank-stabilised LoRA/],
    ['rank_pattern', { q_proj: 8 }, /rank_pattern \{"q_proj":8\}: per-module ranks/],
    ['alpha_pattern', { 'model.layers.0.self_attn.q_proj': 16 }, /alpha_pattern .*: per-module alphas/],
    ['modules_to_save', ['lm_head'], /modules_to_save \["lm_head"\]: fully trained modules/],
    ['bias', 'all', /bias "all": trained biases/],
    ['bias', 'lora_only', /bias "lora_only"/],
    ['lora_bias', true, /lora_bias true/],
    ['peft_type', 'IA3', /peft_type "IA3": only LoRA adapters/],
    ['task_type', 'SEQ_CLS', /task_type "SEQ_CLS": only causal-LM adapters/],
    ['layers_to_transform', [0], /layers_to_transform \[0\]: adapters on some layers only/],
    ['init_lora_weights', 'pissa', /init_lora_weights "pissa": this init rewrites the base weights/],
    ['target_modules', '.*proj', /target_modules ".\*proj" is a regular expression/],
    ['r', 0, /not a PEFT LoRA config: r:/],
  ])('refuses %s = %j, naming the field', (field, value, message) => {
    const json = { ...fixtureConfigJson(), [field]: value };
    expect(() => parseAdapterConfig(json, 'x/adapter_config.json')).toThrow(ModelConfigError);
    expect(() => parseAdapterConfig(json, 'x/adapter_config.json')).toThrow(message);
  });

  it('accepts what does not change the adapter: dropout (a training-time knob), either fan_in_fan_out, base-preserving inits, all-linear', () => {
    const fx = parseModelConfig(readJson(join(LLAMA, 'config.json')), 'llama');
    const parsed = parseAdapterConfig({ ...fixtureConfigJson(), lora_dropout: 0.05, fan_in_fan_out: true, init_lora_weights: 'gaussian', target_modules: 'all-linear', some_future_field: 1 }, 'x');
    expect(adapterSpec(fx, parsed, 'x', 'base').targets).toHaveLength(7);
    expect(parseAdapterConfig({ ...fixtureConfigJson(), base_model_name_or_path: null, task_type: null }, 'x').baseModel).toBeNull();
  });
});

describe.skipIf(!hasModernFixtures)('an adapter over the wrong base (refused before a core is built)', () => {
  it('base_model_name_or_path naming another directory that exists: the error names both', async () => {
    // The fixture names "../llama" (relative to the adapter directory); the qwen3 fixture is another base.
    const err = await CausalLM.load(QWEN3, { adapter: ADAPTER, backend }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelConfigError);
    expect((err as Error).message).toContain(`made for the base ${resolve(LLAMA)}`);
    expect((err as Error).message).toContain(`loaded over ${resolve(QWEN3)}`);
    // An absolute path the same; a hub id (no directory here) is not checked, only the shapes are.
    const abs = adapterCopy('abs-base', (c) => ({ ...c, base_model_name_or_path: resolve(LLAMA) }));
    await expect(CausalLM.load(QWEN3, { adapter: abs, backend })).rejects.toThrow(/made for the base .*llama.*loaded over .*qwen3/);
    const hub = adapterCopy('hub-base', (c) => ({ ...c, base_model_name_or_path: 'HuggingFaceTB/SmolLM2-135M' }));
    (await CausalLM.load(LLAMA, { adapter: hub, backend })).dispose();
  });

  it('a copy of the base it names (same config.json and weight files, another directory) is that base', async () => {
    const copy = join(tmp, 'llama-copy');
    mkdirSync(copy, { recursive: true });
    for (const f of readdirSync(LLAMA)) copyFileSync(join(LLAMA, f), join(copy, f));
    const abs = adapterCopy('abs-base-for-copy', (c) => ({ ...c, base_model_name_or_path: resolve(LLAMA) }));
    const model = await CausalLM.load(copy, { adapter: abs, backend });
    expect(model.lora?.r).toBeGreaterThan(0);
    model.dispose();
  });

  it('shapes for another hidden size: the error names the tensor, the adapter file and the base', async () => {
    const wide = await baseLike('wide-base', (c) => ({ ...c, hidden_size: 128 }));
    const adapter = adapterCopy('unnamed-base', (c) => ({ ...c, base_model_name_or_path: null }));
    const err = (await CausalLM.load(wide, { adapter, backend }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ModelConfigError);
    expect(err.message).toMatch(new RegExp(`^${join(adapter, 'adapter_model.safetensors')}: tensor 'base_model\\.model\\.model\\.layers\\.0\\.\\S+' has shape \\[\\d+, \\d+\\] but the base ${wide} needs`));
    expect(err.message).toMatch(/the adapter was made for another model/);
  });

  it('another number of layers: an extra or a missing tensor, naming the base', async () => {
    const adapter = adapterCopy('unnamed-base-2', (c) => ({ ...c, base_model_name_or_path: null }));
    const one = await baseLike('one-layer', (c) => ({ ...c, num_hidden_layers: 1 }));
    await expect(CausalLM.load(one, { adapter, backend })).rejects.toThrow(new RegExp(`unexpected tensor 'base_model\\.model\\.model\\.layers\\.1\\..*not a LoRA tensor of the base ${one} \\(a llama with 1 layers`));
    const three = await baseLike('three-layers', (c) => ({ ...c, num_hidden_layers: 3 }));
    await expect(CausalLM.load(three, { adapter, backend })).rejects.toThrow(new RegExp(`missing tensor 'base_model\\.model\\.model\\.layers\\.2\\..*\\(and 13 more\\), which the base ${three}`));
  });

  it.skipIf(!hasFixtures)('a Llama adapter over GPT-2: its target modules are not GPT-2\'s', async () => {
    const adapter = adapterCopy('unnamed-base-3', (c) => ({ ...c, base_model_name_or_path: null }));
    await expect(GPT2.load(FIXTURE_DIR, { adapter, backend: 'tfjs-cpu' })).rejects.toThrow(/gpt2 has no module .*valid targets: c_attn, c_proj, c_fc \(the base .*gpt2 is a gpt2: is the adapter for another model\?\)/);
  });

  it('in memory: the shapes are checked the same (there is no directory to compare)', async () => {
    const base = await baseLike('wide-base-2', (c) => ({ ...c, intermediate_size: 64 }));
    const files = {
      config: readJson(join(base, 'config.json')),
      safetensors: new Uint8Array(readFileSync(join(base, 'model.safetensors'))),
    };
    const adapter = { config: fixtureConfigJson(), safetensors: new Uint8Array(readFileSync(join(ADAPTER, 'adapter_model.safetensors'))), where: 'https://x.test/lora' };
    await expect(CausalLM.fromCheckpointFiles(files, { adapter, where: 'https://x.test/base', backend })).rejects.toThrow(
      /^https:\/\/x\.test\/lora\/adapter_model\.safetensors: tensor .*mlp\.\w+_proj\.lora_\w\.weight' has shape .* but the base https:\/\/x\.test\/base needs/,
    );
  });

  it('refuses an adapter with lora, a pickle adapter, and an adapter directory given as the base', async () => {
    await expect(CausalLM.load(LLAMA, { adapter: ADAPTER, lora: { r: 2, alpha: 2 }, backend })).rejects.toThrow(/either adapter .* or lora/);
    const pickle = join(tmp, 'pickle');
    mkdirSync(pickle, { recursive: true });
    writeFileSync(join(pickle, 'adapter_config.json'), JSON.stringify({ ...fixtureConfigJson(), base_model_name_or_path: null }));
    writeFileSync(join(pickle, 'adapter_model.bin'), 'not read');
    await expect(CausalLM.load(LLAMA, { adapter: pickle, backend })).rejects.toThrow(/adapter_model\.bin \(a pickle\), which is never read here/);
    await expect(CausalLM.load(ADAPTER, { adapter: ADAPTER, backend })).rejects.toThrow(/is itself a LoRA adapter/);
    await expect(CausalLM.load(pickle, { backend })).rejects.toThrow(/base_model_name_or_path null is not a directory here; load it with CausalLM\.load\(baseDir, \{ adapter:/);
  });
});

describe.skipIf(!hasModernFixtures)('CausalLM with an adapter, end to end on the float64 reference core (unmerged LoRA)', () => {
  it('load(llama, { adapter }) gives the PEFT fixture logits (5e-5); merge() gives them too, as a plain model', async () => {
    const model = await CausalLM.load(LLAMA, { adapter: ADAPTER, backend });
    const merged = await model.merge();
    try {
      expect(model.lora).toEqual({ r: 4, alpha: 8, targets: ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'] });
      expect(model.training.lora).toEqual(model.lora);
      expect([...(await model.training.getWeights()).keys()]).toHaveLength(28);
      const adapted = await last4(model);
      expect(maxAbsDiff(adapted, await fixtureLogits())).toBeLessThan(5e-5);
      expect(merged.lora).toBeUndefined();
      expect(merged.tokenizer).toBe(model.tokenizer);
      expect(maxAbsDiff(await last4(merged), await fixtureLogits())).toBeLessThan(5e-5);
      expect(maxAbsDiff(await last4(merged), adapted)).toBeLessThan(5e-5);
      await expect(merged.merge()).rejects.toThrow(/no LoRA adapter to fold in/);
      await expect(model.toCheckpointFiles()).rejects.toThrow(/toAdapterFiles\(\) gives the adapter, merge\(\) a plain model/);
      await expect(merged.toAdapterFiles()).rejects.toThrow(/has no LoRA adapter/);
    } finally {
      model.dispose();
      merged.dispose();
    }
  });

  it('save() writes a PEFT adapter directory (the fixture\'s tensors byte for byte, the tokenizer files); it loads back to the same logits', async () => {
    const model = await CausalLM.load(LLAMA, { adapter: ADAPTER, backend });
    const out = join(tmp, 'saved-adapter');
    try {
      await model.save(out);
      expect(readdirSync(out).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'chat_template.jinja', 'tokenizer.json', 'tokenizer_config.json']);
      expect(readFileSync(join(out, 'adapter_model.safetensors')).equals(readFileSync(join(ADAPTER, 'adapter_model.safetensors')))).toBe(true);
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']) expect(readFileSync(join(out, f), 'utf8'), f).toBe(readFileSync(join(LLAMA, f), 'utf8'));
      expect(readJson(join(out, 'adapter_config.json'))).toMatchObject({ base_model_name_or_path: resolve(LLAMA), r: 4, lora_alpha: 8, peft_type: 'LORA', task_type: 'CAUSAL_LM' });
      const again = await CausalLM.load(LLAMA, { adapter: out, backend });
      // The directory alone: its base_model_name_or_path names the base, as AutoPeftModelForCausalLM reads it.
      const alone = await CausalLM.load(out, { backend });
      try {
        const logits = await last4(model);
        expect(maxAbsDiff(await last4(again), logits)).toBe(0);
        expect(maxAbsDiff(await last4(alone), logits)).toBe(0);
        expect(alone.lora).toEqual(model.lora);
      } finally {
        again.dispose();
        alone.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  it('the merged model saves a plain HF checkpoint that loads to the same logits (and replaces an adapter saved there)', async () => {
    const model = await CausalLM.load(LLAMA, { adapter: ADAPTER, backend });
    const merged = await model.merge();
    const out = join(tmp, 'merged');
    try {
      await model.save(out);
      await merged.save(out);
      expect(readdirSync(out).sort()).toEqual(['chat_template.jinja', 'config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
      const plain = await CausalLM.load(out, { backend });
      try {
        expect(plain.lora).toBeUndefined();
        expect(maxAbsDiff(await last4(plain), await last4(merged))).toBe(0);
        expect(maxAbsDiff(await last4(plain), await fixtureLogits())).toBeLessThan(5e-5);
      } finally {
        plain.dispose();
      }
      // And back: an adapter saved over a full model removes its files, so the directory is an adapter again.
      await model.save(out);
      expect(existsSync(join(out, 'config.json')) || existsSync(join(out, 'model.safetensors'))).toBe(false);
    } finally {
      model.dispose();
      merged.dispose();
    }
  });

  it('a fresh adapter (lora) starts at B = 0: the base logits, only adapter tensors to train, saved with its base path', async () => {
    const plain = await CausalLM.load(LLAMA, { backend });
    const model = await CausalLM.load(LLAMA, { lora: { r: 2, alpha: 4, targets: ['v_proj', 'q_proj'] }, backend, seed: 3 });
    try {
      expect(model.lora).toEqual({ r: 2, alpha: 4, targets: ['q_proj', 'v_proj'] });
      const weights = await model.training.getWeights();
      expect([...weights.keys()]).toEqual(loraLayout(model.config, model.lora!).map((t) => t.name));
      expect([...weights].filter(([n]) => n.includes('lora_B')).every(([, t]) => t.data.every((x) => x === 0))).toBe(true);
      expect([...weights].filter(([n]) => n.includes('lora_A')).some(([, t]) => t.data.some((x) => x !== 0))).toBe(true);
      expect(maxAbsDiff(await last4(model), await last4(plain))).toBe(0);
      const files = await model.toAdapterFiles();
      expect(JSON.parse(files.adapterConfigJson)).toMatchObject({ r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: resolve(LLAMA) });
      expect(Object.keys(files.assets ?? {}).sort()).toEqual(['chat_template.jinja', 'tokenizer.json', 'tokenizer_config.json']);
      // A created model has no base directory to name.
      const created = await CausalLM.create(plain.config, { lora: { r: 2, alpha: 2 }, backend });
      expect(JSON.parse((await created.toAdapterFiles()).adapterConfigJson).base_model_name_or_path).toBeNull();
      created.dispose();
      await expect(CausalLM.load(LLAMA, { lora: { r: 2, alpha: 4, targets: ['c_attn'] }, backend })).rejects.toThrow(/no module "c_attn"/);
    } finally {
      plain.dispose();
      model.dispose();
    }
  });

  it('adapter weights set through training are the ones saved and reloaded', async () => {
    const model = await CausalLM.load(LLAMA, { lora: { r: 4, alpha: 8 }, backend });
    const out = join(tmp, 'set-adapter');
    try {
      const fixture = await CausalLM.load(LLAMA, { adapter: ADAPTER, backend });
      await model.training.setWeights(await fixture.training.getWeights());
      fixture.dispose();
      expect(maxAbsDiff(await last4(model), await fixtureLogits())).toBeLessThan(5e-5);
      await model.save(out);
      const again = await CausalLM.load(out, { backend });
      expect(maxAbsDiff(await last4(again), await last4(model))).toBe(0);
      again.dispose();
    } finally {
      model.dispose();
    }
  });

  it('refuses to save an adapter into its base directory (it would sit on the model it adapts)', async () => {
    const base = join(tmp, 'base-copy');
    mkdirSync(base, { recursive: true });
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(LLAMA, f), join(base, f));
    const model = await CausalLM.load(base, { lora: { r: 2, alpha: 2 }, backend });
    try {
      await expect(model.save(base)).rejects.toThrow(/cannot save the adapter into its base model's directory/);
      expect(readdirSync(base).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    } finally {
      model.dispose();
    }
  });

  it('tokenizer files saved beside an adapter replace the base\'s; in memory, the adapter loads from its files', async () => {
    const dir = adapterCopy('own-tokenizer');
    // The fixture names "../llama" relative to its own directory; this copy names the base directly.
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...fixtureConfigJson(), base_model_name_or_path: resolve(LLAMA) }));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(LLAMA, f), join(dir, f));
    writeFileSync(join(dir, 'chat_template.jinja'), '{{ messages }}');
    const model = await CausalLM.load(dir, { backend });
    try {
      expect((await model.toAdapterFiles()).assets?.['chat_template.jinja']).toBe('{{ messages }}');
    } finally {
      model.dispose();
    }
    const text = (f: string): string => readFileSync(join(LLAMA, f), 'utf8');
    const inMemory = await CausalLM.fromCheckpointFiles(
      {
        config: readJson(join(LLAMA, 'config.json')),
        safetensors: new Uint8Array(readFileSync(join(LLAMA, 'model.safetensors'))),
        assets: { 'tokenizer.json': text('tokenizer.json'), 'tokenizer_config.json': text('tokenizer_config.json') },
      },
      { adapter: { config: fixtureConfigJson(), safetensors: new Uint8Array(readFileSync(join(ADAPTER, 'adapter_model.safetensors'))) }, where: 'https://x.test/llama', backend },
    );
    try {
      expect(maxAbsDiff(await last4(inMemory), await fixtureLogits())).toBeLessThan(5e-5);
      expect(JSON.parse((await inMemory.toAdapterFiles()).adapterConfigJson).base_model_name_or_path).toBe('https://x.test/llama');
    } finally {
      inMemory.dispose();
    }
  });

  it('plain checkpoints are untouched: the fixture still loads without an adapter, and asFloat weights match', async () => {
    const model = await CausalLM.load(LLAMA, { backend });
    try {
      expect(model.lora).toBeUndefined();
      const file = asFloat((await readSafetensors(join(LLAMA, 'model.safetensors'))).tensors);
      const w = await model.training.getWeights();
      expect(maxAbsDiff(w.get('model.layers.0.self_attn.q_proj.weight')!.data, file.get('model.layers.0.self_attn.q_proj.weight')!.data)).toBe(0);
    } finally {
      model.dispose();
    }
  });
});
