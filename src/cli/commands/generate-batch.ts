import type { Problem } from '../../data/schema.js';
import { CostLimitError, InvalidOptionError } from '../../errors.js';
import {
  BATCH_API_DISCOUNT,
  batchPricing,
  cancelChainsBatch,
  estimateGeneration,
  generateChainsBatch,
  ingestBatchResults,
  writeBatchRequests,
  type BatchProgress,
  type GenerateBatchSummary,
  type GenerationEstimate,
  type IngestSummary,
  type PriceEstimate,
  type PricingWithSource,
} from '../../generate/index.js';
import type { BatchApiTeacher, TeacherClient, TeacherMode } from '../../teacher/index.js';
import { CliUsageError } from '../usage-error.js';
import { intFlag, numberFlag, stringFlag } from './data-flags.js';

/** The part of `generate --help` about batch engines, prices and the cost cap. */
export const BATCH_HELP = `
Batch engines (the OpenAI-compatible teacher; --teacher defaults to openai with these flags):
  --batch                 send the requests through the provider's Batch API (half the live price, done within 24 h):
                          one request line per (problem, sample), custom_id = <problem id>#<sample index>, uploaded and
                          submitted; the batch is recorded in <out>.batch.json. Rerun the same command to resume it:
                          it waits (--poll-ms MS first, growing to 12x), downloads the results and writes the chains.
                          Ctrl-C leaves the batch running at the provider. Failed, expired and cancelled lines are listed
                          in <out>.failures.json and the next run submits only the samples still missing.
  --batch --cancel        cancel the recorded batch; the next --batch run keeps what completed.
  --write-requests FILE   write the same request lines to FILE and stop (vllm run-batch -i FILE -o results.jsonl --model M).
  --ingest FILE --out O   read an engine's result lines (Batch API / vLLM run-batch format) into chains; lines already in O
                          are skipped, unknown custom_ids and a torn last line are reported. Use the flags that wrote them.
  --estimate              print the request count, prompt tokens, the completion-token bound (max_tokens) and the price,
                          live and batch, and stop; nothing is sent.
  --max-cost USD          refuse to start when the upper bound (every reply uses all of --max-tokens, default 512) exceeds
                          USD at the price that applies. Batch runs retry nothing inside a batch; live runs may bill retries
                          (re-sampled off-format replies) on top of the bound.
Prices: --price-prompt/--price-completion are the live USD prices per million tokens (none are built in: prices change).
The batch price is --batch-discount (default ${BATCH_API_DISCOUNT}, the OpenAI Batch API's 50% discount) times the live price.
The estimate and the batch summary print the prices used and where they came from.`;

export type BatchMode = 'batch' | 'cancel' | 'write-requests' | 'ingest' | 'estimate';

/** Which batch-engine mode the flags ask for, if any; contradictory combinations are usage errors. */
export function batchModeOf(v: Record<string, unknown>): BatchMode | undefined {
  const modes: BatchMode[] = [];
  if (v.batch) modes.push(v.cancel ? 'cancel' : 'batch');
  else if (v.cancel) throw new CliUsageError('--cancel goes with --batch (it cancels the batch recorded next to --out)');
  if (stringFlag(v, 'write-requests') !== undefined) modes.push('write-requests');
  if (stringFlag(v, 'ingest') !== undefined) modes.push('ingest');
  if (v.estimate) modes.push('estimate');
  if (modes.length > 1) throw new CliUsageError(`--${modes.join(', --')} cannot be combined; choose one`);
  return modes[0];
}

