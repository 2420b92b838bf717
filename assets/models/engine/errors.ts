import { OrreryError } from '../../../core/errors.ts';

/** Thrown for parameters, inputs or a serialised model the model engine cannot work with. */
export const MODEL_INVALID = 'ML_MODEL_INVALID';

export function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new OrreryError(MODEL_INVALID, message, details);
}
