import { OrreryError } from '../../../core/errors.ts';

/** Backtest parameters (θ, costs, legs, sessions …) the engine cannot work with. */
export const BT_PARAMS_INVALID = 'BT_PARAMS_INVALID';
/** Input series the engine cannot work with (lengths, order of time stamps). */
export const BT_INPUT_INVALID = 'BT_INPUT_INVALID';
/** The pair asked for is not in universe.yaml. */
export const BT_PAIR_UNKNOWN = 'BT_PAIR_UNKNOWN';
/** A leg quotes in another currency than the account and no conversion rate series was given. */
export const BT_FX_MISSING = 'BT_FX_MISSING';

export function invalidParams(message: string, details: Record<string, unknown> = {}): never {
  throw new OrreryError(BT_PARAMS_INVALID, message, details);
}

export function invalidInput(message: string, details: Record<string, unknown> = {}): never {
  throw new OrreryError(BT_INPUT_INVALID, message, details);
}
