import { expect } from 'vitest';
import { OrreryError } from '../../core/errors.ts';

/** The OrreryError a promise rejects with; fails the test when it resolves or throws anything else. */
export async function caught(p: Promise<unknown>): Promise<OrreryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(OrreryError);
    return e as OrreryError;
  }
  throw new Error('expected a rejection');
}
