import type { TokenUsage } from './data/schema.js';

/**
 * Every error the library throws on purpose derives from SocraticDistillError,
 * so callers can `instanceof`-check one class and still read a typed `code`.
 */
export class SocraticDistillError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A requested backend (tfjs-node-gpu, wasm, native addon, CUDA) cannot be used here. */
export class BackendUnavailableError extends SocraticDistillError {
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', message, options);
    this.backend = backend;
  }
}

/** What to do about a damaged weights file; Node and the browser give the same one. */
export const SAFETENSORS_HINT = 'the file is damaged or incomplete: write it again (rerun the training or save() that wrote it) or copy or download it again';

/**
 * A safetensors file is malformed, truncated or hostile. One code (`SAFETENSORS_INVALID`) and, for a file, one
 * hint (`hint`, also at the end of the message), whether it was read from disk in Node or fetched in a browser.
 */
export class SafetensorsError extends SocraticDistillError {
  readonly file: string | undefined;
  /** What to do about it; set when the error is about a file (not about tensors being written). */
  readonly hint: string | undefined;
  constructor(message: string, file?: string, options?: { cause?: unknown }) {
    super('SAFETENSORS_INVALID', file ? `${file}: ${message}; ${SAFETENSORS_HINT}` : message, options);
    this.file = file;
    this.hint = file ? SAFETENSORS_HINT : undefined;
  }
}

/** A model config or checkpoint directory does not describe a model this library can build (GPT-2 or a Llama-family architecture). */
export class ModelConfigError extends SocraticDistillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_CONFIG_INVALID', message, options);
  }
}

/** Inputs to forward/train/generate have inconsistent shapes or out-of-range ids. */
export class ShapeError extends SocraticDistillError {
  constructor(message: string) {
    super('SHAPE_MISMATCH', message);
  }
}

/** The loss or gradient norm became NaN/Inf; the weights were left untouched. */
export class NonFiniteLossError extends SocraticDistillError {
  readonly step: number;
  readonly value: number;
  constructor(step: number, value: number, what = 'loss') {
    super(
      'NON_FINITE_LOSS',
      `${what} became ${value} at step ${step}; the update was skipped and the weights are unchanged. ` +
        'Lower the learning rate, enable gradient clipping, or check the batch for empty label masks.',
    );
    this.step = step;
    this.value = value;
  }
}

/** Training or evaluation data cannot be turned into examples (missing problem, empty completion, too long). */
export class TrainingDataError extends SocraticDistillError {
  constructor(message: string) {
    super('TRAINING_DATA_INVALID', message);
  }
}

/** A student or trainer checkpoint directory is missing files or was written by an incompatible setup. */
export class CheckpointError extends SocraticDistillError {
  readonly dir: string;
  constructor(dir: string, message: string, options?: { cause?: unknown }) {
    super('CHECKPOINT_INVALID', `${dir}: ${message}`, options);
    this.dir = dir;
  }
}

/**
 * A LoRA student's base model (the frozen weights its adapters were trained over) is not where its student.json says,
 * e.g. the base directory was moved or deleted, or the student was copied to another machine. `basePath` is the path
 * the manifest records (or the one given); `how` says how to point at the base.
 */
export class BaseModelMissingError extends SocraticDistillError {
  readonly dir: string;
  readonly basePath: string;
  constructor(dir: string, basePath: string, how: string) {
    super('BASE_MODEL_MISSING', `${dir}: the LoRA student's base model ${basePath} is not there (moved or deleted?); ${how}`);
    this.dir = dir;
    this.basePath = basePath;
  }
}

/** One bad row of a data file: where it is and what is wrong with it. */
export interface DatasetFormatIssue {
  line: number | undefined;
  path: string | undefined;
  /** What is wrong, without the file and line. */
  reason: string;
}

/** How many bad rows one error lists; the rest are counted. */
export const MAX_LISTED_ISSUES = 10;

/**
 * A data file (dataset, chains, user JSONL) has rows that do not match the schema. Every bad row of the file is
 * reported at once (the first MAX_LISTED_ISSUES listed, one per line of the message, the rest counted), so a file
 * can be fixed in one pass; `line` and `path` are the first one's.
 */
