/**
 * vLLM `run-batch` file formats, for tests: the input schema it validates request lines with, and output lines
 * as it writes them (`BatchRequestOutput.model_dump_json()`, vllm/entrypoints/openai/run_batch.py: a
 * ChatCompletionResponse body on success; status 400, no body and a string or ErrorResponse `error` on failure).
 */
import { z } from 'zod';
import type { Problem } from '../../src/data/schema.js';
import { solution } from './fake-openai-batch.js';

/** vLLM's BatchRequestInput with its ChatCompletionRequest body: the fields a request line must have. */
export const VllmBatchRequestInput = z.object({
  custom_id: z.string(),
  method: z.string(),
  url: z.literal('/v1/chat/completions'),
  body: z
    .object({
      model: z.string().optional(),
      messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })).min(1),
      temperature: z.number().min(0).max(2).optional(),
      max_tokens: z.number().int().positive().optional(),
    })
    .passthrough(),
});
export type VllmRequest = z.infer<typeof VllmBatchRequestInput>;

export type VllmOutcome = 'ok' | 'off-format' | 'error-string' | 'error-response';

let n = 0;
const uuid = () => `${(++n).toString(16).padStart(8, '0')}c0ffee4b1d9a2e7f5c3b`;

/** One output line as vLLM writes it for a request. */
export function vllmOutputLine(request: VllmRequest, problem: Problem | undefined, outcome: VllmOutcome): string {
  if (outcome === 'error-string' || outcome === 'error-response') {
    const message = 'This model\'s maximum context length is 2048 tokens. However, you requested 2600 tokens.';
    const error = outcome === 'error-string' ? message : { error: { message, type: 'BadRequestError', param: null, code: 400 } };
    return JSON.stringify({ id: `vllm-${uuid()}`, custom_id: request.custom_id, response: { status_code: 400, request_id: `vllm-batch-${uuid()}`, body: null }, error });
  }
  const content = outcome === 'off-format' || !problem ? 'I cannot answer that.' : solution(problem);
  return JSON.stringify({
    id: `vllm-${uuid()}`,
    custom_id: request.custom_id,
    response: {
      status_code: 200,
      request_id: `vllm-batch-${uuid()}`,
      body: {
        id: `chatcmpl-${uuid()}`,
        object: 'chat.completion',
        created: 1735689600,
        model: request.body.model,
        choices: [{
          index: 0,
          message: { role: 'assistant', content, refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning_content: null },
          logprobs: null, finish_reason: 'stop', stop_reason: null,
        }],
        service_tier: null, system_fingerprint: null,
        usage: { prompt_tokens: 100, total_tokens: 120, completion_tokens: 20, prompt_tokens_details: null },
        prompt_logprobs: null, kv_transfer_params: null,
      },
    },
    error: null,
  });
}
