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

/** A safetensors file is malformed, truncated or hostile. */
export class SafetensorsError extends SocraticDistillError {
  readonly file: string | undefined;
  constructor(message: string, file?: string, options?: { cause?: unknown }) {
    super('SAFETENSORS_INVALID', file ? `${file}: ${message}` : message, options);
    this.file = file;
  }
}

/** A model config or checkpoint directory does not describe a usable GPT-2. */
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
