/**
 * The ids of the demo's arms, apart from their implementations (./arms.ts) so that code which only
 * names arms (config, the browser example's settings) never pulls the students into a bundle.
 */
export const ARM_IDS = [
  'answer-only', 'cot', 'unified', 'iterative', 'iterative-per-step', 'iterative-half', 'iterative-per-step-half', 'iterative-shared',
  'wrong-locality',
] as const;
export type ArmId = (typeof ARM_IDS)[number];

/** The paper's four arms. */
export const DEFAULT_ARMS: readonly ArmId[] = ['answer-only', 'cot', 'unified', 'iterative'];

export function isArmId(id: string): id is ArmId {
  return (ARM_IDS as readonly string[]).includes(id);
}
