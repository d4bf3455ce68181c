/**
 * Paired comparisons of two arms over the same seeds. A verdict comes only from the
 * 95% confidence interval of the mean per-seed difference, never from the sign of a mean.
 */

export type ComparisonVerdict = 'ahead' | 'behind' | 'tie within noise' | 'no verdict';

export interface PairedComparison {
  /** Arm whose accuracy is A in A − B. */
  a: string;
  b: string;
  seeds: number[];
  /** A − B per seed, in accuracy units (0..1), in `seeds` order. */
  diffs: number[];
  mean: number;
  /** Sample standard deviation of the differences. */
  sd: number;
  /** 95% CI of the mean difference (Student t, n − 1 degrees of freedom); null with fewer than 2 seeds. */
  ci: [number, number] | null;
  /** How many seeds A won, lost and tied. */
  wins: number;
  losses: number;
  /** A relative to B. */
  verdict: ComparisonVerdict;
}

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
/** Beyond 30: tabulated points (df, t), interpolated linearly in 1/df; the limit is the normal 1.960. */
const T975_TAIL: ReadonlyArray<[number, number]> = [[30, 2.042], [40, 2.021], [60, 2.0], [120, 1.98], [Infinity, 1.96]];

/** t such that P(|T| < t) = 0.95 for `df` degrees of freedom. */
export function tCritical95(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a positive integer, got ${df}`);
  if (df <= 30) return T975[df - 1]!;
  for (let i = 1; i < T975_TAIL.length; i++) {
    const [d0, t0] = T975_TAIL[i - 1]!;
    const [d1, t1] = T975_TAIL[i]!;
    if (df <= d1) {
      const x = (1 / d0 - 1 / df) / (1 / d0 - 1 / d1);
      return t0 + x * (t1 - t0);
    }
  }
  return 1.96;
}

/**
 * Pair two arms' per-seed accuracies by seed. Seeds present in only one arm are left out,
 * so the comparison is always on the same seeds.
 */
export function pairedComparison(a: { name: string; bySeed: ReadonlyMap<number, number> }, b: { name: string; bySeed: ReadonlyMap<number, number> }): PairedComparison {
  const seeds = [...a.bySeed.keys()].filter((s) => b.bySeed.has(s)).sort((x, y) => x - y);
  const diffs = seeds.map((s) => a.bySeed.get(s)! - b.bySeed.get(s)!);
  const n = diffs.length;
  const mean = n ? diffs.reduce((x, y) => x + y, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(diffs.reduce((x, d) => x + (d - mean) ** 2, 0) / (n - 1)) : NaN;
  const half = n > 1 ? tCritical95(n - 1) * (sd / Math.sqrt(n)) : NaN;
  const ci: [number, number] | null = n > 1 ? [mean - half, mean + half] : null;
  return {
    a: a.name,
    b: b.name,
    seeds,
    diffs,
    mean,
    sd,
    ci,
    wins: diffs.filter((d) => d > 0).length,
    losses: diffs.filter((d) => d < 0).length,
    verdict: exactAgreement(sd, mean) ? 'no verdict' : verdictOf(ci),
  };
}

/**
 * Every seed gave exactly the same nonzero difference (on a few seeds with finite test sets this happens by
 * chance): the t interval then has zero width, which says nothing about the noise, so no verdict is drawn from it.
 */
function exactAgreement(sd: number, mean: number): boolean {
  return sd <= 1e-12 && Math.abs(mean) > 1e-12;
}

export function verdictOf(ci: readonly [number, number] | null): ComparisonVerdict {
  if (!ci) return 'no verdict';
  if (ci[0] > 0) return 'ahead';
  if (ci[1] < 0) return 'behind';
  return 'tie within noise';
}

const points = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;

/** One plain sentence, e.g. `Unified vs CoT: +0.2 points (95% CI −4.2 to +4.6, 20 seeds): tie within noise.` */
export function describeComparison(c: PairedComparison): string {
  if (!c.ci) return `${c.a} vs ${c.b}: ${Number.isFinite(c.mean) ? points(c.mean) : 'n/a'} points on ${c.seeds.length} seed(s): no verdict (a 95% CI needs at least 2 seeds).`;
  if (exactAgreement(c.sd, c.mean))
    return `${c.a} vs ${c.b}: ${points(c.mean)} points on every one of ${c.seeds.length} paired seeds: no verdict (identical differences give a zero-width interval; run more seeds).`;
  return `${c.a} vs ${c.b}: ${points(c.mean)} points (95% CI ${points(c.ci[0])} to ${points(c.ci[1])}, ${c.seeds.length} paired seeds, ${c.wins} won / ${c.losses} lost): ${c.a} is ${c.verdict === 'tie within noise' ? 'tied within noise' : c.verdict}.`;
}