export class DatasetFormatError extends SocraticDistillError {
  readonly file: string;
  /** 1-based line (JSONL) or array index + 1 (JSON arrays); undefined when the whole file is bad. */
  readonly line: number | undefined;
  /** The zod path of the offending field, e.g. `answer` or `steps.2.subquestion`. */
  readonly path: string | undefined;
  /** Every bad row listed (at most MAX_LISTED_ISSUES); one entry for a single bad row. */
  readonly issues: readonly DatasetFormatIssue[];
  /** How many rows are bad in all (more than `issues.length` when some were not listed). */
  readonly badRows: number;
  constructor(
    file: string,
    line: number | undefined,
    message: string,
    path?: string,
    options?: { cause?: unknown; issues?: readonly DatasetFormatIssue[]; badRows?: number },
  ) {
    const issues = options?.issues ?? [{ line, path, reason: message }];
    const badRows = options?.badRows ?? issues.length;
    const one = (i: DatasetFormatIssue) => `${i.line === undefined ? file : `${file}:${i.line}`}: ${i.path ? `${i.path}: ` : ''}${i.reason}`;
    const text =
      badRows <= 1
        ? one({ line, path, reason: message })
        : [
            `${file}: ${badRows} bad rows${badRows > issues.length ? ` (the first ${issues.length} listed)` : ''}; fix them all, then run again:`,
            ...issues.map((i) => `  ${one(i)}`),
          ].join('\n');
    super('DATASET_FORMAT', text, { cause: options?.cause });
    this.file = file;
    this.line = line;
    this.path = path;
    this.issues = issues;
    this.badRows = badRows;
  }

  /** One error for all the bad rows of `file` (each error one row's), or the single error itself. */
  static ofRows(file: string, errors: readonly DatasetFormatError[]): DatasetFormatError {
    if (errors.length === 1) return errors[0]!;
    const issues = errors.slice(0, MAX_LISTED_ISSUES).flatMap((e) => e.issues);
    const first = errors[0]!;
    return new DatasetFormatError(file, first.line, first.issues[0]!.reason, first.path, { issues, badRows: errors.length, cause: first });
  }
}

/**
 * A teacher request failed. `retryable` failures (429, 5xx, timeouts, dropped connections, torn bodies)
 * are retried with backoff; `off-format` answers are re-sampled a few times, then recorded as failures.
 */
export class TeacherError extends SocraticDistillError {
  readonly kind: 'rate-limit' | 'server' | 'timeout' | 'connection' | 'bad-response' | 'off-format' | 'client' | 'aborted';
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  /** Tokens the provider billed for replies this failed call received anyway (e.g. an off-format answer). */
  readonly usage: TokenUsage | undefined;
  constructor(
    kind: TeacherError['kind'],
    message: string,
    opts: { retryable: boolean; retryAfterMs?: number; status?: number; usage?: TokenUsage; cause?: unknown },
  ) {
    super('TEACHER_FAILED', message, { cause: opts.cause });
    this.kind = kind;
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
    this.usage = opts.usage;
  }

  /** The same error, also carrying the usage of replies received before it (they are billed all the same). */
  withUsage(usage: TokenUsage): TeacherError {
    const opts = { retryable: this.retryable, usage, cause: this.cause };
    // Not `new TeacherError`: a class that names itself is renamed `_TeacherError` by the bundler, and `name` with it.
    const Same = this.constructor as typeof TeacherError;
    return new Same(this.kind, this.message, {
      ...opts,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      ...(this.status === undefined ? {} : { status: this.status }),
    });
  }
}

/**
 * A teacher cannot work on these problems at all (e.g. SimulatedTeacher on problems without gold steps), found
 * before the first problem is asked. `works` lists the built-in teachers that can; the CLI words it as flags.
 */
export class TeacherUnsuitableError extends SocraticDistillError {
  /** Adapter id of the teacher, e.g. `simulated`. */
  readonly teacher: string;
  readonly dataset: string;
  readonly mode: 'socratic' | 'cot';
  /** What the problems lack, e.g. `gold-steps`. */
  readonly need: string;
  /** How many of `total` problems lack it, and the first of them. */
  readonly lacking: number;
  readonly total: number;
  readonly firstLacking: string;
  /** Built-in teachers that can answer every problem here, by id and class name. */
  readonly works: ReadonlyArray<{ id: string; className: string }>;
  constructor(o: {
    teacher: string; teacherName: string; dataset: string; mode: 'socratic' | 'cot'; need: string; needLabel: string;
    lacking: number; total: number; firstLacking: string; works: ReadonlyArray<{ id: string; className: string }>;
  }) {
    const which = o.lacking === o.total ? `none of the ${o.total} problems has them` : `${o.lacking} of ${o.total} problems have none (first: ${o.firstLacking})`;
    const use = o.works.length > 0 ? `use ${o.works.map((w) => w.className).join(' or ')} there` : 'no built-in teacher works there; write a TeacherClient';
    super('TEACHER_UNSUITABLE', `${o.teacherName} cannot work on dataset '${o.dataset}' (${o.mode} mode): it needs ${o.needLabel} and ${which}; ${use}`);
    this.teacher = o.teacher;
    this.dataset = o.dataset;
    this.mode = o.mode;
    this.need = o.need;
    this.lacking = o.lacking;
    this.total = o.total;
    this.firstLacking = o.firstLacking;
    this.works = o.works;
  }
}

