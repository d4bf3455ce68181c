/** A named float32 tensor, row-major. Weights use HF GPT-2 names and Conv1D [in, out] layout. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** Ordered map from HF parameter name (e.g. `transformer.h.0.attn.c_attn.weight`) to tensor. */
export type NamedTensors = Map<string, NamedTensor>;
