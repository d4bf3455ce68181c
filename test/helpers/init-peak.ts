/**
 * Child process of native-init-stream.test.ts: builds a native CPU core from a seeded init (LoRA r 8 on every
 * projection when argv[2] is `lora`) and prints, as JSON, the process's peak resident set (VmHWM) before and after,
 * and the bytes of the base weights. Its own process, so the peak is this build's alone.
 */
import { readFileSync } from 'node:fs';
import { numel, paramLayout } from '../../src/arch/layout.js';
import { parseLlamaConfig } from '../../src/arch/llama.js';
import { resolveLora } from '../../src/arch/lora.js';
import { probeNativeCpu } from '../../src/backend/native/probe.js';

const vmHwm = (): number => 1024 * Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);

const config = parseLlamaConfig({
  model_type: 'llama', vocab_size: 32000, hidden_size: 512, intermediate_size: 1536, num_hidden_layers: 6, max_position_embeddings: 64,
  num_attention_heads: 8, num_key_value_heads: 4, tie_word_embeddings: true, rms_norm_eps: 1e-5,
});
const probe = probeNativeCpu();
if (!probe.ok) throw new Error(probe.reason);
const lora = process.argv[2] === 'lora' ? { spec: resolveLora(config, { r: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }) } : undefined;
const before = vmHwm();
const core = await probe.createCore(config, { seed: 3, ...(lora ? { lora } : {}) });
const after = vmHwm();
const weightBytes = 4 * paramLayout(config).reduce((n, s) => n + numel(s.shape), 0);
const largestTensorBytes = 4 * Math.max(...paramLayout(config).map((s) => numel(s.shape)));
console.log(JSON.stringify({ before, after, weightBytes, largestTensorBytes, coreBytes: core.memory().bytes }));
core.dispose();