/** An arithmetic expression could not be parsed by the safe evaluator (never eval). */
export class ExpressionError extends SocraticDistillError {
  constructor(message: string) {
    super('EXPRESSION_INVALID', message);
  }
}

/** A model file could not be fetched over HTTP (browser build): bad URL, HTTP error status, or network failure. */
export class ModelFetchError extends SocraticDistillError {
  readonly url: string;
  /** HTTP status when the server answered, undefined for network errors. */
  readonly status: number | undefined;
  constructor(url: string, message: string, options?: { status?: number; cause?: unknown }) {
    super('MODEL_FETCH_FAILED', `${url}: ${message}`, { cause: options?.cause });
    this.url = url;
    this.status = options?.status;
  }
}

/**
 * An option passed to a library function has a value it cannot use. The message names the option as the API
 * spells it; `option` and `requirement` let a front end (the CLI) say the same in its own words.
 */
export class InvalidOptionError extends SocraticDistillError {
  /** The option's name in the API, e.g. `split` or `limit`. */
  readonly option: string;
  /** What the value must be, e.g. `must be at least 1, got 0`. */
  readonly requirement: string;
  constructor(option: string, requirement: string) {
    super('INVALID_OPTION', `option '${option}' ${requirement}`);
    this.option = option;
    this.requirement = requirement;
  }
}

/**
 * A feature needs an optional peer dependency (the `openai` SDK, `vega` + `vega-lite` for charts) that is
 * not installed. `packages` lists what to install; the message gives the npm command.
 */
export class OptionalDependencyError extends SocraticDistillError {
  readonly packages: readonly string[];
  /** What needs them, e.g. `OpenAICompatibleTeacher`. */
  readonly feature: string;
  constructor(packages: readonly string[], feature: string, options?: { cause?: unknown }) {
    const names = packages.map((p) => `'${p}'`).join(' and ');
    const plural = packages.length > 1;
    super(
      'OPTIONAL_DEPENDENCY_MISSING',
      `${feature} needs the optional package${plural ? 's' : ''} ${names}, which ${plural ? 'are' : 'is'} not installed; install ${plural ? 'them' : 'it'} with: npm install ${packages.join(' ')}`,
      options,
    );
    this.packages = packages;
    this.feature = feature;
  }
}


/** Another generate run is already appending to the same chains file. */
export class OutputLockedError extends SocraticDistillError {
  readonly pid: number;
  constructor(out: string, pid: number) {
    super('OUTPUT_LOCKED', `${out} is being written by another generate run (pid ${pid}); wait for it or stop it first`);
    this.pid = pid;
  }
}

/**
 * The provider failed a whole batch (typically: its request file did not pass validation). Nothing in it ran and
 * nothing was billed; `errors` are the provider's own messages, with the input line each one is about.
 */
export class BatchFailedError extends SocraticDistillError {
  readonly batchId: string;
  readonly errors: readonly { code?: string; message: string; line?: number }[];
  constructor(batchId: string, errors: readonly { code?: string; message: string; line?: number }[]) {
    const first = errors[0];
    const what = first ? `${first.code ? `${first.code}: ` : ''}${first.message}${first.line === undefined ? '' : ` (request line ${first.line})`}` : 'the provider gave no reason';
    super('BATCH_FAILED', `batch ${batchId} failed: ${what}${errors.length > 1 ? ` (and ${errors.length - 1} more errors)` : ''}`);
    this.batchId = batchId;
    this.errors = errors;
  }
}

/** The work asked for could cost more than the cap the caller set. Nothing was sent. */
export class CostLimitError extends SocraticDistillError {
  readonly limitUSD: number;
  /** The cost if every reply used all of `max_tokens`, at the price that applies. */
  readonly upperBoundUSD: number;
  constructor(limitUSD: number, upperBoundUSD: number, detail: string) {
    super('COST_LIMIT', `the work could cost up to $${upperBoundUSD.toFixed(4)}, above the cap of $${limitUSD.toFixed(4)} (${detail}); nothing was sent`);
    this.limitUSD = limitUSD;
    this.upperBoundUSD = upperBoundUSD;
  }
}
