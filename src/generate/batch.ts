import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import type { Problem, TokenUsage } from '../data/schema.js';
import { BatchFailedError, CostLimitError, DatasetFormatError, InvalidOptionError, OptionalDependencyError, TeacherError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { parseJsonl } from '../io/jsonl.js';
import { FINAL_BATCH_STATUSES, type BatchableTeacher, type BatchJob, type BatchJobStatus, type BatchProvider } from '../teacher/batch.js';
import type { TeacherMode } from '../teacher/types.js';
import { BatchRequestLineSchema, BatchResultLineSchema, batchCustomId, planBatchRequests, requestFileText, type BatchLineFailure } from './batch-lines.js';
import { appendChains, collectResults, readDoneKeys, writeFailures, type NumberedResult, type UnknownResult } from './batch-results.js';
import { batchRequestPath, batchStatePath, readBatchState, writeBatchState, type BatchJobRecord, type BatchState } from './batch-state.js';
import { estimatePlan } from './estimate.js';
import { lockOutput } from './lock.js';
import type { RetryPolicy } from './runner.js';
import { costOf, sumUsage, type Pricing, type PricingWithSource } from './usage.js';
import { abortableSleep } from '../util/sleep.js';

/** Local and provider clocks may disagree: look this far back for an upload or batch a killed run made. */
const CLOCK_SKEW_S = 600;
/** The OpenAI Batch API takes at most 50,000 requests and 200 MB per input file; stay a little under the size. */
const MAX_REQUESTS_PER_BATCH = 50_000;
const MAX_BYTES_PER_BATCH = 190 * 1024 * 1024;

export interface BatchPollOptions {
  /** First wait between status checks. Default 10 000 ms; each wait is 1.5 times the last. */
  firstDelayMs?: number;
  /** Longest wait between status checks. Default 120 000 ms. */
  maxDelayMs?: number;
}

export interface BatchProgress {
  /** planned: request file written; uploaded; submitted; waiting: a status check; downloading; ingested: chains written. */
  phase: 'planned' | 'uploaded' | 'submitted' | 'waiting' | 'downloading' | 'ingested';
  batchId: string | undefined;
  status: BatchJobStatus | undefined;
  requests: number;
  /** From the provider's request_counts. */
  completed: number;
  failed: number;
}

export interface GenerateBatchOptions {
  teacher: BatchableTeacher;
  /** The files and batches endpoints. Default: `teacher.batchProvider()` (OpenAICompatibleTeacher has one). */
  provider?: BatchProvider;
  problems: readonly Problem[];
  /** Append-only chains file; the batch is recorded next to it (`<out>.batch.json`) and resumed from there. */
  out: string;
  mode?: TeacherMode;
  samplesPerProblem?: number;
  temperature?: number;
  /** Stops waiting (or uploading, downloading); the batch goes on at the provider and the next run resumes it. */
  signal?: AbortSignal;
  onProgress?: (p: BatchProgress) => void;
  /** For the provider calls (upload, submit, status, download): attempts and backoff on retryable failures. */
  retry?: Pick<RetryPolicy, 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs'>;
  poll?: BatchPollOptions;
  /** Batch prices (the OpenAI Batch API bills half the live price: `batchPricing(live)`). */
  pricing?: Pricing | PricingWithSource;
  /** Refuse to submit a batch whose cost, if every reply used all of `max_tokens`, would exceed this. Needs `pricing`. */
  maxCostUSD?: number;
  /** Default `<out>.failures.json`. */
  failuresPath?: string;
  /**
   * A batch holds at most this many request lines (default 50 000, the OpenAI limit); the samples beyond it are
   * `missing` in the summary and the next run submits them.
   */
  maxRequestsPerBatch?: number;
  /** And at most this many bytes of request lines (default 190 MiB, under the OpenAI limit of 200 MB). */
  maxBytesPerBatch?: number;
}

export interface GenerateBatchSummary {
  out: string;
  failuresPath: string;
  statePath: string;
  batchId: string | undefined;
  /** The batch's last status; undefined when there was nothing to send. */
  status: BatchJobStatus | undefined;
  /** True when this run took up a batch an earlier run recorded, instead of submitting one. */
  resumed: boolean;
  total: number;
  samplesPerProblem: number;
  /** Request lines in the batch (0 when every sample was already done). */
  requests: number;
  counts: { total: number; completed: number; failed: number } | undefined;
  chainsWritten: number;
  /** Result lines for samples already in the chains file (a run killed while writing them). */
  duplicates: number;
  failed: BatchLineFailure[];
  unknown: UnknownResult[];
  /** Requests of the batch with no result line at all (an expired or cancelled batch may leave them out). */
  unanswered: number;
  /** (problem, sample) pairs still without a chain: the next run submits exactly these. */
  missing: number;
  /** Tokens billed for the batch this run read: every response body's usage, counted once per batch. */
  usage: TokenUsage;
  /** Every batch ever read into this chains file (the state's history). */
  usageAllBatches: TokenUsage;
  pricing: PricingWithSource | undefined;
  costUSD: number | null;
  costAllBatchesUSD: number | null;
  aborted: boolean;
  repairedTruncatedBytes: number;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const nowSeconds = () => Math.floor(Date.now() / 1000);

function providerOf(teacher: BatchableTeacher, provider: BatchProvider | undefined): BatchProvider {
  if (provider) return provider;
  const withApi = teacher as BatchableTeacher & { batchProvider?: () => BatchProvider };
  if (typeof withApi.batchProvider === 'function') return withApi.batchProvider();
  throw new InvalidOptionError('provider', `is required: teacher '${teacher.id}' has no batchProvider()`);
}

function withSource(pricing: Pricing | PricingWithSource | undefined): PricingWithSource | undefined {
  return pricing && { promptPerMillion: pricing.promptPerMillion, completionPerMillion: pricing.completionPerMillion, source: 'source' in pricing ? pricing.source : 'given by the caller' };
}

/** Thrown inside a run when the signal fires; the run returns `aborted: true` instead. */
class Stopped extends Error {}

/**
 * Generate chains through a provider's Batch API, resumably by batch id. The run plans one request line per
 * missing (problem, sample) (`custom_id` = problem id + `#` + sample index, the body the live path sends),
 * uploads them, submits a batch and records each step next to `out` atomically; then it waits with back-off,
 * downloads the output and error files and writes chains exactly as `generateChains` does.
 *
 * Run it again with the same `out` to resume: it finds the recorded batch (or, after a kill between a call and
 * recording its answer, the upload or batch that call made) and never submits the same work twice.
 * Failed lines go to the failures file with their error, and the next run submits only the samples still missing
 * (failed, expired or cancelled ones). A batch the provider fails as a whole throws BatchFailedError with the
 * provider's messages. Usage is read from every response body and billed once per batch.
 */
export async function generateChainsBatch(options: GenerateBatchOptions): Promise<GenerateBatchSummary> {
  const seen = new Set<string>();
  for (const p of options.problems) {
    if (seen.has(p.id)) throw new DatasetFormatError('(problems)', undefined, `duplicate problem id '${p.id}'; each problem must appear once`, 'id');
    seen.add(p.id);
  }
  if (options.maxCostUSD !== undefined && !options.pricing) throw new InvalidOptionError('pricing', 'is required with maxCostUSD: the cap is in USD');
  const provider = providerOf(options.teacher, options.provider);
  const unlock = await lockOutput(options.out);
  try {
    return await new BatchRun(options, provider).run();
  } finally {
    await unlock();
  }
}

class BatchRun {
  private readonly out: string;
  private readonly mode: TeacherMode;
  private readonly samples: number;
  private readonly retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  private readonly failuresPath: string;
  private state!: BatchState;
  private job: BatchJobRecord | null = null;
  private batch: BatchJob | undefined;
  private resumed = false;
  /** Request lines of the batch this run works on. */
  private requests = 0;
  private doneKeys = new Set<string>();
  private repaired = 0;

  constructor(
    private readonly o: GenerateBatchOptions,
    private readonly provider: BatchProvider,
  ) {
    this.out = o.out;
    this.mode = o.mode ?? 'socratic';
    this.samples = o.samplesPerProblem ?? 1;
    const r = o.retry ?? {};
    this.retry = { maxAttempts: r.maxAttempts ?? 5, baseDelayMs: r.baseDelayMs ?? 1000, maxDelayMs: r.maxDelayMs ?? 30_000 };
    this.failuresPath = o.failuresPath ?? `${o.out}.failures.json`;
  }

  async run(): Promise<GenerateBatchSummary> {
    this.state = await readBatchState(this.out);
    const done = await readDoneKeys(this.out);
    this.doneKeys = done.keys;
    this.repaired = done.repairedTruncatedBytes;
    try {
      return await this.steps();
    } catch (err) {
      if (err instanceof Stopped || (this.o.signal?.aborted && err instanceof TeacherError)) return this.summary({ aborted: true });
      throw err;
    }
  }

  private async steps(): Promise<GenerateBatchSummary> {
    const { teacher } = this.o;
    this.job = this.state.current;
    this.requests = this.job?.requests ?? 0;
    if (this.job) {
      this.resumed = true;
      const j = this.job;
      // A plan that never reached the provider is made again (the chains file may have grown since).
      if (!j.inputFileId) {
        const found = await this.call(() => this.provider.findUpload(j.fileName, j.createdAt - CLOCK_SKEW_S, this.o.signal));
        if (found) await this.save({ ...j, inputFileId: found });
        else {
          await rm(j.requestFile, { force: true });
          await this.save(null);
          this.resumed = false;
          this.requests = 0;
        }
      }
    }
    // What reached the provider is resumed as it was sent: the chains must name the model and mode that answered.
    const j = this.job;
    if (j && (j.model !== teacher.model || j.mode !== this.mode || j.samplesPerProblem !== this.samples)) {
      throw new InvalidOptionError(
        'teacher',
        `must match the batch recorded in ${batchStatePath(this.out)} (model '${j.model}', mode ${j.mode}, ${j.samplesPerProblem} samples per problem): resume it with those, or cancel it first`,
      );
    }
    if (!this.job && !(await this.plan())) return this.summary({});
    const job = this.job!;
    if (!job.inputFileId) {
      const bytes = await readFile(job.requestFile);
      if (sha256(bytes) !== job.sha256) throw new DatasetFormatError(job.requestFile, undefined, `changed since it was planned (sha256 differs from ${batchStatePath(this.out)}); delete both to plan again`);
      // Before trying again, look for the upload a failed try may have made after all.
      const fileId = await this.call(async (attempt) =>
        (attempt > 1 ? await this.provider.findUpload(job.fileName, job.createdAt - CLOCK_SKEW_S, this.o.signal) : undefined) ??
        this.provider.uploadRequests(job.fileName, bytes, this.o.signal),
      );
      await this.save({ ...job, inputFileId: fileId });
      this.progress('uploaded');
    }
    if (!this.job!.batchId) {
      const inputFileId = this.job!.inputFileId!;
      // Always look first: a run killed right after the provider made the batch never recorded its id.
      const b = await this.call(async () =>
        (await this.provider.findBatch(inputFileId, job.createdAt - CLOCK_SKEW_S, this.o.signal)) ??
        this.provider.createBatch(inputFileId, { socratic_distill_run: job.token }, this.o.signal),
      );
      this.batch = b;
      await this.save({ ...this.job!, batchId: b.id, status: b.status });
      this.progress('submitted');
    }
    await this.waitForBatch();
    return this.ingest();
  }

  /** Write the request file and record the plan; false when every sample is already done. */
  private async plan(): Promise<boolean> {
    const { teacher } = this.o;
    const all = planBatchRequests({
      teacher, problems: this.o.problems, mode: this.mode, samplesPerProblem: this.samples,
      ...(this.o.temperature === undefined ? {} : { temperature: this.o.temperature }),
      skip: (id, i) => this.doneKeys.has(batchCustomId(id, i)),
    });
    // The provider's limits per batch: the rest waits for the next run.
    const maxRequests = this.o.maxRequestsPerBatch ?? MAX_REQUESTS_PER_BATCH;
    const maxBytes = this.o.maxBytesPerBatch ?? MAX_BYTES_PER_BATCH;
    const plan: typeof all = [];
    let size = 0;
    for (const p of all.slice(0, maxRequests)) {
      size += Buffer.byteLength(JSON.stringify(p.line)) + 1;
      if (size > maxBytes && plan.length > 0) break;
      plan.push(p);
    }
    if (plan.length === 0) return false;
    if (this.o.maxCostUSD !== undefined) {
      const est = await estimatePlan(plan, teacher, { batch: this.o.pricing });
      const p = est.batch!;
      if (p.upperBoundUSD > this.o.maxCostUSD) {
        throw new CostLimitError(
          this.o.maxCostUSD,
          p.upperBoundUSD,
          `${plan.length} requests: ${est.promptTokens} prompt tokens (${est.counting.exact ? est.counting.encoding : `approximate, ${est.counting.encoding}`}) + at most ${est.completionTokensUpperBound} completion tokens, at $${p.pricing.promptPerMillion}/$${p.pricing.completionPerMillion} per million (${p.pricing.source})`,
        );
      }
    }
    const bytes = Buffer.from(requestFileText(plan));
    const token = randomBytes(8).toString('hex');
    const requestFile = batchRequestPath(this.out);
    await writeFileAtomic(requestFile, bytes);
    await this.save({
      token, fileName: `socratic-distill-${token}.jsonl`, requestFile, requests: plan.length, sha256: sha256(bytes),
      model: teacher.model, mode: this.mode, samplesPerProblem: this.samples, createdAt: nowSeconds(),
    });
    this.progress('planned');
    return true;
  }

  private async waitForBatch(): Promise<void> {
    const id = this.job!.batchId!;
    let delay = this.o.poll?.firstDelayMs ?? 10_000;
    const maxDelay = Math.max(delay, this.o.poll?.maxDelayMs ?? 120_000);
    for (;;) {
      this.batch = await this.call(() => this.provider.retrieveBatch(id, this.o.signal));
      if (this.batch.status !== this.job!.status) await this.save({ ...this.job!, status: this.batch.status });
      this.progress('waiting');
      if (FINAL_BATCH_STATUSES.includes(this.batch.status)) return;
      await abortableSleep(delay, this.o.signal);
      if (this.o.signal?.aborted) throw new Stopped();
      delay = Math.min(maxDelay, delay * 1.5);
    }
  }

  private async ingest(): Promise<GenerateBatchSummary> {
    const job = this.job!;
    const batch = this.batch!;
    if (batch.status === 'failed') {
      const errors = (batch.errors?.data ?? []).map((e) => ({
        ...(e.code ? { code: e.code } : {}),
        message: e.message ?? 'no message',
        ...(e.line === null || e.line === undefined ? {} : { line: e.line }),
      }));
      await this.finish({ chainsWritten: 0, failed: 0, usage: { promptTokens: 0, completionTokens: 0 } });
      throw new BatchFailedError(batch.id, errors);
    }
    this.progress('downloading');
    const results = await this.download(batch);
    const plan = new Map(planBatchRequests({ teacher: this.o.teacher, problems: this.o.problems, mode: job.mode, samplesPerProblem: job.samplesPerProblem }).map((p) => [p.customId, p]));
    const got = collectResults(this.o.teacher, job.mode, plan, results, this.doneKeys);
    await appendChains(this.out, got.chains);
    for (const c of got.chains) this.doneKeys.add(batchCustomId(c.problemId, c.teacher.sampleIndex));
    const failures = got.failures.map((f) => ({ ...f, reason: this.provider.redact(f.reason) }));
    await writeFailures(this.failuresPath, this.out, failures, (id) => this.doneKeys.has(id) || !plan.has(id));
    const requested = parseJsonl(await readFile(job.requestFile).catch(() => Buffer.alloc(0)), BatchRequestLineSchema.pick({ custom_id: true }), job.requestFile);
    const unanswered = requested.records.filter((r) => !got.answered.has(r.custom_id)).length;
    await this.finish({ chainsWritten: got.chains.length, failed: failures.length, usage: got.usageAll });
    this.progress('ingested');
    return this.summary({ chainsWritten: got.chains.length, duplicates: got.duplicates, failed: failures, unknown: got.unknown, unanswered, usage: got.usageAll });
  }

  /** The output and error files, whole: a torn download is fetched again, never half-ingested. */
  private async download(batch: BatchJob): Promise<NumberedResult[]> {
    const files = [batch.output_file_id, batch.error_file_id].filter((f): f is string => typeof f === 'string' && f.length > 0);
    let problem = '';
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      const results: NumberedResult[] = [];
      problem = '';
      for (const fileId of files) {
        const buf = await this.call(() => this.provider.downloadFile(fileId, this.o.signal));
        const parsed = parseJsonl(buf, BatchResultLineSchema, `file ${fileId} of batch ${batch.id}`);
        if (parsed.truncatedTail) {
          problem = `file ${fileId} ends mid-line at line ${parsed.truncatedTail.line}`;
          break;
        }
        results.push(...parsed.records.map((record, i) => ({ record, line: parsed.lineNumbers[i]!, file: fileId })));
      }
      const total = batch.request_counts?.total;
      if (!problem && batch.status === 'completed' && total !== undefined && results.length < total) problem = `${results.length} result lines for ${total} requests`;
      if (!problem) return results;
      if (attempt < this.retry.maxAttempts) await abortableSleep(this.backoff(attempt), this.o.signal);
      if (this.o.signal?.aborted) throw new Stopped();
    }
    throw new TeacherError('bad-response', `the results of batch ${batch.id} arrived incomplete ${this.retry.maxAttempts} times (${problem}); nothing was written, rerun to download them again`, { retryable: true });
  }

  /** Move the batch from `current` to `history` (once per batch id), and drop its request file. */
  private async finish(result: { chainsWritten: number; failed: number; usage: TokenUsage }): Promise<void> {
    const job = this.job!;
    const batch = this.batch!;
    const history = this.state.history.some((h) => h.batchId === batch.id)
      ? this.state.history
      : [...this.state.history, { batchId: batch.id, status: batch.status, requests: job.requests, ...result, finishedAt: new Date().toISOString() }];
    this.state = { ...this.state, history };
    await this.save(null);
    await rm(job.requestFile, { force: true });
  }

  private async save(job: BatchJobRecord | null): Promise<void> {
    this.state = { ...this.state, current: job };
    this.job = job;
    if (job) this.requests = job.requests;
    await writeBatchState(this.out, this.state);
  }

  private backoff(attempt: number): number {
    return Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
  }

  /** A provider call with the run's retry policy: retryable TeacherErrors are tried again after a backoff. */
  private async call<T>(fn: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.o.signal?.aborted) throw new Stopped();
      try {
        return await fn(attempt);
      } catch (err) {
        if (this.o.signal?.aborted) throw new Stopped();
        if (err instanceof OptionalDependencyError || !(err instanceof TeacherError) || !err.retryable || attempt >= this.retry.maxAttempts) throw err;
        await abortableSleep(err.retryAfterMs ?? this.backoff(attempt), this.o.signal);
      }
    }
  }

  private progress(phase: BatchProgress['phase']): void {
    const counts = this.batch?.request_counts;
    this.o.onProgress?.({
      phase,
      batchId: this.job?.batchId ?? this.batch?.id,
      status: this.batch?.status ?? this.job?.status,
      requests: this.requests,
      completed: counts?.completed ?? 0,
      failed: counts?.failed ?? 0,
    });
  }

  private summary(r: Partial<Pick<GenerateBatchSummary, 'chainsWritten' | 'duplicates' | 'failed' | 'unknown' | 'unanswered' | 'usage' | 'aborted'>>): GenerateBatchSummary {
    const usage = r.usage ?? { promptTokens: 0, completionTokens: 0 };
    const usageAllBatches = { promptTokens: 0, completionTokens: 0 };
    for (const h of this.state.history) sumUsage(usageAllBatches, h.usage);
    const pricing = withSource(this.o.pricing);
    const counts = this.batch?.request_counts ?? undefined;
    let missing = 0;
    for (const p of this.o.problems) for (let i = 0; i < this.samples; i++) if (!this.doneKeys.has(batchCustomId(p.id, i))) missing++;
    return {
      out: this.out,
      failuresPath: this.failuresPath,
      statePath: batchStatePath(this.out),
      batchId: this.batch?.id ?? this.job?.batchId,
      status: this.batch?.status ?? this.job?.status,
      resumed: this.resumed,
      total: this.o.problems.length,
      samplesPerProblem: this.samples,
      requests: this.requests,
      counts: counts ?? undefined,
      chainsWritten: r.chainsWritten ?? 0,
      duplicates: r.duplicates ?? 0,
      failed: r.failed ?? [],
      unknown: r.unknown ?? [],
      unanswered: r.unanswered ?? 0,
      missing,
      usage,
      usageAllBatches,
      pricing,
      costUSD: costOf(usage, pricing),
      costAllBatchesUSD: costOf(usageAllBatches, pricing),
      aborted: r.aborted ?? false,
      repairedTruncatedBytes: this.repaired,
    };
  }
}