/** Live and batch prices from the flags, each with where it came from. */
export function pricingFromFlags(v: Record<string, unknown>): { live?: PricingWithSource; batch?: PricingWithSource } {
  const pp = numberFlag(v, 'price-prompt');
  const pc = numberFlag(v, 'price-completion');
  const discount = numberFlag(v, 'batch-discount', 0, 1);
  if (pp === undefined && pc === undefined) {
    if (discount !== undefined) throw new CliUsageError('--batch-discount needs --price-prompt and --price-completion (the live prices it discounts)');
    return {};
  }
  const live = { promptPerMillion: pp ?? 0, completionPerMillion: pc ?? 0, source: '--price-prompt/--price-completion' };
  const d = discount ?? BATCH_API_DISCOUNT;
  const source = discount === undefined ? `${d} x the live price: the OpenAI Batch API's 50% discount, --batch-discount to change` : `--batch-discount ${d} x the live price`;
  return { live, batch: { ...batchPricing(live, d), source } };
}

function isBatchable(t: TeacherClient): t is BatchApiTeacher {
  const b = t as Partial<BatchApiTeacher>;
  return typeof b.chatRequest === 'function' && typeof b.readReply === 'function' && typeof b.batchProvider === 'function';
}

export function requireBatchable(teacher: TeacherClient, what: string): BatchApiTeacher {
  if (!isBatchable(teacher)) throw new CliUsageError(`${what} needs --teacher openai (a teacher whose requests are chat completions), not '${teacher.id}'`);
  return teacher;
}

const n = (x: number) => x.toLocaleString('en-US');
const usd = (x: number) => `$${x.toFixed(4)}`;
const perMillion = (p: PricingWithSource) => `$${p.promptPerMillion}/$${p.completionPerMillion} per million prompt/completion tokens (${p.source})`;

function priceLine(label: string, p: PriceEstimate | null): string {
  if (!p) return `${label}: no price: give --price-prompt and --price-completion (USD per million tokens; none are built in)`;
  return `${label}: ${usd(p.promptUSD)} prompt + at most ${usd(p.completionUpperBoundUSD)} completion = at most ${usd(p.upperBoundUSD)}, at ${perMillion(p.pricing)}`;
}

export function estimateReport(e: GenerationEstimate, out: string | undefined): string {
  return [
    `estimate, nothing sent: ${n(e.requests)} requests (${n(e.problems)} problems x ${e.samplesPerProblem} samples${out ? `, ${n(e.alreadyDone)} already in ${out}` : ''}), model ${e.model}, max_tokens ${e.maxTokens}`,
    `prompt tokens: ${n(e.promptTokens)} (${e.counting.note})`,
    `completion tokens: at most ${n(e.completionTokensUpperBound)} (${n(e.requests)} requests x max_tokens ${e.maxTokens})`,
    priceLine('live', e.live),
    priceLine('batch', e.batch),
  ].join('\n');
}

function batchReport(s: GenerateBatchSummary): string {
  if (s.requests === 0 && !s.batchId) return `nothing to submit: all ${s.total * s.samplesPerProblem} samples are in ${s.out}`;
  const counts = s.counts ? `, ${s.counts.completed}/${s.counts.total} done, ${s.counts.failed} failed` : '';
  if (s.aborted) {
    return `stopped waiting for batch ${s.batchId ?? '(not submitted yet)'} (${s.status ?? 'planned'}${counts}); it goes on at the provider: rerun the same command to resume, or add --cancel to cancel it`;
  }
  const lines = [
    `batch ${s.batchId} ${s.status}${s.resumed ? ' (resumed from ' + s.statePath + ')' : ''}: ${s.chainsWritten} chains written to ${s.out}` +
      `${s.duplicates ? `, ${s.duplicates} already there` : ''}${s.failed.length ? `, ${s.failed.length} failed lines (listed in ${s.failuresPath})` : ''}`,
  ];
  const cost = s.pricing ? `; cost ${usd(s.costUSD ?? 0)} at the batch price ${perMillion(s.pricing)}; all batches of this file: ${usd(s.costAllBatchesUSD ?? 0)}` : '; no price given (--price-prompt/--price-completion)';
  lines.push(`tokens billed: ${n(s.usage.promptTokens)} prompt + ${n(s.usage.completionTokens)} completion, from every response body${cost}`);
  if (s.unknown.length) lines.push(`${s.unknown.length} result lines had custom_ids no request of these problems has; skipped`);
  if (s.missing > 0) lines.push(`${s.missing} samples still missing: rerun the same command to submit only those`);
  if (s.repairedTruncatedBytes > 0) lines.push(`repaired a torn last line (${s.repairedTruncatedBytes} bytes) left by an earlier crash`);
  return lines.join('\n');
}

