/** Linear warmup to `peak`, then cosine decay to `peak * minRatio` at `totalSteps`. `step` is 0-based. */
export function warmupCosineLr(step: number, opts: { peak: number; warmupSteps: number; totalSteps: number; minRatio?: number }): number {
  const { peak, warmupSteps, totalSteps } = opts;
  const minRatio = opts.minRatio ?? 0.1;
  if (warmupSteps > 0 && step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / span));
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