export interface CancelBatchOptions {
  out: string;
  teacher?: BatchableTeacher;
  /** Default: `teacher.batchProvider()`. */
  provider?: BatchProvider;
  signal?: AbortSignal;
}

export interface CancelBatchResult {
  batchId: string | undefined;
  /**
   * The provider's status after the cancel request (`cancelling`, then `cancelled` with partial results that the
   * next `generateChainsBatch` collects); `discarded` when the recorded plan never became a batch; `none` when
   * nothing is recorded.
   */
  status: BatchJobStatus | 'discarded' | 'none';
}

/** Cancel the batch recorded next to `out`. What completed before the cancel is kept by the next run. */
export async function cancelChainsBatch(options: CancelBatchOptions): Promise<CancelBatchResult> {
  const { out, signal } = options;
  const state = await readBatchState(out);
  const job = state.current;
  if (!job) return { batchId: undefined, status: 'none' };
  const provider = options.provider ?? (options.teacher ? providerOf(options.teacher, undefined) : undefined);
  if (!provider) throw new InvalidOptionError('provider', 'or teacher is required to reach the batch');
  if (job.batchId) {
    // No lock: a run may be waiting on this batch right now; it sees the cancel in its next status check.
    const b = await provider.cancelBatch(job.batchId, signal);
    return { batchId: b.id, status: b.status };
  }
  const unlock = await lockOutput(out);
  try {
    const since = job.createdAt - CLOCK_SKEW_S;
    const fileId = job.inputFileId ?? (await provider.findUpload(job.fileName, since, signal));
    const made = fileId ? await provider.findBatch(fileId, since, signal) : undefined;
    if (made) {
      await writeBatchState(out, { ...state, current: { ...job, inputFileId: made.input_file_id, batchId: made.id, status: made.status } });
      const b = await provider.cancelBatch(made.id, signal);
      return { batchId: b.id, status: b.status };
    }
    await writeBatchState(out, { ...state, current: null });
    await rm(job.requestFile, { force: true });
    return { batchId: undefined, status: 'discarded' };
  } finally {
    await unlock();
  }
}