function ingestReport(s: IngestSummary): string {
  const lines = [
    `ingested ${s.results}: ${s.linesRead} lines, ${s.chainsWritten} chains written to ${s.out}` +
      `${s.duplicates ? `, ${s.duplicates} already there (skipped)` : ''}${s.failed.length ? `, ${s.failed.length} failed lines (listed in ${s.failuresPath})` : ''}`,
  ];
  if (s.unknown.length) {
    const shown = s.unknown.slice(0, 5).map((u) => `line ${u.line}: '${u.customId}'`).join(', ');
    lines.push(`${s.unknown.length} lines with unknown custom_ids skipped (${shown}${s.unknown.length > 5 ? ', …' : ''}); were the requests written with the same --dataset/--samples flags?`);
  }
  if (s.truncatedTail) lines.push(`${s.results}: the last line (line ${s.truncatedTail.line}, ${s.truncatedTail.bytes} bytes) is cut off mid-record: skipped; ingest again once the engine has finished writing it`);
  const cost = s.pricing ? `, cost ${usd(s.costUSD ?? 0)} at ${perMillion(s.pricing)}` : '';
  lines.push(`tokens: ${n(s.usage.promptTokens)} prompt + ${n(s.usage.completionTokens)} completion, from the response bodies of the lines ingested${cost}`);
  if (s.missing > 0) lines.push(`${s.missing} samples still missing`);
  return lines.join('\n');
}

export interface BatchCommandContext {
  mode: BatchMode;
  flags: Record<string, unknown>;
  teacher: TeacherClient;
  problems: readonly Problem[];
  out: string | undefined;
  teacherMode: TeacherMode;
  samples: number;
  temperature: number | undefined;
}

/** The library's option errors, in flags. */
function asFlags(err: unknown): never {
  if (err instanceof InvalidOptionError) {
    const flag = err.option === 'teacher' ? '--model, --mode and --samples' : `--${err.option}`;
    throw new CliUsageError(`${flag} ${err.requirement}`);
  }
  throw err;
}

/** `generate` with --batch, --write-requests, --ingest or --estimate: a thin layer over the library. */
export async function runBatchCommand(c: BatchCommandContext): Promise<number> {
  return runMode(c).catch(asFlags);
}

