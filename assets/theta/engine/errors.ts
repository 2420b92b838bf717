import { OrreryError } from '../../../core/errors.ts';

/** Thrown for settings, ranges or evaluations the θ1/θ2 optimisation engine cannot work with. */
export const THETA_INVALID = 'ML_THETA_INVALID';

export function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new OrreryError(THETA_INVALID, message, details);
}
