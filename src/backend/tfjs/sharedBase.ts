import { tf } from './runtime.js';
import type { ParamTensors } from './trunk.js';

/**
 * The frozen base of one or more LoRA cores (TfjsCore.withAdapter): the device tensors and the head's transposed
 * copy, held once however many cores adapt them. Each core holds it from creation to dispose(); the last release
 * frees the tensors, whichever core goes last. Never written after creation, so no core sees another's writes.
 *
 * memory() counts the base in one core only, the longest-lived holder still alive (the first in `holders`), so the
 * figures of all the cores over it add up to what is held, before and after any of them is disposed.
 */
export class SharedBase {
  private readonly holders: object[] = [];
  /** The head weight transposed [C, V] (what every head matmul wants), made on first use; frozen like the rest. */
  private headTransposed: tf.Tensor2D | null = null;

  constructor(
    readonly tensors: ParamTensors,
    private readonly headName: string,
  ) {}

  acquire(holder: object): void {
    this.holders.push(holder);
  }

  /** Drops `holder`; the last one out frees the tensors. */
  release(holder: object): void {
    const i = this.holders.indexOf(holder);
    if (i < 0) return;
    this.holders.splice(i, 1);
    if (this.holders.length > 0) return;
    this.headTransposed?.dispose();
    this.headTransposed = null;
    tf.dispose([...this.tensors.values()]);
    this.tensors.clear();
  }

  /** How many cores hold this base. */
  get users(): number {
    return this.holders.length;
  }

  /** Whether `holder`'s memory() reports this base (exactly one live holder does). */
  countedBy(holder: object): boolean {
    return this.holders[0] === holder;
  }

  headW(): tf.Tensor2D {
    return this.tensors.get(this.headName) as tf.Tensor2D;
  }

  headT(): tf.Tensor2D {
    if (!this.headTransposed) this.headTransposed = tf.keep(tf.transpose(this.headW()));
    return this.headTransposed;
  }

  bytes(): number {
    let n = this.headTransposed ? this.headTransposed.size : 0;
    for (const t of this.tensors.values()) n += t.size;
    return 4 * n;
  }
}