async function runMode(c: BatchCommandContext): Promise<number> {
  const v = c.flags;
  const json = v.json === true;
  const print = (text: string, data: unknown) => process.stdout.write((json ? JSON.stringify(data) : text) + '\n');
  const teacher = requireBatchable(c.teacher, `--${c.mode === 'cancel' ? 'batch --cancel' : c.mode}`);
  const prices = pricingFromFlags(v);
  const common = { teacher, problems: c.problems, mode: c.teacherMode, samplesPerProblem: c.samples, ...(c.temperature === undefined ? {} : { temperature: c.temperature }) };
  const maxCost = numberFlag(v, 'max-cost');

  if (c.mode === 'estimate') {
    const e = await estimateGeneration({ ...common, ...(c.out ? { out: c.out } : {}), ...(prices.live ? { livePricing: prices.live } : {}), ...(prices.batch ? { batchPricing: prices.batch } : {}) });
    print(estimateReport(e, c.out), e);
    return 0;
  }
  if (c.mode === 'write-requests') {
    const path = stringFlag(v, 'write-requests')!;
    const s = await writeBatchRequests({ ...common, path, ...(c.out ? { out: c.out } : {}) });
    print(`wrote ${s.requests} request lines to ${path}${c.out ? ` (${s.alreadyDone} samples already in ${c.out} left out)` : ''}\n` +
      `run them with: vllm run-batch -i ${path} -o results.jsonl --model ${teacher.model}; then: generate --ingest results.jsonl --out chains.jsonl (same flags)`, s);
    return 0;
  }
  const out = c.out!;
  if (c.mode === 'ingest') {
    const s = await ingestBatchResults({ ...common, results: stringFlag(v, 'ingest')!, out, ...(prices.batch ? { pricing: prices.batch } : {}) });
    print(ingestReport(s), s);
    return s.failed.length > 0 || s.unknown.length > 0 || s.truncatedTail ? 1 : 0;
  }
  if (c.mode === 'cancel') {
    const r = await cancelChainsBatch({ out, teacher });
    const text =
      r.status === 'none' ? `no batch is recorded for ${out}` :
      r.status === 'discarded' ? `discarded the plan recorded for ${out}: it was never submitted` :
      `cancel requested for batch ${r.batchId} (now ${r.status}); rerun generate --batch to collect what completed`;
    print(text, r);
    return 0;
  }
  if (maxCost !== undefined && !prices.batch) throw new CliUsageError('--max-cost needs --price-prompt and --price-completion (the cap is in USD)');
  const pollMs = intFlag(v, 'poll-ms', 1);
  const maxAttempts = intFlag(v, 'max-attempts', 1);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\nstopping; the batch goes on at the provider (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  let last = '';
  const onProgress = (p: BatchProgress) => {
    const line =
      p.phase === 'planned' ? `planned ${p.requests} requests` :
      p.phase === 'uploaded' ? `uploaded the request file` :
      p.phase === 'submitted' ? `submitted batch ${p.batchId}` :
      p.phase === 'waiting' ? `batch ${p.batchId}: ${p.status}, ${p.completed}/${p.requests} done, ${p.failed} failed` :
      p.phase === 'downloading' ? `downloading the results of batch ${p.batchId}` : `wrote the chains of batch ${p.batchId}`;
    if (line !== last) process.stderr.write(line + '\n');
    last = line;
  };
  try {
    const s = await generateChainsBatch({
      ...common, out, signal: controller.signal, onProgress,
      ...(prices.batch ? { pricing: prices.batch } : {}),
      ...(maxCost === undefined ? {} : { maxCostUSD: maxCost }),
      ...(maxAttempts === undefined ? {} : { retry: { maxAttempts } }),
      ...(pollMs === undefined ? {} : { poll: { firstDelayMs: pollMs, maxDelayMs: Math.max(pollMs, Math.min(120_000, 12 * pollMs)) } }),
    });
    print(batchReport(s), s);
    return s.aborted ? 130 : s.missing > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `--max-cost` for a live run: refuse before the first request when the bound for one reply per request exceeds it. */
export async function checkLiveCost(teacher: TeacherClient, problems: readonly Problem[], options: { out: string; mode: TeacherMode; samples: number; maxCost: number; flags: Record<string, unknown> }): Promise<void> {
  const t = requireBatchable(teacher, '--max-cost');
  const { live } = pricingFromFlags(options.flags);
  if (!live) throw new CliUsageError('--max-cost needs --price-prompt and --price-completion (the cap is in USD)');
  const e = await estimateGeneration({ teacher: t, problems, mode: options.mode, samplesPerProblem: options.samples, out: options.out, livePricing: live });
  if (e.live!.upperBoundUSD > options.maxCost) {
    throw new CostLimitError(options.maxCost, e.live!.upperBoundUSD, `${e.requests} requests: ${e.promptTokens} prompt tokens + at most ${e.completionTokensUpperBound} completion tokens, at ${perMillion(e.live!.pricing)}`);
  }
}
